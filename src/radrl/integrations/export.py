"""``radrl export``: a radrl dataset (optionally a ``radrl select`` subset of it) in the dataset
format of verl, EasyR1, ms-swift or OpenRLHF, ready for that engine's launch line.

Every engine gets the same content: the prompt (radrl's instruction after one ``<image>`` per
image, as the engine expands them), the image paths (absolute, so no ``image_dir`` is needed),
the reference report, its FINDINGS / IMPRESSION and gold labels where the dataset has them, and
the sample id. Where each goes:

==========  =====================  =================================================================
engine      file                   columns
==========  =====================  =================================================================
verl        ``SPLIT.parquet``      ``data_source``, ``prompt`` (chat list), ``images`` (``[{"image":
                                   path}]``), ``ability``, ``reward_model: {style, ground_truth}``
                                   (the reference), ``extra_info`` (``id``, ``index``, ``split``,
                                   sections, ``labels`` as JSON)
easyr1      ``SPLIT.jsonl``        ``prompt`` (text), ``images`` (paths), ``answer`` (radrl's JSON
                                   ground truth: reference, sections, labels), ``id``
swift       ``SPLIT.jsonl``        ``messages`` (chat list), ``images``, ``solution`` (the
                                   reference), ``reference_findings``, ``reference_impression``,
                                   ``labels`` (JSON), ``id``
openrlhf    ``SPLIT.jsonl``        ``input`` (chat list), ``images``, ``label`` (radrl's JSON
                                   ground truth), ``id``
==========  =====================  =================================================================

``DIR/radrl_export.json`` records what was exported (data, split, subset, instruction, rows):
the last export at the top, every split exported into ``DIR`` under ``splits``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from radrl.data.sample import Sample
from radrl.integrations.rows import ground_truth_payload
from radrl.io import InputError, atomic_write_json, atomic_write_jsonl

ENGINES = ("verl", "easyr1", "swift", "openrlhf")


def prompt_text(n_images: int, instruction: str) -> str:
    return "<image>" * n_images + instruction


def _images(sample: Sample) -> list[str]:
    return [os.path.abspath(p) for p in sample.images]


def _labels_json(sample: Sample) -> str:
    return json.dumps(sample.labels) if sample.labels else ""


def _payload(sample: Sample) -> str:
    return ground_truth_payload(sample.report, sample.findings, sample.impression, sample.labels)


def verl_row(sample: Sample, index: int, split: str, instruction: str, source: str) -> dict:
    return {"data_source": source,
            "prompt": [{"role": "user", "content": prompt_text(len(sample.images), instruction)}],
            "images": [{"image": p} for p in _images(sample)],
            "ability": "radiology_report",
            "reward_model": {"style": "rule", "ground_truth": sample.report},
            "extra_info": {"id": sample.id, "index": index, "split": split,
                           "reference_findings": sample.findings or "", "reference_impression": sample.impression or "",
                           "labels": _labels_json(sample)}}


def easyr1_row(sample: Sample, index: int, split: str, instruction: str, source: str) -> dict:
    return {"prompt": prompt_text(len(sample.images), instruction), "images": _images(sample),
            "answer": _payload(sample), "id": sample.id}


def swift_row(sample: Sample, index: int, split: str, instruction: str, source: str) -> dict:
    return {"messages": [{"role": "user", "content": prompt_text(len(sample.images), instruction)}],
            "images": _images(sample), "solution": sample.report,
            "reference_findings": sample.findings or "", "reference_impression": sample.impression or "",
            "labels": _labels_json(sample), "id": sample.id}


def openrlhf_row(sample: Sample, index: int, split: str, instruction: str, source: str) -> dict:
    return {"input": [{"role": "user", "content": prompt_text(len(sample.images), instruction)}],
            "images": _images(sample), "label": _payload(sample), "id": sample.id}


ROW_WRITERS: dict[str, Callable[..., dict]] = {"verl": verl_row, "easyr1": easyr1_row, "swift": swift_row,
                                               "openrlhf": openrlhf_row}


def _write_parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(pa.Table.from_pylist(rows), tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export_samples(samples: Sequence[Sample], engine: str, out: str | Path, split: str, instruction: str,
                   source: str, record: dict | None = None) -> Path:
    """Write ``samples`` as ``engine``'s dataset file in ``out``; returns the file."""
    if engine not in ROW_WRITERS:
        raise InputError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if not samples:
        raise InputError("no samples to export")
    missing = [s.id for s in samples if any(not os.path.exists(p) for p in s.images)]
    if missing:
        raise InputError(f"{len(missing)} samples have images that do not exist (first: {missing[0]}); "
                         "the engine would fail on them: check --data or run `radrl data inspect`")
    out = Path(out)
    rows = [ROW_WRITERS[engine](s, i, split, instruction, source) for i, s in enumerate(samples)]
    path = out / (f"{split}.parquet" if engine == "verl" else f"{split}.jsonl")
    if engine == "verl":
        _write_parquet(path, rows)
    else:
        atomic_write_jsonl(path, rows)
    entry = {**(record or {}), "engine": engine, "split": split, "file": path.name, "rows": len(rows),
             "instruction": instruction}
    manifest = out / "radrl_export.json"
    try:
        splits = json.loads(manifest.read_text()).get("splits", {}) if manifest.exists() else {}
    except (OSError, json.JSONDecodeError):
        splits = {}
    atomic_write_json(manifest, {**entry, "splits": {**splits, split: entry}})  # the last export, and every split's
    return path
