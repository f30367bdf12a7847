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
Every other key goes to the reward class's constructor (checked against it when the recipe is
loaded). Types come from the ``REWARDS`` registry; a class registered from user code with
``needs_labeler = True`` gets the run's shared labeler like the built-in ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from radrl.io import ConfigError
from radrl.labelers import CachedLabeler, get_labeler

# the built-in reward modules register themselves on import
from radrl.rewards import clinical, facts, format, hierarchical, text  # noqa: F401
from radrl.rewards.base import REWARDS, RewardFunction


@dataclass
class RewardSet:
    functions: list[RewardFunction]
    weights: list[float]
    schedules: list[list[list[float]] | None] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [f.__name__ for f in self.functions]


def build_rewards(entries: Sequence[Any], labeler: CachedLabeler | str | None = None, judge=None) -> RewardSet:
    """Reward callables from ``RewardEntry`` objects (or the plain mappings of a recipe), one
    shared (cached) labeler for every reward that ``needs_labeler``, the recipe's judge for those
    that ``needs_judge``."""
    from radrl.recipe.fields import build_checked
    from radrl.recipe.sections import RewardEntry

    if not entries:
        raise ConfigError("a recipe needs at least one reward under 'rewards:'")
    if labeler is None or isinstance(labeler, str):
        labeler = get_labeler(labeler or "rule")
    functions, weights, schedules = [], [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, RewardEntry):
            entry = build_checked(RewardEntry, entry, ("rewards", i))
        cls = REWARDS.get(entry.type)
        kwargs = dict(entry.params)
        if cls.needs_labeler:
            kwargs.setdefault("labeler", labeler)
        if cls.needs_judge and judge is not None:
            kwargs.setdefault("judge", judge)
        try:
            functions.append(cls(**kwargs))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"rewards[{i}] ({entry.type}): {err}") from None
        weights.append(entry.weight)
        schedules.append(entry.schedule)
    names = [f.__name__ for f in functions]
    if len(set(names)) != len(names):
        raise ConfigError(f"reward names must be distinct (give one a 'name:'), got {names}")
    return RewardSet(functions, weights, schedules)
