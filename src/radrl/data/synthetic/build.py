"""Write a synthetic benchmark to disk, in the R2Gen ``annotation.json`` layout plus labels.

Layout::

    ROOT/annotation.json   {"train": [...], "val": [...], "test": [...]}; each entry has
                           id, image_path (relative to ROOT/images), report (FINDINGS +
                           IMPRESSION with headers), findings, impression, labels (14 CheXpert
                           labels), finding details (side, severity, zone, hedged)
    ROOT/images/<id>.png   224 x 224 grayscale frontal radiograph
    ROOT/config.json       the generator settings (with ``seed``), so the set can be remade

Everything is a pure function of the seed: the same config gives byte-identical files.
:func:`load_synthetic` reads it back as :class:`~radrl.data.Sample` lists with labels.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from radrl.config.synthetic import FORMAT_VERSION, SyntheticConfig
from radrl.data.sample import Sample
from radrl.data.sections import format_sections
from radrl.data.synthetic.cases import draw_case
from radrl.data.synthetic.render import render_case
from radrl.data.synthetic.reports import write_report
from radrl.io import InputError, atomic_write_json

__all__ = ["FORMAT_VERSION", "SyntheticConfig"]  # re-exported: they live in radrl.config




def make_sample(split: str, index: int, config: SyntheticConfig) -> tuple[dict, np.ndarray]:
    """One annotation entry and its image, from (seed, split, index) alone."""
    split_code = {"train": 0, "val": 1, "test": 2}[split]
    rng = np.random.default_rng([config.seed, split_code, index])
    sid = f"syn-{split}-{index:05d}"
    case = draw_case(sid, rng, config.prevalence, config.normal_fraction)
    findings, impression, labels = write_report(case, rng, config.report_style)
    image = render_case(case, config.image_size, config.sign_strength)
    details = {n: {k: v for k, v in asdict(f).items() if v not in (None, (), []) and k != "name"}
               for n, f in case.findings.items()}
    entry = {
        "id": sid,
        "image_path": [f"{sid}.png"],
        "report": format_sections(findings, impression),
        "findings": findings,
        "impression": impression,
        "labels": labels,
        "details": details,
    }
    return entry, image


def synthetic_ready(root: str | Path, config: SyntheticConfig | None = None) -> bool:
    """``root`` holds the complete benchmark ``config`` describes (its ``config.json`` is written
    last and matches)."""
    config = config or SyntheticConfig()
    root = Path(root)
    cfg_path, ann_path = root / "config.json", root / "annotation.json"
    if not (cfg_path.is_file() and ann_path.is_file()):
        return False
    try:
        return json.loads(cfg_path.read_text()) == config.record()
    except (json.JSONDecodeError, OSError):
        return False


def build_synthetic(root: str | Path, config: SyntheticConfig | None = None, progress: bool = True) -> Path:
    """Write the benchmark under ``root`` (reused as is when ``config.json`` matches). Under a
    multi-process launch, call it on one rank (the others :func:`synthetic_ready`-wait)."""
    config = config or SyntheticConfig()
    root = Path(root)
    cfg = config.record()
    cfg_path, ann_path = root / "config.json", root / "annotation.json"
    if synthetic_ready(root, config):
        return root
    if root.is_dir() and any(root.iterdir()) and not _is_synthetic(root):
        raise InputError(f"{root} holds files that are not a radrl synthetic benchmark (no config.json of one); "
                         "radrl builds the benchmark only into an empty or new folder, so that a real dataset is "
                         "never overwritten. Choose another path (or data.kind: the dataset's kind)")
    (root / "images").mkdir(parents=True, exist_ok=True)
    total = sum(config.splits().values())
    bar = tqdm(total=total, desc="synthetic benchmark", unit="img", disable=not progress)
    annotation: dict[str, list[dict]] = {}
    for split in config.splits():
        entries = []
        for i in config.indices(split):
            entry, image = make_sample(split, i, config)
            path = root / "images" / entry["image_path"][0]
            tmp = path.with_suffix(".tmp.png")
            Image.fromarray(image, mode="L").save(tmp, optimize=False)
            tmp.replace(path)
            entries.append(entry)
            bar.update(1)
        annotation[split] = entries
    bar.close()
    atomic_write_json(ann_path, annotation)
    atomic_write_json(cfg_path, cfg)  # written last: its presence means the set is complete
    return root


def _is_synthetic(root: Path) -> bool:
    """Is ``root`` a (possibly half-built) radrl synthetic benchmark? Only its own files:
    ``config.json`` (of a benchmark) with ``annotation.json``, ``images/syn-*``, temporary files;
    or, interrupted before its files were written, ``images/syn-*`` alone."""
    names = {p.name for p in root.iterdir() if not p.name.startswith(".")}
    if not names <= {"images", "annotation.json", "config.json"}:
        return False
    if "config.json" in names:
        try:
            if "format_version" not in json.loads((root / "config.json").read_text()):
                return False
        except (OSError, json.JSONDecodeError, TypeError):
            return False
    elif names - {"images"}:  # an annotation.json without the benchmark's config: someone else's
        return False
    images = root / "images"
    return not images.exists() or (images.is_dir() and all(p.name.startswith("syn-") for p in images.iterdir()))


def load_synthetic(root: str | Path, split: str = "train", target: str = "both",
                   image_root: str | Path | None = None) -> list[Sample]:
    """Read a built benchmark as samples with ground-truth labels.

    ``target``: ``both`` (FINDINGS + IMPRESSION with headers, the default), ``findings`` or
    ``impression``. ``image_root``: where the images are read (default ``ROOT/images``; a cache
    written by ``radrl prepare-images``).
    """
    root = Path(root)
    images = Path(image_root) if image_root is not None else root / "images"
    ann = root / "annotation.json"
    if root.is_file():
        raise InputError(f"{root} is a file; a synthetic benchmark is a folder (written by radrl synth)")
    if not ann.is_file():
        raise InputError(f"{ann}: no such file; build the benchmark first (radrl synth {root})")
    data = json.loads(ann.read_text(encoding="utf-8"))
    if split not in data:
        raise InputError(f"{ann}: no split {split!r}; it has {sorted(data)}")
    out = []
    for e in data[split]:
        text = {"both": e["report"], "findings": e["findings"], "impression": e["impression"]}[target]
        out.append(Sample(e["id"], [str(images / p) for p in e["image_path"]], text, e["findings"],
                          e["impression"], e["labels"],
                          {"split": split, "details": e.get("details", {}), "image_root": str(images)}))
    return out
