"""A new user's own files, tried the way a new user would: a manifest with absolute image paths
and a split column, loader options on the command line, files written by spreadsheet tools,
option ranges on the command line."""

from __future__ import annotations

import json

import pytest

from radrl.cli import main
from radrl.data.registry import load_dataset


def _png(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), 128).save(path)
    return path


def _manifest(tmp_path):
    """records.jsonl in one folder, its films in another (absolute paths) and beside it (relative)."""
    films = tmp_path / "elsewhere"
    rows = [
        {"id": "a", "images": [str(_png(films / "a.png"))], "report": "FINDINGS: Clear lungs.", "split": "train"},
        {"id": "b", "images": [str(_png(films / "b.png"))], "report": "FINDINGS: Small left effusion.", "split": "test"},
        {"id": "c", "images": ["c.png"], "report": "FINDINGS: Cardiomegaly.", "split": "train"},
    ]
    manifest = tmp_path / "data" / "records.jsonl"
    _png(manifest.parent / "c.png")
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def test_a_manifest_with_absolute_paths_and_a_split_column_just_works(tmp_path):
    manifest = _manifest(tmp_path)
    assert [s.id for s in load_dataset("records", manifest, split="train")] == ["a", "c"]
    assert [s.id for s in load_dataset("records", manifest, split="test")] == ["b"]
    assert [s.id for s in load_dataset("records", manifest, split=None)] == ["a", "b", "c"]
    # no split column: every row, whatever split is asked
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"id": "x", "images": [str(_png(tmp_path / "x.png"))], "report": "Clear."}) + "\n")
    assert [s.id for s in load_dataset("records", plain, split="test")] == ["x"]


def test_data_inspect_honours_the_split_column_and_loader_options(tmp_path, capsys):
    manifest = _manifest(tmp_path)
    assert main(["data", "inspect", "--data", f"records:{manifest}", "--split", "test", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_samples"] == 1 and [s["id"] for s in summary["samples"]] == ["b"]
    # a loader option from the command line, checked against the loader like a recipe's
    assert main(["data", "inspect", "--data", f"records:{manifest}", "--split", "train", "--json",
                 "--data-option", "allow_outside_root=false"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)["samples"]] == ["c"]  # a is outside data/
    assert main(["data", "inspect", "--data", f"records:{manifest}", "--data-option", "allow_outside_rot=true"]) == 2
    err = capsys.readouterr().err
    assert "allow_outside_rot" in err and "did you mean allow_outside_root?" in err


def test_a_known_layout_stays_confined_and_says_how_to_allow_it(tmp_path):
    root = tmp_path / "iu"
    (root / "images").mkdir(parents=True)
    _png(tmp_path / "film.png")
    annotation = root / "annotation.json"
    annotation.write_text(json.dumps({"train": [{"id": "x", "report": "Clear.", "image_path": ["../../film.png"]}]}))
    with pytest.warns(UserWarning, match="allow_outside_root: true"):
        assert load_dataset("r2gen", annotation, split="train") == []
    assert [s.id for s in load_dataset("r2gen", annotation, split="train", allow_outside_root=True)] == ["x"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_files_with_a_byte_order_mark_read_as_without_it(tmp_path, capsys, suffix):
    """Excel's "CSV UTF-8" starts with a BOM: the header's first field was read as '\\ufeffid'."""
    if suffix == ".csv":
        text = "id,report\n1,There is a large left pleural effusion.\n2,No acute findings.\n"
    else:
        text = "".join(json.dumps(r) + "\n" for r in [{"id": "1", "report": "There is a large left pleural effusion."},
                                                       {"id": "2", "report": "No acute findings."}])
    plain, marked = tmp_path / f"plain{suffix}", tmp_path / f"marked{suffix}"
    plain.write_text(text, encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert main(["label", str(plain), "-o", str(tmp_path / "a.jsonl")]) == 0
    assert main(["label", str(marked), "-o", str(tmp_path / "b.jsonl")]) == 0
    a, b = (tmp_path / "a.jsonl").read_text(), (tmp_path / "b.jsonl").read_text()
    assert a == b and json.loads(a.splitlines()[0])["labels"]["Pleural Effusion"] == "positive"


@pytest.mark.parametrize("args, words", [
    (["plan", "--recipe", "deer", "--gpus", "0"], "--gpus: must be >= 1, got 0"),
    (["plan", "--recipe", "deer", "--gpu-memory", "-3"], "--gpu-memory: must be > 0, got -3"),
    (["compare", "a.jsonl", "b.jsonl", "-o", "c.json", "--resamples", "0"], "--resamples: must be >= 1"),
    (["analyze", "masking", "--labeler-weights", "x", "--fraction", "1.5"], "--fraction: must lie in (0, 1], got 1.5"),
])
def test_out_of_range_options_are_refused_by_name(args, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
