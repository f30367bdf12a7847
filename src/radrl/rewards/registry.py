"""Build reward callables, their weights and schedules from a recipe's ``rewards:`` list.

```yaml
rewards:
  - {type: example_f1, weight: 1.0}
  - {type: bleu2, weight: 0.0, schedule: [[200, 0.25]]}   # DEER phase 2 from step 200
  - {type: mccs, weight: 0.75, margin: 0.5, extract: lenient}
  - {type: format, weight: 0.25}
  - {type: facts, beta: 2.0, mode: rule}                 # OraPO FactS (mode: llm uses the judge)
  - {type: radflow, gamma: 1.0, consistency: labels}     # RadFlow hierarchical reward
```
Every other key is passed to the reward's constructor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from radrl.labelers import CachedLabeler, get_labeler
from radrl.rewards.base import RewardFunction
from radrl.rewards.clinical import ExampleF1Reward, MCCSReward
from radrl.rewards.facts import FactSReward
from radrl.rewards.format import FormatReward
from radrl.rewards.hierarchical import HierarchicalReward
from radrl.rewards.text import BleuReward

REWARD_TYPES: dict[str, type[RewardFunction]] = {
    "example_f1": ExampleF1Reward,
    "mccs": MCCSReward,
    "bleu2": BleuReward,
    "format": FormatReward,
    "facts": FactSReward,
    "radflow": HierarchicalReward,
}
_USES_LABELER = (ExampleF1Reward, MCCSReward, FactSReward, HierarchicalReward)
_USES_JUDGE = (FactSReward, HierarchicalReward)


@dataclass
class RewardSet:
    functions: list[RewardFunction]
    weights: list[float]
    schedules: list[list[list[float]] | None] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [f.__name__ for f in self.functions]


def register_reward(name: str, cls: type[RewardFunction]) -> None:
    """Make a reward type available to recipes (``type: name``)."""
    REWARD_TYPES[name] = cls


def build_rewards(specs: list[dict[str, Any]], labeler: CachedLabeler | str | None = None,
                  judge=None) -> RewardSet:
    """One shared (cached) labeler for every clinical reward; the recipe's judge for the rewards
    with an LLM mode."""
    if not specs:
        raise ValueError("a recipe needs at least one reward under 'rewards:'")
    if labeler is None or isinstance(labeler, str):
        labeler = get_labeler(labeler or "rule")
    functions, weights, schedules = [], [], []
    for i, spec in enumerate(specs):
        spec = dict(spec)
        kind = spec.pop("type", None)
        if kind not in REWARD_TYPES:
            raise ValueError(f"rewards[{i}]: unknown type {kind!r}; choose one of {sorted(REWARD_TYPES)}")
        weight = float(spec.pop("weight", 1.0))
        schedule = spec.pop("schedule", None)
        cls = REWARD_TYPES[kind]
        if issubclass(cls, _USES_LABELER):
            spec.setdefault("labeler", labeler)
        if issubclass(cls, _USES_JUDGE) and judge is not None:
            spec.setdefault("judge", judge)
        try:
            functions.append(cls(**spec))
        except TypeError as err:
            raise ValueError(f"rewards[{i}] ({kind}): {err}") from None
        weights.append(weight)
        schedules.append(schedule)
    names = [f.__name__ for f in functions]
    if len(set(names)) != len(names):
        raise ValueError(f"reward names must be distinct (give one a 'name:'), got {names}")
    return RewardSet(functions, weights, schedules)
