"""OpenRLHF: radrl's rewards as a ``reward_func`` file (or ``radrl serve``'s ``/get_reward``).

```bash
python -m openrlhf.cli.train_ppo_ray ... \\
    --reward.remote_url $(python -m radrl.integrations path openrlhf)   # RADRL_RECIPE=deer in the environment
# or, with `radrl serve --recipe deer` running:  --reward.remote_url http://127.0.0.1:8000/get_reward
```

OpenRLHF calls ``reward_func(queries, prompts, labels)``: ``queries`` are prompt plus response,
decoded with special tokens; ``labels`` the dataset's label column (``radrl export --engine
openrlhf`` writes radrl's JSON ground truth there). The response is cut out of the query
(:func:`response_of`) and scored; the answer is OpenRLHF's ``{"rewards", "scores",
"extra_logs"}``, one value per query, as float64 tensors like OpenRLHF's own examples (float64: the numbers equal `radrl reward`'s).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from radrl.integrations.backends import get_backend
from radrl.integrations.rows import scoring_row

logger = logging.getLogger(__name__)

_TRAILING_SPECIAL = re.compile(r"(?:\s*(?:<\|[^<>|]{1,40}\|>|</s>|<eos>|<end_of_turn>|<\|endoftext\|>))+\s*$")


def response_of(query: str, prompt: str) -> str:
    """The generated part of ``query`` (= prompt + response, decoded with special tokens).

    The prompt is cut where the query starts with it; a VLM prompt decodes with its image
    tokens expanded, so otherwise the text after the prompt's last line (the assistant header,
    e.g. ``<|im_start|>assistant``) is taken. End-of-turn tokens at the end are dropped.
    """
    if prompt and query.startswith(prompt):
        response = query[len(prompt):]
    else:
        tail = prompt.rstrip().rsplit("\n", 1)[-1] if prompt and prompt.strip() else ""
        at = query.rfind(tail) if tail else -1
        if at < 0:
            logger.warning("OpenRLHF query does not contain its prompt; scoring the whole query")
            response = query
        else:
            response = query[at + len(tail):]
    return _TRAILING_SPECIAL.sub("", response).strip()


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], recipe: str | None = None,
                url: str | None = None, step: int = 0, **_: Any) -> dict:
    import torch

    rows = [scoring_row(response_of(q, p), label) for q, p, label in zip(queries, prompts, labels)]
    results = get_backend(recipe, url).score(rows, step)
    rewards = torch.tensor([r["reward"] for r in results], dtype=torch.float64)
    names = list(results[0]["components"]) if results else []
    extra = {name: torch.tensor([float("nan") if r["components"][name] is None else r["components"][name]
                                 for r in results], dtype=torch.float64) for name in names}
    return {"rewards": rewards, "scores": rewards, "extra_logs": extra}
