"""EasyR1: radrl's rewards as a batch reward function.

```yaml
worker:
  reward:
    reward_function: /path/to/radrl/integrations/easyr1.py:compute_score   # python -m radrl.integrations path easyr1
    reward_function_kwargs: {recipe: deer}        # or RADRL_RECIPE / RADRL_REWARD_URL in the environment
```

EasyR1 reads ``REWARD_TYPE`` and calls ``compute_score(reward_inputs)`` with the whole batch:
each input has ``response``, ``response_length`` and ``ground_truth`` (the dataset's ``answer``;
``radrl export --engine easyr1`` writes it as radrl's JSON ground truth, with sections and gold
labels; a plain reference works too). Each output has ``overall`` (the reward EasyR1 trains on)
and one float per component (logged; a failed reward is NaN).
"""

from __future__ import annotations

from typing import Any

from radrl.integrations.backends import get_backend
from radrl.integrations.rows import nan_for_none, scoring_row

REWARD_NAME = "radrl"
REWARD_TYPE = "batch"


def compute_score(reward_inputs: list[dict[str, Any]], recipe: str | None = None, url: str | None = None,
                  step: int = 0, **_: Any) -> list[dict[str, float]]:
    rows = [scoring_row(item["response"], item.get("ground_truth")) for item in reward_inputs]
    results = get_backend(recipe, url).score(rows, step)
    return [{"overall": float(r["reward"]), **nan_for_none(r["components"])} for r in results]
