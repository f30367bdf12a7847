"""A recipe's ``algorithm:`` section: the policy loss, the advantage estimator, and which
registered components change them, one per slot.

```yaml
algorithm:
  policy_loss: {type: gspo}                   # radrl.algorithms.POLICY_LOSSES (default: rl.loss_type)
  advantage: {type: rloo}                     # radrl.algorithms.ADVANTAGES (default: grpo, rl.scale_rewards)
  token_weights: {type: tfidf, alpha: 4}      # DiTPO (DEER): A_i^t = A_i * w_i^t
  clip: {type: capo, critical_factor: 0.25}   # CAPO (RadFlow): a per-sample clip range
  aux_loss: {type: orapo_dpo}                 # OraPO: (1 - lambda) L_GRPO + lambda L_LN-DPO
  skip_failed_rewards: true
```

Each slot's ``type`` names a class in ``radrl.algorithms.COMPONENTS`` (``radrl.algorithms.components``),
``policy_loss``'s a function in ``POLICY_LOSSES`` and ``advantage``'s one in ``ADVANTAGES``; the
parameters are checked against that class's constructor or that function's keywords after the
recipe is built (``radrl.recipe.checks``), the way a reward's are. A user registers one of their
own with ``@COMPONENTS.register("name")`` (or ``register_policy_loss``) and names it here, or
names it by dotted path (``type: my_pkg.losses:my_loss``); nothing else changes.

``rl:`` keys such as ``capo: true`` or ``orapo_kappa`` are refused with a pointer here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from radrl.io import FieldError

SLOTS = ("token_weights", "clip", "aux_loss")
"""Where a component acts: the advantages' token weights, the clip range, an extra loss term."""


@dataclass
class ComponentEntry:
    """One slot of ``algorithm:``: ``{type: NAME, <the component's constructor parameters>}``
    (or just ``NAME``)."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_yaml_value(value):
        return {"type": value} if isinstance(value, str) else value

    @classmethod
    def from_yaml_mapping(cls, data: dict, path, problems):
        from radrl.config.fields import Problem, check

        if "type" not in data:
            problems.append(Problem(path + ("type",), "is required: a registered name (a component, policy "
                                    "loss or advantage estimator of radrl.algorithms, or module.path:Name)"))
            return None
        before = len(problems)
        kind = check(data["type"], {"type": "str"}, path + ("type",), problems)
        if len(problems) > before:
            return None
        return cls(type=kind, params={k: v for k, v in data.items() if k != "type"})

    def to_yaml_value(self) -> dict:
        return {"type": self.type, **self.params}


def _help(text: str) -> dict:
    return {"help": text}


@dataclass
class AlgorithmSection:
    """What changes GRPO: the policy loss and advantage estimator (empty: TRL's settings in
    ``rl:``), and at most one registered component per slot (all empty: stock GRPO)."""

    policy_loss: ComponentEntry | None = field(default=None, metadata=_help(
        "the registered policy loss (grpo, bnpo, dr_grpo, dapo, gspo, luspo, cispo, sapo, vespo, or one of your "
        "own); empty: rl.loss_type with rl.importance_sampling_level"))
    advantage: ComponentEntry | None = field(default=None, metadata=_help(
        "the registered advantage estimator (grpo, rloo, or one of your own); empty: grpo with rl.scale_rewards"))
    token_weights: ComponentEntry | None = field(default=None, metadata=_help(
        "per-token advantage weights: tfidf or gradient (DEER's DiTPO), or a registered one"))
    clip: ComponentEntry | None = field(default=None, metadata=_help(
        "per-sample clip range: capo (RadFlow), or a registered one"))
    aux_loss: ComponentEntry | None = field(default=None, metadata=_help(
        "a loss term beside the policy loss: orapo_dpo (OraPO), or a registered one"))
    skip_failed_rewards: bool = field(default=True, metadata=_help(
        "a sample with any failed (NaN) reward component gets advantage 0 and leaves its group's statistics"))

    def entries(self) -> dict[str, ComponentEntry]:
        """slot -> entry, for the slots that are set."""
        return {slot: getattr(self, slot) for slot in SLOTS if getattr(self, slot) is not None}

    def uses(self, component_type: str) -> bool:
        return any(e.type == component_type for e in self.entries().values())


MOVED_RL_KEYS = ("token_weighting", "capo", "orapo", "skip_failed_rewards")
MOVED_RL_PREFIXES = ("tfidf_", "saliency_", "capo_", "orapo_")
"""``rl:`` keys of pre-release drafts whose settings are an ``algorithm:`` entry's now."""


def moved_rl_key(key: str) -> bool:
    return key in MOVED_RL_KEYS or key.startswith(MOVED_RL_PREFIXES)


def check_slot(slot: str, component_slot: str, kind: str) -> None:
    """A component named in the wrong slot (``clip: {type: tfidf}``)."""
    if component_slot != slot:
        raise FieldError(slot, f"{kind} is a {component_slot} component; name it under algorithm.{component_slot}")
