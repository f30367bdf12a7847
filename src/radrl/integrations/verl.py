"""verl: radrl's rewards as a custom reward function.

```bash
python -m verl.trainer.main_ppo ... \\
    reward.custom_reward_function.path=$(python -m radrl.integrations path verl) \\
    reward.custom_reward_function.name=compute_score \\
    +reward.custom_reward_function.reward_kwargs.recipe=deer      # or RADRL_REWARD_URL=...
```

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info)`` by keyword,
one sample at a time; ``compute_score_async`` is the same as a coroutine (verl's reward loop
awaits it), and ``compute_score_batch`` serves verl's ``batch`` reward manager. Each returns
``{"score": reward, <component>: value, ...}``: verl trains on ``score`` and logs the rest. The
ground truth is the reference report; ``extra_info`` (written by ``radrl export --engine verl``)
carries ``reference_findings``, ``reference_impression`` and ``labels``, and may carry ``step``
(the optimizer step, for reward schedules; 0 when absent).
"""

from __future__ import annotations

from typing import Any

from radrl.integrations.backends import get_backend
from radrl.integrations.rows import nan_for_none, scoring_row


def _step(extra_info: dict | None, step: int | None) -> int:
    if step is not None:
        return int(step)
    return int((extra_info or {}).get("step") or 0)


def _answer(result: dict) -> dict[str, float]:
    return {"score": float(result["reward"]), **nan_for_none(result["components"])}


def compute_score(data_source: str | None = None, solution_str: str = "", ground_truth: Any = None,
                  extra_info: dict | None = None, recipe: str | None = None, url: str | None = None,
                  step: int | None = None, **_: Any) -> dict[str, float]:
    """One sample's reward and components (verl's ``custom_reward_function``)."""
    row = scoring_row(solution_str, ground_truth, extra_info)
    return _answer(get_backend(recipe, url).score([row], _step(extra_info, step))[0])


async def compute_score_async(data_source: str | None = None, solution_str: str = "", ground_truth: Any = None,
                              extra_info: dict | None = None, recipe: str | None = None, url: str | None = None,
                              step: int | None = None, **_: Any) -> dict[str, float]:
    """:func:`compute_score` as a coroutine (the server is called without blocking verl's loop)."""
    row = scoring_row(solution_str, ground_truth, extra_info)
    return _answer((await get_backend(recipe, url).ascore([row], _step(extra_info, step)))[0])


def compute_score_batch(data_sources: list | None = None, solution_strs: list = (), ground_truths: list = (),
                        extra_infos: list | None = None, recipe: str | None = None, url: str | None = None,
                        step: int | None = None, **_: Any) -> list[dict[str, float]]:
    """A whole batch at once (verl's ``reward_manager.name=batch``): one labeler batch, one request."""
    extra_infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    rows = [scoring_row(s, g, e) for s, g, e in zip(solution_strs, ground_truths, extra_infos)]
    results = get_backend(recipe, url).score(rows, _step(extra_infos[0] if extra_infos else None, step))
    return [_answer(r) for r in results]
