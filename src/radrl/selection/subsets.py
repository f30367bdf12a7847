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

from radrl.data.sample import Sample
from radrl.io import ConfigError, InputError, atomic_write_json
from radrl.recipe.sections import SelectionSettings
from radrl.schema import OBSERVATIONS, POSITIVE
from radrl.selection.methods import SELECTION_METHODS


def label_positives(labels: Sequence[dict]) -> dict[str, float]:
    """Share of studies positive for each observation."""
    n = max(len(labels), 1)
    return {c: sum(lab.get(c) == POSITIVE for lab in labels) / n for c in OBSERVATIONS}


def subset_size(n: int, fraction: float | None, size: int | None) -> int:
    if size is not None:
        return int(size)
    if fraction is None:
        raise ConfigError("give the subset's fraction or size (--fraction F or --size N)")
    return max(1, math.ceil(fraction * n))


def select_subset(settings: SelectionSettings, samples: Sequence[Sample], out: str | Path, labeler=None,
                  progress: bool = True) -> dict:
    """Choose a subset of ``samples`` with ``settings.method``, write the subset file ``out``,
    return it. The file keeps each sample's score (``per_sample_scores``) when the method has
    one, so another draw needs no new sampling."""
    from radrl.labelers import get_labeler, labels_or_labelled

    method = SELECTION_METHODS.get(settings.method)
    if method.needs_model and settings.model is None:  # before any labelling
        raise ConfigError(f"{settings.method} samples reports: give the SFT model (--model)")
    if not samples:
        raise ConfigError("no samples to select from")
    labeler = labeler or get_labeler("rule")
    n = subset_size(len(samples), settings.fraction, settings.size)
    if not 0 < n <= len(samples):
        raise ConfigError(f"subset size {n} is not in 1..{len(samples)}")
    labels = labels_or_labelled([s.labels for s in samples], [s.report for s in samples], labeler)
    chosen = method(samples, labels, n, settings, labeler, progress)
    params = {"fraction": settings.fraction, "size": n, "seed": settings.seed, **chosen.params}
    result = {"method": settings.method, "params": params, "n_source": len(samples),
              "ids": [str(samples[i].id) for i in chosen.indices],
              "summary": {"label_positives": {"before": label_positives(labels),
                                              "after": label_positives([labels[i] for i in chosen.indices])},
                          "scores": chosen.scores}}
    if chosen.per_sample is not None:
        result["per_sample_scores"] = {str(s.id): round(float(v), 6) for s, v in zip(samples, chosen.per_sample)}
    atomic_write_json(out, result)
    return result


def read_subset(path: str | Path) -> set[str]:
    """The ids of a subset file, with a clear error for a file that is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"subset file {path} does not exist (write it with `radrl select`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not a subset file (invalid JSON at line {err.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("ids"), list):
        raise InputError(f"{path}: not a subset file (expected an object with an 'ids' list)")
    return {str(i) for i in data["ids"]}
