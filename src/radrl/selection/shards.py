"""Selection measured in shards: many processes (``accelerate launch ... select``, or jobs given
``--shard K/N``) each measure one contiguous block of the samples and write it to a file; one
process merges the files and chooses. Nothing waits in a collective, and a crash loses at most
the shards in flight: finished shard files are reused when the command runs again.

Shard files live beside the subset file, ``SUBSET.json.shards/shard-KKK-of-NNN.json``::

    {"method": "ddsampling", "measure": {<the settings that change the measurement>},
     "dataset": <fingerprint of the whole sample list>, "range": [start, end],
     "ids": [...measured ids...], "measured": {"diversity": [...]},
     "skipped_images": {"skipped": 0, "reasons": {}}}

Shard boundaries fall on generation batches, and each batch is seeded from its position in
the whole list (:func:`radrl.generation.generate_reports`), so N shards measure exactly what
one process measures (when no image is skipped; a skipped image shifts its shard's batches).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from radrl.config.fields import to_plain
from radrl.io import InputError, atomic_write_json


def shard_folder(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".shards")


def shard_path(out: str | Path, index: int, count: int) -> Path:
    return shard_folder(out) / f"shard-{index:03d}-of-{count:03d}.json"


def shard_range(n_samples: int, batch_size: int, index: int, count: int) -> tuple[int, int]:
    """Samples ``[start, end)`` of shard ``index`` of ``count``: contiguous, whole batches."""
    if not 0 <= index < count:
        raise InputError(f"shard {index} of {count}: the index must be in 0..{count - 1}")
    batches = math.ceil(n_samples / batch_size)
    first, last = index * batches // count, (index + 1) * batches // count
    return min(first * batch_size, n_samples), min(last * batch_size, n_samples)


def measure_key(method, settings) -> dict:
    return {k: to_plain(getattr(settings, k)) for k in method.measure_keys}


def _header(method, settings, fingerprint: dict, start: int, end: int) -> dict:
    return {"method": method.name, "measure": measure_key(method, settings), "dataset": fingerprint,
            "range": [start, end]}


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _matches(data: dict | None, header: dict) -> bool:
    return data is not None and all(data.get(k) == v for k, v in header.items())


def measure_shard(method, settings, samples: Sequence, out: str | Path, index: int, count: int, fingerprint: dict,
                  labeler, progress: bool) -> Path:
    """Measure shard ``index`` of ``count`` of ``samples`` and write its file; a finished file for
    the same method, settings, data and range is kept as it is (resume). Returns its path."""
    from radrl.data.images import drop_unreadable

    start, end = shard_range(len(samples), settings.generation.batch_size, index, count)
    path = shard_path(out, index, count)
    header = _header(method, settings, fingerprint, start, end)
    if _matches(_read(path), header):
        return path
    part, skipped = drop_unreadable(list(samples[start:end]), f"selection shard {index + 1}/{count}", progress)
    measured = method.measure(part, settings, labeler, progress, index_offset=start) if part else {}
    atomic_write_json(path, {**header, "ids": [str(s.id) for s in part],
                             "measured": {k: [float(x) for x in np.asarray(v)] for k, v in measured.items()},
                             "skipped_images": skipped.summary()})
    return path


def shards_ready(out: str | Path, count: int) -> bool:
    return all(shard_path(out, i, count).is_file() for i in range(count))


def merge_shards(method, settings, samples: Sequence, out: str | Path, count: int, fingerprint: dict):
    """(kept samples, measured arrays over them, skipped-image summary) from the ``count`` shard
    files; refuses files made for other settings or data, and gaps or overlaps."""
    kept_ids: list[str] = []
    measured: dict[str, list[float]] = {}
    skipped = {"skipped": 0, "reasons": {}}
    for i in range(count):
        path = shard_path(out, i, count)
        start, end = shard_range(len(samples), settings.generation.batch_size, i, count)
        data = _read(path)
        if data is None:
            raise InputError(f"{path}: missing or unreadable; run the shard again (radrl select ... --shard {i}/{count})")
        if not _matches(data, _header(method, settings, fingerprint, start, end)):
            raise InputError(f"{path} was measured with other settings, data or shard count; delete "
                             f"{shard_folder(out)} or run the shards again with these settings")
        kept_ids.extend(data["ids"])
        for key, values in data["measured"].items():
            measured.setdefault(key, []).extend(values)
        skipped["skipped"] += data["skipped_images"]["skipped"]
        for reason, info in data["skipped_images"]["reasons"].items():
            slot = skipped["reasons"].setdefault(reason, {"count": 0, "first_ids": []})
            slot["count"] += info["count"]
            slot["first_ids"] = (slot["first_ids"] + info["first_ids"])[:5]
    by_id = {str(s.id): s for s in samples}
    kept = [by_id[i] for i in kept_ids]
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in measured.items()}
    if any(len(v) != len(kept) for v in arrays.values()):
        raise InputError(f"{shard_folder(out)}: shard files disagree on their number of samples; delete the folder")
    return kept, arrays, skipped
