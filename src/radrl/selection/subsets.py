"""Run a selection method on a dataset split and write the subset file ``radrl train`` reads.

Subset file (JSON, written atomically)::

    {"method": "ddsampling", "params": {...}, "n_source": 2000, "ids": ["...", ...],
     "dataset": {"kind": "r2gen", "path": "/data/iu/annotation.json", "split": "train",
                 "n": 2000, "ids_sha256": "..."},
     "summary": {"label_positives": {"before": {...}, "after": {...}}, "scores": {...}},
     "skipped_images": {"skipped": 0, "reasons": {}}}

A recipe uses it with ``data: {..., subset: runs/deer-subset.json}``; with a ``select:`` section
as well, ``radrl train`` runs the selection first when the file is missing.

``dataset`` is the fingerprint of what the subset was drawn from. :func:`subset_samples` refuses a
subset used on another dataset (kind, split or the hash of the sorted ids differ: a dataset with
the same id scheme is caught too) and one whose ids are only partly present, unless
``allow_partial``. A moved dataset (another path, same ids) is accepted.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

from radrl.config.sections import SelectionSettings
from radrl.data.sample import Sample
from radrl.io import ConfigError, InputError, atomic_write_json
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


def dataset_fingerprint(samples: Sequence[Sample], kind: str | None = None, path: str | Path | None = None,
                        split: str | None = None) -> dict:
    """What a subset was drawn from: kind, path, split, the number of samples and the SHA-256 of
    their sorted ids."""
    ids = sorted(str(s.id) for s in samples)
    return {"kind": kind, "path": None if path is None else str(Path(path).absolute()), "split": split,
            "n": len(ids), "ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()}


def select_subset(settings: SelectionSettings, samples: Sequence[Sample], out: str | Path, labeler=None,
                  progress: bool = True, source: dict | None = None, shard: tuple[int, int] | None = None,
                  merge: bool | None = None) -> dict | None:
    """Choose a subset of ``samples`` with ``settings.method``, write the subset file ``out``,
    return it. The file keeps each sample's score (``per_sample_scores``) when the method has
    one, so another draw needs no new sampling. ``source`` (``kind``, ``path``, ``split``) goes
    into the dataset fingerprint.

    Methods that measure with the SFT model run in shards (:mod:`radrl.selection.shards`):
    ``shard=(K, N)`` measures shard K of N; by default this process's rank of the launch's
    world size; ``(-1, N)`` measures nothing and only merges. ``merge`` (default: on rank 0)
    waits for every shard file, without a collective, then chooses and writes ``out``; a process
    that does not merge returns ``None``. Samples
    whose images cannot be opened are left out and counted in ``skipped_images``."""
    from radrl.distributed import folder_ranks, is_main, wait_for
    from radrl.labelers import get_labeler, labels_or_labelled
    from radrl.selection.shards import measure_shard, merge_shards, shard_folder, shards_ready

    method = SELECTION_METHODS.get(settings.method)
    if method.needs_model and settings.model is None:  # before any labelling
        raise ConfigError(f"{settings.method} samples reports: give the SFT model (--model)")
    if not samples:
        raise ConfigError("no samples to select from")
    fingerprint = dataset_fingerprint(samples, **(source or {}))
    labeler = labeler or get_labeler("rule")
    index, count = shard if shard is not None else folder_ranks()  # a node-local folder: the node's ranks
    merge = (is_main() if shard is None else False) if merge is None else merge
    skipped = {"skipped": 0, "reasons": {}}
    measured: dict = {}
    if method.needs_model:
        if index >= 0:
            measure_shard(method, settings, samples, out, index, count, fingerprint, labeler, progress)
        if not merge:
            return None
        wait_for(lambda: shards_ready(out, count), f"the {count} selection shards in {shard_folder(out)}")
        samples, measured, skipped = merge_shards(method, settings, samples, out, count, fingerprint)
        if not samples:
            raise InputError("no sample has a readable image; nothing to select from")
    elif not merge:
        return None
    n = subset_size(len(samples), settings.fraction, settings.size)
    if not 0 < n <= len(samples):
        raise ConfigError(f"subset size {n} is not in 1..{len(samples)}")
    labels = labels_or_labelled([s.labels for s in samples], [s.report for s in samples], labeler)
    chosen = method.choose(samples, labels, measured, n, settings)
    params = {"fraction": settings.fraction, "size": n, "seed": settings.seed, **chosen.params}
    result = {"method": settings.method, "params": params, "n_source": len(samples),
              "ids": [str(samples[i].id) for i in chosen.indices], "dataset": fingerprint,
              "skipped_images": skipped,
              "summary": {"label_positives": {"before": label_positives(labels),
                                              "after": label_positives([labels[i] for i in chosen.indices])},
                          "scores": chosen.scores}}
    if chosen.per_sample is not None:
        result["per_sample_scores"] = {str(s.id): round(float(v), 6) for s, v in zip(samples, chosen.per_sample)}
    atomic_write_json(out, result)
    return result


def _read_subset_file(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"subset file {path} does not exist (write it with `radrl select`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not a subset file (invalid JSON at line {err.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("ids"), list):
        raise InputError(f"{path}: not a subset file (expected an object with an 'ids' list)")
    return data


def read_subset(path: str | Path) -> set[str]:
    """The ids of a subset file, with a clear error for a file that is not one."""
    return {str(i) for i in _read_subset_file(path)["ids"]}


def subset_samples(path: str | Path, samples: Sequence[Sample], kind: str | None = None, split: str | None = None,
                   allow_partial: bool = False) -> list[Sample]:
    """The ``samples`` a subset file lists, after checking it was drawn from them.

    Refused (``InputError``): a fingerprint whose kind, split or id hash differs from ``samples``
    (the subset was made for another dataset, or another split or ``limit`` of this one); ids
    of the subset missing from ``samples``, unless ``allow_partial``. A subset file without a
    fingerprint (written before radrl recorded one) is checked by its ids only, with a warning.
    """
    data = _read_subset_file(path)
    ids = [str(i) for i in data["ids"]]
    recorded = data.get("dataset")
    if isinstance(recorded, dict):
        now = dataset_fingerprint(samples, kind, None, split)
        differ = [k for k in ("kind", "split") if recorded.get(k) is not None and now[k] is not None
                  and recorded[k] != now[k]]
        if recorded.get("ids_sha256") != now["ids_sha256"]:
            differ.append(f"ids ({recorded.get('n')} samples then, {now['n']} now)")
        if differ:
            was = ", ".join(f"{k}={recorded.get(k)}" for k in ("kind", "path", "split") if recorded.get(k))
            raise InputError(f"{path} was drawn from another dataset ({was}); differs in {', '.join(differ)}. "
                             "Run `radrl select` on this dataset (same split and limit) to make its subset")
    else:
        warnings.warn(f"{path} has no dataset fingerprint (an older subset file): only its ids are checked",
                      stacklevel=2)
    present = {str(s.id) for s in samples}
    missing = [i for i in ids if i not in present]
    if missing and (not allow_partial or len(missing) == len(ids)):
        raise InputError(f"{path}: {len(missing)} of its {len(ids)} ids are not in the data "
                         f"(first: {', '.join(missing[:3])})"
                         + ("; was it made for this dataset?" if len(missing) == len(ids) else
                            "; pass --allow-partial (data.allow_partial_subset=true) to train on the rest"))
    if missing:
        warnings.warn(f"{path}: {len(missing)} of its {len(ids)} ids are not in the data; using the "
                      f"{len(ids) - len(missing)} that are (allow_partial)", stacklevel=2)
    wanted = set(ids)
    return [s for s in samples if str(s.id) in wanted]
