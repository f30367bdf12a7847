"""`radrl export`: each engine's dataset file read back with pyarrow / json holds the ids,
references, sections, labels and image paths `radrl data inspect --json` shows."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from radrl.cli import main
from radrl.config.sections import DEFAULT_INSTRUCTION
from radrl.integrations.rows import scoring_row


def _inspect(capsys, data: str, split: str) -> dict:
    capsys.readouterr()
    assert main(["data", "inspect", "--data", data, "--split", split, "--json", "--show", "1000"]) == 0
    return {s["id"]: s for s in json.loads(capsys.readouterr().out)["samples"]}


def _read(path) -> list[dict]:
    if str(path).endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def _fields(engine: str, row: dict) -> dict:
    """id, reference, findings, impression, labels, images and prompt of an exported row, read
    the way that engine's reward and dataset code will read them."""
    if engine == "verl":
        extra = row["extra_info"]
        gt = scoring_row("", row["reward_model"]["ground_truth"], extra)
        return {"id": extra["id"], **gt, "images": [i["image"] for i in row["images"]],
                "prompt": row["prompt"][0]["content"]}
    if engine == "easyr1":
        return {"id": row["id"], **scoring_row("", row["answer"]), "images": row["images"], "prompt": row["prompt"]}
    if engine == "swift":
        gt = scoring_row("", row["solution"], row)
        return {"id": row["id"], **gt, "images": row["images"], "prompt": row["messages"][0]["content"]}
    return {"id": row["id"], **scoring_row("", row["label"]), "images": row["images"],
            "prompt": row["input"][0]["content"]}


@pytest.mark.parametrize("engine", ["verl", "easyr1", "swift", "openrlhf"])
def test_export_round_trip(engine, tiny_bench, tmp_path, capsys):
    data = f"synthetic:{tiny_bench}"
    shown = _inspect(capsys, data, "val")
    out = tmp_path / engine
    assert main(["export", "--engine", engine, "--data", data, "--split", "val", "-o", str(out)]) == 0
    rows = _read(out / ("val.parquet" if engine == "verl" else "val.jsonl"))
    assert [_fields(engine, r)["id"] for r in rows] == list(shown)
    for row in rows:
        got, want = _fields(engine, row), shown[_fields(engine, row)["id"]]
        assert got["reference"] == want["report"]
        assert got["reference_findings"] == (want["findings"] or None)
        assert got["reference_impression"] == (want["impression"] or None)
        assert got["labels"] == want["labels"]
        assert got["images"] == [os.path.abspath(p) for p in want["images"]] and all(map(os.path.exists, got["images"]))
        assert got["prompt"] == "<image>" * len(want["images"]) + DEFAULT_INSTRUCTION
    record = json.loads((out / "radrl_export.json").read_text())
    assert record["engine"] == engine and record["rows"] == len(shown)
    assert main(["export", "--engine", engine, "--data", data, "--split", "test", "-o", str(out)]) == 0
    record = json.loads((out / "radrl_export.json").read_text())
    assert record["split"] == "test" and record["splits"]["val"]["rows"] == len(shown)  # earlier splits kept


def test_export_of_a_subset_and_a_recipe_instruction(tiny_bench, tmp_path, capsys):
    data = f"synthetic:{tiny_bench}"
    subset = tmp_path / "subset.json"
    assert main(["select", "random", "--data", data, "--size", "10", "-o", str(subset)]) == 0
    ids = set(json.loads(subset.read_text())["ids"])
    out = tmp_path / "verl"
    assert main(["export", "--engine", "verl", "--data", data, "--subset", str(subset), "--recipe", "mrg_r1",
                 "-o", str(out)]) == 0
    rows = pq.read_table(out / "train.parquet").to_pylist()
    assert {r["extra_info"]["id"] for r in rows} == ids
    from radrl.recipe import load_recipe

    assert rows[0]["prompt"][0]["content"].endswith(load_recipe("mrg_r1").instruction)


def test_export_refuses_a_subset_of_another_split(tiny_bench, tmp_path, capsys):
    data = f"synthetic:{tiny_bench}"
    subset = tmp_path / "subset.json"
    assert main(["select", "random", "--data", data, "--size", "5", "-o", str(subset)]) == 0
    assert main(["export", "--engine", "easyr1", "--data", data, "--split", "val", "--subset", str(subset),
                 "-o", str(tmp_path / "x")]) == 2
    assert "subset" in capsys.readouterr().err
