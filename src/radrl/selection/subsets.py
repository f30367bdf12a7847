"""Run a selection method on a dataset split and write the subset file ``radrl train`` reads.

Subset file (JSON, written atomically)::

    {"method": "ddsampling", "params": {...}, "n_source": 2000, "ids": ["...", ...],
     "summary": {"label_positives": {"before": {...}, "after": {...}}, "scores": {...}}}

A recipe uses it with ``data: {..., subset: runs/deer-subset.json}``; with a ``select:`` section
as well, ``radrl train`` runs the selection first when the file is missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from radrl.data.sample import Sample
from radrl.io import atomic_write_json
from radrl.schema import OBSERVATIONS, POSITIVE

METHODS = ("ddsampling", "target_exploration", "balanced", "random")


def _labels(samples: Sequence[Sample], labeler) -> list[dict]:
    missing = [s.report for s in samples if not s.labels]
    labelled = iter(labeler.label_batch(missing))
    return [s.labels if s.labels else next(labelled) for s in samples]


def label_positives(labels: Sequence[dict]) -> dict[str, float]:
    """Share of studies positive for each observation."""
    n = max(len(labels), 1)
    return {c: sum(lab.get(c) == POSITIVE for lab in labels) / n for c in OBSERVATIONS}


def _stats(values) -> dict:
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
            "max": float(values.max())} if len(values) else {}


def _size(n: int, fraction: float | None, size: int | None) -> int:
    if size is not None:
        return int(size)
    if fraction is None:
        raise ValueError("give the subset's fraction or size")
    return max(1, math.ceil(fraction * n))


def select_subset(method: str, samples: Sequence[Sample], out: str | Path, model: str | None = None,
                  fraction: float | None = None, size: int | None = None, k: int = 10, temperature: float = 1.0,
                  top_p: float = 0.9, max_new_tokens: int = 160, batch_size: int = 16, weights: dict | None = None,
                  draw: str = "log_rank", labeler=None, seed: int = 0, progress: bool = True) -> dict:
    """Choose a subset of ``samples`` with ``method``, write the subset file ``out``, return it.

    ``draw`` (DDSampling): ``log_rank`` (the paper's soft draw) or ``top`` (the ``n`` most diverse
    images, an ablation). The file keeps each sample's score (``per_sample_scores``), so another
    draw needs no new sampling."""
    from radrl.labelers import get_labeler

    if method not in METHODS:
        raise ValueError(f"unknown selection method {method!r}; choose one of {', '.join(METHODS)}")
    if not samples:
        raise ValueError("no samples to select from")
    labeler = labeler or get_labeler("rule")
    n = _size(len(samples), fraction, size)
    if not 0 < n <= len(samples):
        raise ValueError(f"subset size {n} is not in 1..{len(samples)}")
    labels = _labels(samples, labeler)
    params = {"fraction": fraction, "size": n, "seed": seed}
    scores_summary: dict = {}
    per_sample = None
    if method == "ddsampling":
        from radrl.selection.ddsampling import diagnostic_diversity, log_rank_sample

        groups = _generate(model, samples, k, "sample", temperature, top_p, max_new_tokens, batch_size, seed,
                           progress)
        diversity = diagnostic_diversity([labeler.label_batch(g) for g in groups])
        if draw not in ("log_rank", "top"):
            raise ValueError(f"draw must be 'log_rank' or 'top', got {draw!r}")
        chosen = log_rank_sample(diversity, n, seed) if draw == "log_rank" else sorted(
            np.argsort(-diversity, kind="stable")[:n].tolist())
        per_sample = diversity
        params.update(model=str(model), k=k, temperature=temperature, top_p=top_p, draw=draw)
        scores_summary = {"diversity_all": _stats(diversity), "diversity_subset": _stats(diversity[chosen]),
                          "zero_diversity_share_all": float((diversity == 0).mean()),
                          "zero_diversity_share_subset": float((diversity[chosen] == 0).mean())}
    elif method == "target_exploration":
        from radrl.selection.target_exploration import (
            bottom_fraction,
            composite_scores,
            per_sample_metrics,
        )

        preds = [g[0] for g in _generate(model, samples, 1, "greedy", 1.0, 1.0, max_new_tokens, batch_size, seed,
                                         progress)]
        metrics = per_sample_metrics(preds, [s.report for s in samples], labeler, [s.labels for s in samples])
        composite = composite_scores(metrics, weights)
        chosen = bottom_fraction(composite, n / len(samples))[:n]
        per_sample = composite
        params.update(model=str(model), weights=weights or "default")
        scores_summary = {"composite_all": _stats(composite), "composite_subset": _stats(composite[chosen]),
                          **{f"{m}_all": _stats(v) for m, v in metrics.items()},
                          **{f"{m}_subset": _stats(v[chosen]) for m, v in metrics.items()}}
    elif method == "balanced":
        from radrl.selection.balanced import label_balanced_subset

        chosen = label_balanced_subset(labels, n, seed)
    else:
        chosen = sorted(np.random.default_rng(seed).choice(len(samples), size=n, replace=False).tolist())
    result = {"method": method, "params": params, "n_source": len(samples),
              "ids": [str(samples[i].id) for i in chosen],
              "summary": {"label_positives": {"before": label_positives(labels),
                                              "after": label_positives([labels[i] for i in chosen])},
                          "scores": scores_summary}}
    if per_sample is not None:
        result["per_sample_scores"] = {str(s.id): round(float(v), 6) for s, v in zip(samples, per_sample)}
    atomic_write_json(out, result)
    return result


def _generate(model, samples, k, mode, temperature, top_p, max_new_tokens, batch_size, seed, progress):
    import torch

    from radrl.generation import GenerationSettings, generate_reports
    from radrl.models import load_policy

    if model is None:
        raise ValueError("this selection method samples reports: give the SFT model (--model)")
    policy, processor = load_policy(str(model))
    if torch.cuda.is_available():
        policy.to("cuda")
    settings = GenerationSettings(mode=mode, num_return_sequences=k, temperature=temperature, top_p=top_p,
                                  max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed)
    return generate_reports(policy, processor, list(samples), settings, progress=progress)


def read_subset(path: str | Path) -> set[str]:
    """The ids of a subset file, with a clear error for a file that is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"subset file {path} does not exist (write it with `radrl select`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a subset file (invalid JSON at line {err.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("ids"), list):
        raise ValueError(f"{path}: not a subset file (expected an object with an 'ids' list)")
    return {str(i) for i in data["ids"]}
