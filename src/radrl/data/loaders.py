"""Dataset loaders: each returns a list of :class:`Sample` in the sample contract.

=====================  ==============================================================
``load_r2gen``         R2Gen ``annotation.json`` (IU X-Ray and MIMIC-CXR layouts)
``load_chexpert_plus`` CheXpert Plus ``df_chexpert_plus_*.csv``
``load_openi``         Open-i XML, as NLM publishes it (``NLMCXR_reports.tgz``) or a folder
``load_records``       generic ``.jsonl`` / ``.csv`` with ``id``, ``images``/``image``, ``report``
=====================  ==============================================================

Common options:

* ``views``: ``"all"`` (one sample per study with every image), ``"frontal"`` (one sample per
  study with its frontal image), ``"per_image"`` (one sample per image, as MRG-R1 trains).
* ``target``: the ``report`` text: ``"findings"`` (R2Gen's choice for IU and MIMIC),
  ``"impression"`` or ``"both"`` (FINDINGS then IMPRESSION). Falls back to whatever section exists.
* Broken samples (no report text, missing or unreadable images, a repeated id: the first is
  kept) are skipped; the count and the first ids are reported in one warning (``LoadReport``).
  ``strict=True`` raises instead. ``check_images="exists"`` (default) checks files exist;
  ``"decode"`` also opens them (:func:`radrl.data.images.image_problem`: header, pixel cap, verify).
* Image paths must stay inside the image root: ``../`` or an absolute path in a dataset file is
  skipped as ``image outside the dataset root`` unless ``allow_outside_root=True``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tarfile
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from radrl.data.sample import Sample
from radrl.data.sections import join_sections, split_sections
from radrl.io import InputError, read_records, record_id, text_field

VIEWS = ("all", "frontal", "per_image")
TARGETS = ("findings", "impression", "both")


class DataError(InputError):
    """A sample could not be used and the loader runs in strict mode."""


@dataclass
class LoadReport:
    """What a loader kept and skipped, and why."""

    source: str
    kept: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def skip(self, reason: str, sample_id: str, strict: bool) -> None:
        if strict:
            raise DataError(f"{self.source}: sample {sample_id!r}: {reason} (strict mode)")
        self.skipped.setdefault(reason, []).append(sample_id)

    @property
    def n_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    def warn(self) -> None:
        if _COLLECTED is not None:
            _COLLECTED.append(self)
        if not self.skipped:
            return
        parts = [f"{len(ids)} {reason} (first: {', '.join(ids[:3])})" for reason, ids in self.skipped.items()]
        warnings.warn(f"{self.source}: kept {self.kept}, skipped {self.n_skipped}: " + "; ".join(parts),
                      stacklevel=3)


_COLLECTED: list[LoadReport] | None = None


@contextlib.contextmanager
def collect_load_reports():
    """Every ``LoadReport`` the loaders finish inside the block (``radrl data inspect``)."""
    global _COLLECTED
    outer, _COLLECTED = _COLLECTED, []
    try:
        yield _COLLECTED
    finally:
        _COLLECTED = outer


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _target_text(findings: str | None, impression: str | None, target: str) -> str:
    if target == "findings":
        return (findings or impression or "").strip()
    if target == "impression":
        return (impression or findings or "").strip()
    return join_sections(findings, impression)


_CHECKS = ("none", "exists", "decode")


def _inside(path: Path, root: Path | None) -> bool:
    """``path`` lies under ``root`` once ``..`` is resolved (lexically: a symlinked image folder
    is the user's own layout and stays allowed)."""
    if root is None:
        return True
    root_s = os.path.normpath(os.path.abspath(root))
    return os.path.normpath(os.path.abspath(path)).startswith(root_s.rstrip(os.sep) + os.sep)


def _image_ok(path: Path, check_images: str, root: Path | None = None, allow_outside_root: bool = False) -> str | None:
    """None when usable, else the reason."""
    if not allow_outside_root and not _inside(path, root):
        return ("image outside the dataset root (images must lie under it for this dataset layout; pass the "
                "loader option allow_outside_root: true - data.options in a recipe, --data-option on the command line)")
    if check_images == "none":
        return None
    if check_images == "decode":
        from radrl.data.images import image_problem

        return image_problem(path)
    if not path.is_file():
        return "missing image"
    return None


def _emit(
    report: LoadReport,
    sample_id: str,
    images: list[Path],
    frontal: list[bool] | None,
    findings: str | None,
    impression: str | None,
    target: str,
    views: str,
    strict: bool,
    check_images: str,
    labels: dict | None = None,
    meta: dict | None = None,
    root: Path | None = None,
    allow_outside_root: bool = False,
) -> Iterator[Sample]:
    if not sample_id:
        report.skip("no id", f"#{report.kept + report.n_skipped + 1}", strict)
        return
    if sample_id in report.seen:
        report.skip("repeated id (the first is kept)", sample_id, strict)
        return
    report.seen.add(sample_id)
    text = _target_text(findings, impression, target)
    if not text:
        report.skip("empty report", sample_id, strict)
        return
    for img in images:
        reason = _image_ok(img, check_images, root, allow_outside_root)
        if reason:
            report.skip(reason, sample_id, strict)
            return
    if not images and check_images != "none":
        report.skip("no image", sample_id, strict)
        return
    paths = [str(p) for p in images]
    meta = dict(meta or {})
    if views == "all":
        chosen = [(sample_id, paths)]
    elif views == "frontal":
        flags = frontal if frontal is not None else [i == 0 for i in range(len(paths))]
        front = [p for p, f in zip(paths, flags) if f] or paths[:1]
        chosen = [(sample_id, front[:1])]
    else:
        chosen = [(f"{sample_id}#{i}", [p]) for i, p in enumerate(paths)]
    for sid, imgs in chosen:
        report.kept += 1
        yield Sample(sid, imgs, text, findings or None, impression or None, labels,
                     dict(meta, study_id=sample_id, **({"image_root": str(root)} if root is not None else {})))


def load_r2gen(
    annotation: str | Path,
    image_root: str | Path | None = None,
    split: str | None = "train",
    views: str = "all",
    target: str = "findings",
    strict: bool = False,
    check_images: str = "exists",
    allow_outside_root: bool = False,
) -> list[Sample]:
    """R2Gen ``annotation.json``: ``{"train": [...], "val": [...], "test": [...]}``.

    Each entry has ``id``, ``report`` and ``image_path`` (relative to ``image_root``, by default
    the ``images`` folder beside the annotation file). In the IU layout ``0.png`` is the frontal
    view; in the MIMIC layout the first image is taken as frontal. ``report`` in R2Gen files is
    already one section (FINDINGS); sections are split out when headers are present.
    """
    _check_choice("views", views, VIEWS)
    _check_choice("target", target, TARGETS)
    _check_choice("check_images", check_images, _CHECKS)
    annotation = Path(annotation)
    root = Path(image_root) if image_root is not None else annotation.parent / "images"
    try:
        data = json.loads(annotation.read_text(encoding="utf-8-sig", errors="replace"))
    except FileNotFoundError:
        raise InputError(f"{annotation}: no such file") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{annotation}: invalid JSON at line {exc.lineno} ({exc.msg})") from None
    splits = [split] if split else list(data)
    report = LoadReport(f"{annotation} [{','.join(map(str, splits))}]")
    samples: list[Sample] = []
    for name in splits:
        if name not in data:
            raise InputError(f"{annotation}: no split {name!r}; it has {sorted(data)}")
        for index, entry in enumerate(data[name]):
            where = f"{annotation}: {name}[{index}]"
            if not isinstance(entry, dict):
                raise InputError(f"{where}: expected an object with 'id', 'report' and 'image_path'")
            sid = str(entry.get("id") or entry.get("study_id") or "")
            raw = text_field(entry, "report", where) or ""
            paths = entry.get("image_path", [])
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise InputError(f"{where}: 'image_path' must be a list of paths")
            sec = split_sections(raw)
            findings = sec.findings or (sec.body or None)
            images = [root / p for p in paths]
            frontal = [Path(p).stem == "0" for p in paths]
            if not any(frontal):
                frontal = None
            meta = {"split": name, **{k: entry[k] for k in ("subject_id", "study_id") if k in entry}}
            samples.extend(_emit(report, sid, images, frontal, findings, sec.impression, target, views,
                                 strict, check_images, meta=meta, root=root, allow_outside_root=allow_outside_root))
    report.warn()
    return samples


def load_chexpert_plus(
    csv_path: str | Path,
    image_root: str | Path | None = None,
    split: str | None = "train",
    views: str = "frontal",
    target: str = "findings",
    strict: bool = False,
    check_images: str = "exists",
    allow_outside_root: bool = False,
) -> list[Sample]:
    """CheXpert Plus CSV: one row per image (``path_to_image``, ``frontal_lateral``,
    ``section_findings``, ``section_impression``, ``deid_patient_id``,
    ``patient_report_date_order``, ``split``). Rows of one study are grouped by patient and
    report order. Image paths are relative to ``image_root`` (default: the CSV's folder).
    """
    _check_choice("views", views, VIEWS)
    _check_choice("target", target, TARGETS)
    _check_choice("check_images", check_images, _CHECKS)
    csv_path = Path(csv_path)
    root = Path(image_root) if image_root is not None else csv_path.parent
    studies: dict[str, dict] = {}
    for lineno, row in read_records(csv_path):
        if "path_to_image" not in row:
            raise InputError(f"{csv_path}, line {lineno}: no 'path_to_image' column; found {sorted(row)}")
        if split and row.get("split", split) not in (split, "valid" if split == "val" else split):
            continue
        key = f"{row.get('deid_patient_id', '')}_{row.get('patient_report_date_order', lineno)}"
        study = studies.setdefault(key, {"images": [], "frontal": [], "row": row})
        image = root / row["path_to_image"]
        if not image.exists():  # some CheXpert Plus releases ship PNGs where the CSV says .jpg (and back)
            other = image.with_suffix(".png" if image.suffix.lower() in (".jpg", ".jpeg") else ".jpg")
            image = other if other.exists() else image
        study["images"].append(image)
        study["frontal"].append(row.get("frontal_lateral", "").strip().lower() == "frontal")
    report = LoadReport(str(csv_path))
    samples: list[Sample] = []
    for key, study in studies.items():
        row = study["row"]
        meta = {"split": row.get("split"), "patient_id": row.get("deid_patient_id")}
        samples.extend(_emit(report, key, study["images"], study["frontal"],
                             (row.get("section_findings") or "").strip() or None,
                             (row.get("section_impression") or "").strip() or None,
                             target, views, strict, check_images, meta=meta, root=root,
                             allow_outside_root=allow_outside_root))
    report.warn()
    return samples


def _openi_documents(source: Path) -> Iterator[tuple[str, bytes]]:
    if source.is_dir():
        for path in sorted(source.rglob("*.xml")):
            yield str(path), path.read_bytes()
    elif tarfile.is_tarfile(source):
        with tarfile.open(source) as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".xml"):
                    f = tar.extractfile(member)
                    if f is not None:
                        yield member.name, f.read()
    else:
        raise InputError(f"{source}: expected the NLMCXR_reports.tgz archive or a folder of Open-i XML files")


def load_openi(
    source: str | Path,
    image_root: str | Path | None = None,
    views: str = "all",
    target: str = "findings",
    strict: bool = False,
    check_images: str = "exists",
    image_ext: str = ".png",
    allow_outside_root: bool = False,
) -> list[Sample]:
    """Open-i (IU X-Ray) XML reports: ``AbstractText Label="FINDINGS"/"IMPRESSION"``, images from
    ``parentImage id`` + ``image_ext`` under ``image_root`` (the ``NLMCXR_png`` folder). MeSH
    terms go to ``meta["mesh"]``. With ``check_images="none"`` and no image root, reports only.
    """
    _check_choice("views", views, VIEWS)
    _check_choice("target", target, TARGETS)
    _check_choice("check_images", check_images, _CHECKS)
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: no such file or folder")
    root = Path(image_root) if image_root is not None else None
    report = LoadReport(str(source))
    samples: list[Sample] = []
    for name, data in _openi_documents(source):
        try:
            doc = ET.fromstring(data)
        except ET.ParseError as exc:
            report.skip(f"invalid XML ({exc})", name, strict)
            continue
        uid = doc.find(".//uId")
        sid = uid.get("id") if uid is not None and uid.get("id") else Path(name).stem
        sections = {(a.get("Label") or "").upper(): (a.text or "").strip() for a in doc.iter("AbstractText")}
        image_ids = [p.get("id") for p in doc.iter("parentImage") if p.get("id")]
        images = [root / f"{i}{image_ext}" for i in image_ids] if root is not None else []
        mesh = [m.text for m in doc.iter("major") if m.text]
        samples.extend(_emit(report, sid, images, None, sections.get("FINDINGS") or None,
                             sections.get("IMPRESSION") or None, target, views, strict,
                             check_images if root is not None else "none",
                             meta={"mesh": mesh, "image_ids": image_ids, "file": name}, root=root,
                             allow_outside_root=allow_outside_root))
    report.warn()
    return samples


def load_records(
    path: str | Path,
    image_root: str | Path | None = None,
    views: str = "all",
    target: str = "both",
    strict: bool = False,
    check_images: str = "exists",
    allow_outside_root: bool = True,
    split: str | None = None,
) -> list[Sample]:
    """Generic ``.jsonl`` / ``.csv``, the manifest a user writes: ``id``; ``images`` (list, or
    ``;``-separated in CSV) or ``image``; ``report`` or ``findings``/``impression``; optional
    ``labels`` (JSONL) and ``split``. Image paths are absolute or relative to the file (or to
    ``image_root``); a user's own manifest is not confined to its folder (``allow_outside_root``).
    With ``split`` and a ``split`` column, only that split's rows; without the column, every row."""
    _check_choice("views", views, VIEWS)
    _check_choice("target", target, TARGETS)
    _check_choice("check_images", check_images, _CHECKS)
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    report = LoadReport(str(path))
    samples: list[Sample] = []
    rows = list(read_records(path))
    if split is not None and any("split" in row for _, row in rows):
        rows = [(n, row) for n, row in rows if str(row.get("split", "")) == split]
    for lineno, row in rows:
        where = f"{path}, line {lineno}"
        sample_id = record_id(row, where)
        raw_images = row.get("images", row.get("image", []))
        if isinstance(raw_images, str):
            raw_images = [p for p in raw_images.split(";") if p.strip()]
        if not isinstance(raw_images, list) or not all(isinstance(p, str) for p in raw_images):
            raise InputError(f"{where}: 'images' must be a list of paths (or 'image' one path)")
        images = [root / p.strip() for p in raw_images]
        findings, impression = text_field(row, "findings", where), text_field(row, "impression", where)
        if findings is None and impression is None:
            sec = split_sections(text_field(row, "report", where))
            findings = sec.findings or sec.body or None
            impression = sec.impression
        labels = row.get("labels")
        if labels is not None and not isinstance(labels, dict):
            raise InputError(f"{where}: 'labels' must be an object (observation -> value)")
        samples.extend(_emit(report, sample_id, images, None, findings, impression, target, views,
                             strict, check_images, labels=labels or None,
                             meta=row.get("meta") if isinstance(row.get("meta"), dict) else None,
                             root=root, allow_outside_root=allow_outside_root))
    report.warn()
    return samples

