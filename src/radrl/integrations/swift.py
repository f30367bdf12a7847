"""ms-swift: radrl's rewards as ORMs.

```bash
RADRL_RECIPE=deer swift rlhf --rlhf_type grpo ... \\
    --external_plugins $(python -m radrl.integrations path swift) \\
    --reward_funcs radrl                      # the recipe's weighted reward, schedules included
#   --reward_funcs radrl_example_f1 radrl_bleu2 --reward_weights 1.0 0.25   (one ORM per reward)
#   --reward_funcs radrl_remote                (async, through RADRL_REWARD_URL's `radrl serve`)
```

ms-swift passes the completions and every dataset column, batched: ``solution`` (the reference,
or radrl's JSON ground truth) and, as ``radrl export --engine swift`` writes them,
``reference_findings``, ``reference_impression`` and ``labels``; ``trainer_state.global_step`` is
the step for reward schedules. A reward that fails on a sample gives ``None``, which ms-swift
turns into NaN and leaves out of the weighted sum, as radrl's trainer does.

Importing this file registers ``radrl``, ``radrl_remote`` and, when ``RADRL_RECIPE`` names a
recipe, ``radrl_<reward>`` for each of its rewards in ``swift.rewards.orms``.
"""

from __future__ import annotations

import os
from typing import Any

from radrl.integrations.backends import RECIPE_ENV, get_backend
from radrl.integrations.rows import scoring_row

try:  # the base classes, when ms-swift is installed; the adapters work without it too
    from swift.rewards import ORM, AsyncORM, orms
except ImportError:  # pragma: no cover - exercised where ms-swift is absent
    ORM = AsyncORM = object  # type: ignore[assignment,misc]
    orms = None

COLUMNS = ("reference_findings", "reference_impression", "labels")


def _rows(completions, solution=None, **kwargs) -> list[dict]:
    solution = solution if solution is not None else kwargs.get("reference") or [None] * len(completions)
    extras = [{k: kwargs[k][i] for k in COLUMNS if kwargs.get(k) is not None} for i in range(len(completions))]
    return [scoring_row(c, s, e) for c, s, e in zip(completions, solution, extras)]


def _step(kwargs: dict) -> int:
    state = kwargs.get("trainer_state")
    return int(getattr(state, "global_step", 0) or 0)


class RadrlReward(ORM):
    """The recipe's weighted reward (``RADRL_RECIPE`` in this process, or ``RADRL_REWARD_URL``)."""

    def __init__(self, args: Any = None, recipe: str | None = None, url: str | None = None, **kwargs):
        self.args, self.recipe, self.url = args, recipe, url

    def __call__(self, completions, solution=None, **kwargs) -> list[float]:
        results = get_backend(self.recipe, self.url).score(_rows(completions, solution, **kwargs), _step(kwargs))
        return [r["reward"] for r in results]


class RadrlComponent(RadrlReward):
    """One reward of the recipe (``reward_name``); ``None`` where it failed on a sample."""

    reward_name = ""

    def __call__(self, completions, solution=None, **kwargs) -> list[float | None]:
        results = get_backend(self.recipe, self.url).score(_rows(completions, solution, **kwargs), _step(kwargs))
        return [r["components"][self.reward_name] for r in results]


class RadrlRemoteReward(AsyncORM):
    """The recipe's weighted reward from ``radrl serve`` (``RADRL_REWARD_URL``), awaited: ms-swift
    gathers async ORMs concurrently."""

    def __init__(self, args: Any = None, url: str | None = None, **kwargs):
        self.args = args
        self.url = url or os.environ.get("RADRL_REWARD_URL")

    async def __call__(self, completions, solution=None, **kwargs) -> list[float]:
        if not self.url:
            raise ValueError("radrl_remote needs RADRL_REWARD_URL (the address of `radrl serve`)")
        backend = get_backend(url=self.url)
        results = await backend.ascore(_rows(completions, solution, **kwargs), _step(kwargs))
        return [r["reward"] for r in results]


def component_orm(name: str) -> type:
    """An ORM class for the reward named ``name``."""
    return type(f"Radrl_{name}", (RadrlComponent,), {"reward_name": name})


def recipe_reward_names(recipe: str) -> list[str]:
    from radrl.recipe import load_recipe

    return [e.params.get("name") or e.type for e in load_recipe(recipe).rewards]


def register(registry: dict | None = None, recipe: str | None = None) -> list[str]:
    """Put radrl's ORMs into ``registry`` (ms-swift's ``orms``); returns the names registered."""
    registry = orms if registry is None else registry
    if registry is None:
        return []
    added = {"radrl": RadrlReward, "radrl_remote": RadrlRemoteReward}
    recipe = recipe or os.environ.get(RECIPE_ENV)
    if recipe:
        added.update({f"radrl_{n}": component_orm(n) for n in recipe_reward_names(recipe)})
    registry.update(added)
    return list(added)


REGISTERED = register()
