"""The components that change GRPO, registered by name like verl's ``register_policy_loss``.

A recipe names them in ``algorithm:``, one per slot; ``RadRLTrainer`` calls every component it
holds at the same three places and knows none of them by name:

=================  ======================  ==================================================
slot               base class              what the trainer asks of it
=================  ======================  ==================================================
``token_weights``  :class:`TokenWeights`   ``weights(...)`` -> (B, T): A_i^t = A_i * w_i^t
``clip``           :class:`ClipRange`      ``clip_ranges(...)`` -> per-sample eps_low, eps_high
``aux_loss``       :class:`AuxiliaryLoss`  ``prepare(...)`` after scoring (tensors for the loss),
                                           ``policy_loss_scale(...)`` -> (B,) factor on the
                                           policy loss, ``loss(...)`` -> a term added to it
=================  ======================  ==================================================

Built-in: ``tfidf`` and ``gradient`` (DEER's DiTPO, :mod:`radrl.algorithms.ditpo`), ``capo``
(RadFlow, :mod:`radrl.algorithms.capo`), ``orapo_dpo`` (OraPO, :mod:`radrl.algorithms.orapo`).
A component of your own::

    from radrl.algorithms import COMPONENTS, AuxiliaryLoss

    @COMPONENTS.register("entropy_bonus")
    class EntropyBonus(AuxiliaryLoss):
        def __init__(self, coef: float = 0.01):
            self.coef = coef
        def loss(self, trainer, model, inputs, per_token_logps, mask, forward_kwargs):
            return self.coef * (per_token_logps * mask).sum() / mask.sum().clamp(min=1)

and ``algorithm: {aux_loss: {type: entropy_bonus, coef: 0.02}}`` in a recipe. A component
declares the per-sample dataset ``columns`` it reads (``critical`` is written by the criticality
stage), whether it needs the frozen initial policy (``needs_reference_model``), the labelers it
works with (``labelers``), and its checkpoint state (``state_dict`` / ``load_state_dict``: saved in
every checkpoint so ``--resume`` continues exactly).

The trainer is handed to each call as ``trainer`` (a ``RadRLTrainer``): its ``accelerator``,
``_log``, ``_ref_logps`` and ``_get_per_token_logps_and_entropies`` are what the built-ins use.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import torch

from radrl.config.algorithm import SLOTS
from radrl.registry import Registry

COMPONENTS: Registry = Registry("algorithm component")


class Component:
    """What every component declares. Subclass one of the three slot classes below."""

    slot: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()
    """Per-sample dataset columns the component reads (the trainer refuses a dataset without them)."""
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

    def setup(self, trainer) -> None:
        """Called once when the trainer is built (check its settings, warn about inert ones)."""

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

    def weights(self, trainer, inputs: list[dict], completion_ids: torch.Tensor, completion_mask: torch.Tensor,
                group_size: int) -> torch.Tensor:
        raise NotImplementedError


class ClipRange(Component):
    """A per-sample clip range of the surrogate (CAPO): ``(eps_low, eps_high)``, each float or (B,)."""

    slot = "clip"

    def clip_ranges(self, trainer, inputs: list[dict], epsilon_low: float, epsilon_high: float):
        raise NotImplementedError


class AuxiliaryLoss(Component):
    """A loss term beside the policy loss (OraPO's DPO). ``prepare`` may add tensors to the
    scored batch; ``policy_loss_scale`` may scale each sample's policy loss; ``loss`` returns a
    scalar the trainer adds (divided by the gradient-accumulation steps, as the policy loss is)."""

    slot = "aux_loss"

    def prepare(self, trainer, inputs: list[dict], output: dict[str, Any], rewards: torch.Tensor,
                group_size: int, local: slice) -> None:
        """After TRL scored the batch: ``rewards`` are the gathered weighted sums (NaN: failed),
        ``local`` this process's rows of them."""

    def policy_loss_scale(self, inputs: dict[str, Any]) -> torch.Tensor | None:
        return None

    def loss(self, trainer, model, inputs: dict[str, Any], per_token_logps: torch.Tensor, mask: torch.Tensor,
             forward_kwargs: dict[str, Any]) -> torch.Tensor:
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
