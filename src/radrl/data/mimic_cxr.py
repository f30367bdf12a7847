"""MIMIC-CXR in its official layout (PhysioNet's MIMIC-CXR-JPG 2.0.0 + the reports archive).

::

    ROOT/mimic-cxr-2.0.0-split.csv(.gz)      dicom_id, study_id, subject_id, split (train/validate/test)
    ROOT/mimic-cxr-2.0.0-metadata.csv(.gz)   dicom_id, ..., ViewPosition (PA, AP, LATERAL, LL, ...)
    ROOT/mimic-cxr-2.0.0-chexpert.csv(.gz)   subject_id, study_id, the 14 observations (1.0/0.0/-1.0/blank)
    ROOT/files/pXX/pNNNNNNNN/sNNNNNNNN/<dicom_id>.jpg
    ROOT/files/pXX/pNNNNNNNN/sNNNNNNNN.txt   (or ROOT/mimic-cxr-reports/files/..., as the zip unpacks)

One sample per study (``views="frontal"``: one PA image, else one AP; ``"all"``: every image of
the study; ``"per_image"``: one sample per image). FINDINGS and IMPRESSION are parsed from the
free-text report (:func:`radrl.data.sections.split_sections`: headers in any case and spacing,
wrapped lines joined, ``___`` de-identification kept as written); a study without FINDINGS falls
back to its IMPRESSION (``target="findings"``), as is common practice. Labels come from the
CheXpert CSV (radiologist-checked labeler output; ``labels="labeler"`` leaves them to radrl's
labeler). ``metadata={"ViewPosition": ["PA", "AP"], ...}`` keeps only images whose metadata
column has one of the values. Studies without a usable image or report are skipped and counted
(``LoadReport``), never fatal.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from radrl.data.sample import Sample
from radrl.data.sections import split_sections
from radrl.io import InputError, read_records
from radrl.schema import OBSERVATIONS, from_chexpert_csv_cell

SPLIT_NAMES = {"train": "train", "val": "validate", "validate": "validate", "valid": "validate", "test": "test"}
FRONTAL_ORDER = ("PA", "AP")  # the frontal policy: PA first, else AP


def _table(root: Path, name: str, required: bool = True) -> Path | None:
    for candidate in (root / f"mimic-cxr-2.0.0-{name}.csv", root / f"mimic-cxr-2.0.0-{name}.csv.gz"):
        if candidate.is_file():
            return candidate
    if required:
        raise InputError(f"{root}: no mimic-cxr-2.0.0-{name}.csv(.gz); the mimic_cxr kind reads PhysioNet's "
                         "official layout (ROOT holds the split, metadata and chexpert CSVs and files/)")
    return None


def _report_path(root: Path, subject: str, study: str) -> Path | None:
    relative = Path("files") / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt"
    for base in (root, root / "mimic-cxr-reports"):
        if (base / relative).is_file():
            return base / relative
    return None


def load_mimic_cxr(
    root: str | Path,
    split: str | None = "train",
    views: str = "frontal",
    target: str = "findings",
    labels: str = "chexpert",
    metadata: dict | None = None,
    image_root: str | Path | None = None,
    strict: bool = False,
    check_images: str = "exists",
    allow_outside_root: bool = False,
) -> list[Sample]:
    """Samples of ``split`` (train / val / test; None: all) from MIMIC-CXR's official layout."""
    from radrl.data.loaders import TARGETS, VIEWS, LoadReport, _check_choice, _emit

    _check_choice("views", views, VIEWS)
    _check_choice("target", target, TARGETS)
    _check_choice("labels", labels, ("chexpert", "labeler"))
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: expected the MIMIC-CXR folder (its split/metadata/chexpert CSVs and files/)")
    images_root = Path(image_root) if image_root is not None else root
    wanted = None if split is None else SPLIT_NAMES.get(split)
    if split is not None and wanted is None:
        raise InputError(f"MIMIC-CXR has splits train, val (validate) and test; got {split!r}")
    view_of = _views(root, metadata)
    studies, study_split = _studies(root, wanted, view_of)
    gold = _gold(root, labels, study_split)
    report = LoadReport(f"{root} [{split or 'all'}]")
    samples: list[Sample] = []
    for (subject, study), images in studies.items():
        sid = f"s{study}"
        text_path = _report_path(root, subject, study)
        if text_path is None:
            report.skip("missing report", sid, strict)
            continue
        if views == "frontal":
            images = next(([im] for order in FRONTAL_ORDER for im in images if im[1] == order), [])
            if not images:
                report.skip("no frontal (PA/AP) image", sid, strict)
                continue
        if not images:
            report.skip("no image", sid, strict)
            continue
        sections = split_sections(text_path.read_text(encoding="utf-8-sig", errors="replace"))
        findings, impression = sections.findings, sections.impression
        if findings is None and impression is None:  # no recognised section to learn from
            report.skip("no FINDINGS or IMPRESSION section", sid, strict)
            continue
        folder = images_root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
        paths = [folder / f"{dicom}.jpg" for dicom, _ in images]
        samples.extend(_emit(report, sid, paths, None, findings, impression, target,
                             "per_image" if views == "per_image" else "all", strict, check_images,
                             labels=gold.get((subject, study)),
                             meta={"split": study_split[(subject, study)], "subject_id": subject,
                                   "views": [v for _, v in images], "report_file": str(text_path)},
                             root=images_root, allow_outside_root=allow_outside_root))
    report.warn()
    return samples


def _views(root: Path, metadata: dict | None) -> dict[str, str]:
    """dicom_id -> view position, for the images whose metadata passes the ``metadata`` filters."""
    view_of = {}
    meta_path = _table(root, "metadata")
    filters = {k: {str(x) for x in (v if isinstance(v, list) else [v])} for k, v in (metadata or {}).items()}
    for lineno, row in read_records(meta_path):
        if "dicom_id" not in row or "ViewPosition" not in row:
            raise InputError(f"{meta_path}, line {lineno}: needs dicom_id and ViewPosition columns")
        missing = [k for k in filters if k not in row]
        if missing:
            raise InputError(f"metadata filter: {meta_path} has no column {missing[0]!r}")
        if all(row[k] in allowed for k, allowed in filters.items()):
            view_of[row["dicom_id"]] = row["ViewPosition"].strip().upper()
    return view_of


def _studies(root: Path, wanted: str | None, view_of: dict) -> tuple[dict, dict]:
    """(subject, study) -> [(dicom_id, view)] of the split ``wanted`` (None: all), and each study's split."""
    studies: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    split_path = _table(root, "split")
    study_split = {}
    for lineno, row in read_records(split_path):
        if not {"dicom_id", "study_id", "subject_id", "split"} <= set(row):
            raise InputError(f"{split_path}, line {lineno}: needs dicom_id, study_id, subject_id and split columns")
        if wanted is not None and row["split"] != wanted:
            continue
        key = (row["subject_id"], row["study_id"])
        study_split[key] = row["split"]
        if row["dicom_id"] in view_of:
            studies[key].append((row["dicom_id"], view_of[row["dicom_id"]]))
        else:
            studies.setdefault(key, [])
    return studies, study_split


def _gold(root: Path, labels: str, study_split: dict) -> dict:
    """(subject, study) -> its CheXpert labels from the chexpert CSV (``labels: chexpert``)."""
    gold: dict[tuple[str, str], dict] = {}
    chexpert_path = _table(root, "chexpert", required=labels == "chexpert")
    if labels == "chexpert":
        for lineno, row in read_records(chexpert_path):
            key = (row.get("subject_id", ""), row.get("study_id", ""))
            if key in study_split:
                try:
                    gold[key] = {name: from_chexpert_csv_cell(row.get(name, "")) for name in OBSERVATIONS}
                except ValueError as err:
                    raise InputError(f"{chexpert_path}, line {lineno}: {err}") from None
    return gold
