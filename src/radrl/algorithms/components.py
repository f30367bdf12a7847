"""The components that change GRPO, registered by name like verl's ``register_policy_loss``.

A recipe names them in ``algorithm:``, one per slot; ``RadRLTrainer`` calls every component it
holds at the same three places and knows none of them by name:

=================  ======================  ==================================================
slot               base class              what the trainer asks of it
=================  ======================  ==================================================
``token_weights``  :class:`TokenWeights`   ``weights(ctx, rollouts)`` -> (B, T): A_i^t = A_i w_i^t
``clip``           :class:`ClipRange`      ``clip_ranges(ctx, rollouts, eps_low, eps_high)`` ->
                                           eps_low, eps_high: floats, (B,) or (B, T)
``aux_loss``       :class:`AuxiliaryLoss`  ``prepare(ctx, rollouts)`` after scoring (tensors for
                                           the loss), ``policy_loss_scale(batch)`` -> (B,)
                                           factor on the policy loss, ``loss(ctx, model, batch,
                                           per_token_logps, mask)`` -> a term added to it
=================  ======================  ==================================================

Built-in: ``tfidf`` and ``gradient`` (DEER's DiTPO, :mod:`radrl.algorithms.ditpo`), ``capo``
(RadFlow, :mod:`radrl.algorithms.capo`), ``orapo_dpo`` (OraPO, :mod:`radrl.algorithms.orapo`).
The policy loss itself and the advantage estimator are registries of their own
(``POLICY_LOSSES``, ``ADVANTAGES``). A component of your own::

    from radrl.algorithms import COMPONENTS, AuxiliaryLoss

    @COMPONENTS.register("entropy_bonus")
    class EntropyBonus(AuxiliaryLoss):
        def __init__(self, coef: float = 0.01):
            self.coef = coef
        def loss(self, ctx, model, batch, per_token_logps, mask):
            return self.coef * (per_token_logps * mask).sum() / mask.sum().clamp(min=1)

and ``algorithm: {aux_loss: {type: entropy_bonus, coef: 0.02}}`` in a recipe (or ``type:
my_pkg.module:EntropyBonus``, with no registration). A component declares the per-sample dataset
``columns`` it reads (``critical`` is written by the criticality stage), whether it needs the
frozen initial policy (``needs_reference_model``), the labelers it works with (``labelers``), and
its checkpoint state (``state_dict`` / ``load_state_dict``: saved in every checkpoint so
``--resume`` continues exactly).

Each call gets ``ctx``, a :class:`radrl.algorithms.context.ComponentContext` (the step's settings,
``log``, ``gather``, the policy's and the reference's log-probs of given completions), and the
step's :class:`radrl.algorithms.context.Rollouts`: never the trainer, so a component keeps
working when TRL or the trainer changes.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import torch

from radrl.algorithms.context import ComponentContext, Rollouts
from radrl.config.algorithm import SLOTS
from radrl.registry import Registry

COMPONENTS: Registry = Registry("algorithm component")


class Component:
    """What every component declares. Subclass one of the three slot classes below."""

    slot: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()
    """Per-sample dataset columns the component reads (the trainer refuses a dataset without them)."""
    column_stages: ClassVar[dict[str, str]] = {}
    """Column -> the ``radrl train`` stage that writes it (CAPO's ``critical``: ``criticality``); a
    recipe with the component runs that stage, one without it does not."""
    judge_modes: ClassVar[dict[str, Any]] = {}
    """Parameter values that ask the recipe's LLM judge (CAPO's ``judge: true``), as rewards declare."""
    needs_reference_model: ClassVar[bool] = False
    """The trainer keeps a frozen copy of the initial policy (or LoRA's disabled adapters) for it."""
    needs_labeler: ClassVar[bool] = False
    """``build_components`` passes the run's ``labeler`` and the policy's ``tokenizer``."""
    labelers: ClassVar[tuple[str, ...]] = ()
    """Labeler names it works with (empty: any); the recipe check refuses another."""
    resume_needs_state: ClassVar[bool] = False
    """A resumed run without this component's saved state is refused (it could not continue exactly)."""

    @classmethod
    def parameter_specs(cls) -> dict:
        """What a recipe may pass: the constructor's keyword parameters."""
        from radrl.config.fields import signature_specs

        return signature_specs(cls.__init__, skip=("self", "labeler", "tokenizer"))

    @classmethod
    def check_params(cls, **params) -> None:
        """Range checks when a recipe loads: build one from the recipe's parameters (no labeler)."""
        cls(**params)

    def setup(self, ctx: ComponentContext) -> None:
        """Called once when the trainer is built (check ``ctx.settings``, warn about inert ones)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        shown = {k: getattr(self, k) for k in params if k != "self" and hasattr(self, k)}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


class TokenWeights(Component):
    """Per-token weights of the advantages (DiTPO): ``(B, T)`` for this process's rows."""

    slot = "token_weights"

    def weights(self, ctx: ComponentContext, rollouts: Rollouts) -> torch.Tensor:
        raise NotImplementedError


class ClipRange(Component):
    """The clip range of the surrogate, per sample (CAPO) or per token: ``(eps_low, eps_high)``,
    each a float, (B,) or (B, T). Only policy losses whose ``clip`` is ``"range"`` take one."""

    slot = "clip"

    def clip_ranges(self, ctx: ComponentContext, rollouts: Rollouts, epsilon_low: float, epsilon_high: float):
        raise NotImplementedError


class AuxiliaryLoss(Component):
    """A loss term beside the policy loss (OraPO's DPO). ``prepare`` may add tensors to the
    scored batch; ``policy_loss_scale`` may scale each sample's policy loss; ``loss`` returns a
    scalar the trainer adds (divided by the gradient-accumulation steps, as the policy loss is)."""

    slot = "aux_loss"

    def prepare(self, ctx: ComponentContext, rollouts: Rollouts) -> None:
        """After the batch is scored: add what :meth:`loss` needs to ``rollouts.tensors`` (tensors
        with one row per completion are split with the batch)."""

    def policy_loss_scale(self, batch: dict[str, Any]) -> torch.Tensor | None:
        return None

    def loss(self, ctx: ComponentContext, model, batch: dict[str, Any], per_token_logps: torch.Tensor,
             mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def build_components(entries: dict, labeler=None, tokenizer=None) -> list[Component]:
    """Components from a recipe's ``algorithm`` entries (``{slot: ComponentEntry}``, as
    ``AlgorithmSection.entries()`` gives), the labeler and tokenizer handed to those that need them."""
    out = []
    for slot, entry in entries.items():
        cls = COMPONENTS.get(entry.type, field=slot)
        if cls.slot != slot:
            raise ValueError(f"{entry.type} is a {cls.slot} component, not a {slot} one")
        kwargs = dict(entry.params)
        if cls.needs_labeler:
            kwargs.update(labeler=labeler, tokenizer=tokenizer)
        out.append(cls(**kwargs))
    return out


__all__ = ["COMPONENTS", "SLOTS", "AuxiliaryLoss", "ClipRange", "Component", "TokenWeights", "build_components"]
