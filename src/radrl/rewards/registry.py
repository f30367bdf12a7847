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

from radrl.config.fields import Problem, build_checked, check_keys, format_problems, signature_specs
from radrl.config.sections import RewardEntry
from radrl.io import ConfigError
from radrl.labelers import CachedLabeler, get_labeler

# the built-in reward modules register themselves on import
from radrl.rewards import clinical, facts, format, hierarchical, text  # noqa: F401
from radrl.rewards.base import REWARDS, RewardFunction


def reward_problems(rewards: Sequence[RewardEntry], path: tuple = ("rewards",)) -> list[Problem]:
    """Each entry's type registered, its parameters those of the reward's constructor (normalised in
    place: ``margin: 1`` -> ``1.0``) and within the reward's own ranges."""
    problems: list[Problem] = []
    for i, entry in enumerate(rewards):
        where = path + (i,)
        if entry.type not in REWARDS:
            problems.append(Problem(where + ("type",), REWARDS.unknown(entry.type)))
            continue
        reward_cls = REWARDS.get(entry.type)
        before = len(problems)
        specs = signature_specs(reward_cls.__init__, skip=("self", "labeler", "judge"))
        params = check_keys(entry.params, specs, where, problems, what=f"parameter of the {entry.type} reward")
        if len(problems) > before:
            continue
        entry.params = params
        if not any(params.get(p) == mode for p, mode in reward_cls.judge_modes.items()):
            try:  # the reward's own range checks (a margin outside (-1, 1), ...), with the offline labeler
                reward_cls(**params)
            except (ValueError, TypeError) as err:
                field_name = getattr(err, "field", None)
                problems.append(Problem(where + ((field_name,) if field_name else ()), f"{entry.type} reward: {err}"))
    return problems


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
    if not entries:
        raise ConfigError("a recipe needs at least one reward under 'rewards:'")
    if labeler is None or isinstance(labeler, str):
        labeler = get_labeler(labeler or "rule")
    functions, weights, schedules = [], [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, RewardEntry):
            entry = build_checked(RewardEntry, entry, ("rewards", i))
            problems = reward_problems([entry], ("rewards", i))
            if problems:
                raise ConfigError(format_problems(problems))
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
