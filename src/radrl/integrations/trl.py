"""TRL: a reward function that asks ``radrl serve`` (for TRL's ``GRPOTrainer`` and
``AsyncGRPOTrainer``, which recommends an HTTP server for model-backed rewards).

```python
from radrl.integrations.trl import RemoteReward
trainer = GRPOTrainer(model=..., reward_funcs=[RemoteReward("http://127.0.0.1:8000")], ...)
```

It is an async callable with TRL's reward signature: TRL awaits it beside its other async
rewards. It sends the completions with the dataset's ``reference`` (or ``solution``) and, where
the dataset has them, ``reference_findings``, ``reference_impression`` and ``gt_labels`` /
``labels``, at ``trainer_state.global_step``; returns the recipe's weighted reward (``None``
where the server gave none) and logs each component's mean through TRL's ``log_metric``.
radrl's own trainer needs none of this: it calls the rewards in-process.
"""

from __future__ import annotations

import math
from typing import Any

from radrl.integrations.backends import RemoteBackend, get_backend
from radrl.integrations.rows import scoring_row
from radrl.rewards.base import completion_text

SECTIONS = ("reference_findings", "reference_impression")


class RemoteReward:
    """``reward_funcs=[RemoteReward(url)]``; ``url`` defaults to ``RADRL_REWARD_URL``."""

    def __init__(self, url: str | None = None, name: str = "radrl"):
        self.url = url
        self.__name__ = name

    def _backend(self) -> RemoteBackend:
        backend = get_backend(url=self.url)
        if not isinstance(backend, RemoteBackend):
            raise ValueError("RemoteReward needs a server: pass url= or set RADRL_REWARD_URL")
        return backend

    async def __call__(self, prompts=None, completions=(), completion_ids=None, **kwargs: Any) -> list[float | None]:
        references = kwargs.get("reference") or kwargs.get("solution")
        if references is None:
            raise ValueError("RemoteReward needs a 'reference' (or 'solution') column in the dataset")
        columns = {k: kwargs[k] for k in SECTIONS if kwargs.get(k) is not None}
        labels = kwargs.get("gt_labels") or kwargs.get("labels")  # radrl's datasets call them gt_labels
        if labels is not None:
            columns["labels"] = labels
        extras = [{k: v[i] for k, v in columns.items()} for i in range(len(completions))]
        rows = [scoring_row(completion_text(c), r, e) for c, r, e in zip(completions, references, extras)]
        state = kwargs.get("trainer_state")
        results = await self._backend().ascore(rows, int(getattr(state, "global_step", 0) or 0))
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and results:
            for name in results[0]["components"]:
                values = [r["components"][name] for r in results if r["components"][name] is not None]
                if values and not any(math.isnan(v) for v in values):
                    log_metric(f"rewards/{name}", sum(values) / len(values))
        return [r["reward"] for r in results]
