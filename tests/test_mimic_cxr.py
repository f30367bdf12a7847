"""The mimic_cxr kind on a fixture tree in PhysioNet's official layout (our own files)."""

from __future__ import annotations

import gzip
import json

import pytest
from PIL import Image

from radrl.cli import main
from radrl.data.registry import load_dataset
from radrl.io import InputError

OBS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
       "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
       "Pneumothorax", "Support Devices"]

REPORT_1 = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with new onset ascites  // eval for infection

 COMPARISON:  None.

 FINDINGS:

 There is no focal consolidation or pneumothorax.  Small left pleural
 effusion.  The cardiomediastinal silhouette is
 enlarged.

 IMPRESSION:

 Cardiomegaly and small left effusion.
"""
REPORT_2 = """ findings :   Portable AP view. Lines and tubes in standard position.
 impression: No acute process."""
REPORT_IMPRESSION_ONLY = """EXAMINATION: CHEST PORTABLE
IMPRESSION:  Stable mild pulmonary edema."""


def _study(root, subject, study, images, report, reports_under="files"):
    folder = root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
    folder.mkdir(parents=True, exist_ok=True)
    for dicom, _ in images:
        Image.new("L", (64, 48), 120).save(folder / f"{dicom}.jpg")
    if report is not None:
        base = root if reports_under == "files" else root / "mimic-cxr-reports"
        path = base / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report)


@pytest.fixture
def mimic(tmp_path):
    root = tmp_path / "mimic"
    studies = [  # subject, study, [(dicom, view)], report, split, chexpert cells
        ("10000032", "50414267", [("d-pa", "PA"), ("d-lat", "LATERAL")], REPORT_1, "train",
         {"Cardiomegaly": "1.0", "Pleural Effusion": "1.0", "Pneumothorax": "0.0", "Consolidation": "-1.0"}),
        ("10000032", "53189527", [("d-ap", "AP")], REPORT_2, "train", {"Support Devices": "1.0"}),
        ("10000764", "57375967", [("d-lat2", "LATERAL")], REPORT_1, "train", {}),      # no frontal image
        ("10000898", "50771383", [("d-pa3", "PA")], None, "validate", {}),            # report missing
        ("10001176", "53186264", [("d-ap4", "AP"), ("d-pa4", "PA")], REPORT_IMPRESSION_ONLY, "test",
         {"Edema": "-1.0"}),
    ]
    split_rows, meta_rows, chex_rows = [], [], []
    for subject, study, images, report, split, cells in studies:
        _study(root, subject, study, images, report, "files" if split != "test" else "zip")
        for dicom, view in images:
            split_rows.append(f"{dicom},{study},{subject},{split}")
            meta_rows.append(f"{dicom},{subject},{study},CHEST (PA AND LAT),{view},3056,2544")
        chex_rows.append(",".join([subject, study] + [cells.get(o, "") for o in OBS]))
    (root / "mimic-cxr-2.0.0-split.csv").write_text("dicom_id,study_id,subject_id,split\n" + "\n".join(split_rows) + "\n")
    with gzip.open(root / "mimic-cxr-2.0.0-metadata.csv.gz", "wt") as f:
        f.write("dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns\n"
                + "\n".join(meta_rows) + "\n")
    (root / "mimic-cxr-2.0.0-chexpert.csv").write_text("subject_id,study_id," + ",".join(OBS) + "\n"
                                                       + "\n".join(chex_rows) + "\n")
    return root


def test_frontal_policy_sections_labels_and_skips(mimic):
    with pytest.warns(UserWarning, match=r"kept 2, skipped 1: 1 no frontal \(PA/AP\) image \(first: s57375967\)"):
        train = load_dataset("mimic_cxr", mimic, split="train")
    first, second = train
    assert first.id == "s50414267" and [p.rsplit("/", 1)[1] for p in first.images] == ["d-pa.jpg"]
    assert first.findings == ("There is no focal consolidation or pneumothorax. Small left pleural effusion. "
                              "The cardiomediastinal silhouette is enlarged.")
    assert first.impression == "Cardiomegaly and small left effusion." and first.report == first.findings
    assert first.labels["Cardiomegaly"] == "positive" and first.labels["Pneumothorax"] == "negative"
    assert first.labels["Consolidation"] == "uncertain" and first.labels["Edema"] == "blank"
    assert second.images[0].endswith("d-ap.jpg") and second.impression == "No acute process."  # lower-case headers
    with pytest.warns(UserWarning, match="1 missing report"):
        assert load_dataset("mimic_cxr", mimic, split="val") == []
    test = load_dataset("mimic_cxr", mimic, split="test")  # report from mimic-cxr-reports/, PA preferred
    assert test[0].images[0].endswith("d-pa4.jpg") and test[0].findings is None
    assert test[0].report == "Stable mild pulmonary edema."  # no FINDINGS: impression only
    assert test[0].labels["Edema"] == "uncertain" and test[0].meta["split"] == "test"


def test_view_policies_labeler_labels_and_metadata_filter(mimic):
    every = load_dataset("mimic_cxr", mimic, split="train", views="all")
    assert [len(s.images) for s in every] == [2, 1, 1]
    per_image = load_dataset("mimic_cxr", mimic, split="train", views="per_image")
    assert [s.id for s in per_image] == ["s50414267#0", "s50414267#1", "s53189527#0", "s57375967#0"]
    assert all(s.labels is None for s in load_dataset("mimic_cxr", mimic, split="train", views="all",
                                                          labels="labeler"))
    lateral_only = load_dataset("mimic_cxr", mimic, split="train", views="all", metadata={"ViewPosition": "LATERAL"})
    assert [s.images[0].rsplit("/", 1)[1] for s in lateral_only] == ["d-lat.jpg", "d-lat2.jpg"]
    with pytest.raises(InputError, match="no column 'Nope'"):
        load_dataset("mimic_cxr", mimic, split="train", metadata={"Nope": "x"})
    with pytest.raises(InputError, match="no mimic-cxr-2.0.0-metadata.csv"):
        load_dataset("mimic_cxr", mimic / "files", split="train")


def test_the_cli_reads_it(mimic, tmp_path, capsys):
    assert main(["recipes", "show", "deer", "data.kind=mimic_cxr", f"data.path={mimic}",
                 "data.options={views: frontal, labels: chexpert}"]) == 0
    out = tmp_path / "cache"
    assert main(["prepare-images", "--data", f"mimic_cxr:{mimic}", "--split", "train", "--max-pixels", "1024",
                 "-o", str(out), "--workers", "1"]) == 0
    assert json.loads((out / "prepare_images.json").read_text())["n_images"] == 2


def test_data_inspect(mimic, capsys):
    assert main(["data", "inspect", "--data", f"mimic_cxr:{mimic}", "--split", "train", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_samples"] == 2 and summary["n_skipped"] == 1
    assert summary["skipped"] == {"no frontal (PA/AP) image": 1} and summary["label_source"] == "dataset"
    assert summary["label_prevalence"]["Cardiomegaly"]["positive"] == 0.5
    assert summary["label_prevalence"]["Consolidation"]["uncertain"] == 0.5
    assert summary["views"] == {"PA": 1, "AP": 1} and summary["sections"]["both"] == 1.0
    first = summary["samples"][0]
    assert set(first) == {"id", "images", "report", "findings", "impression", "labels"} and first["id"] == "s50414267"
    assert first["report"] == first["findings"]  # the text training learns to write (the default target: FINDINGS)
    assert main(["data", "inspect", "--data", f"mimic_cxr:{mimic}", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "1 samples, 0 skipped" in out and "IMPRESSION 100.0%" in out and "FINDINGS 0.0%" in out
