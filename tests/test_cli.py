"""`radrl label` / `radrl eval`: the file contracts of docs/cli.md, and bad input without tracebacks."""

import json
import subprocess
import sys

import pytest

from radrl.cli import main
from radrl.schema import OBSERVATIONS


def write(path, text, mode="w"):
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def read_jsonl(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_label_jsonl_contract(tmp_path):
    src = write(tmp_path / "in.jsonl", "\n".join(json.dumps(r) for r in [
        {"id": "a", "report": "Moderate cardiomegaly."},
        {"id": 7, "findings": "No pneumothorax.", "impression": "Small left effusion."},
        {"id": "c", "report": ""},
    ]) + "\n")
    assert main(["label", str(src), "-o", str(tmp_path / "out.jsonl")]) == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == ["a", 7, "c"]
    assert all(list(r["labels"]) == list(OBSERVATIONS) for r in rows)
    assert rows[0]["labels"]["Cardiomegaly"] == "positive"
    assert rows[1]["labels"]["Pneumothorax"] == "negative"
    assert rows[1]["labels"]["Pleural Effusion"] == "positive"
    assert set(rows[2]["labels"].values()) == {"blank"}


def test_label_csv(tmp_path):
    src = write(tmp_path / "in.csv", 'id,report\n1,"No effusion, no pneumothorax."\n2,"1. Cardiomegaly.\n2. Edema."\n')
    assert main(["label", str(src), "-o", str(tmp_path / "out.jsonl")]) == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == ["1", "2"]
    assert rows[1]["labels"]["Edema"] == "positive"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.jsonl", '{"id": 1, "report": "ok"}\n{"id": 2, "report": \n', "line 2: invalid JSON"),
    ("nocol.jsonl", '{"id": 1, "text": "ok"}\n', "line 1: no 'report'"),
    ("noid.csv", "report\nNo effusion.\n", "line 2: missing 'id'"),
    ("list.jsonl", "[1, 2]\n", "expected a JSON object"),
    ("in.txt", "hello", "unsupported file type"),
])
def test_label_bad_input_is_a_clear_error(tmp_path, capsys, name, content, message):
    src = write(tmp_path / name, content)
    assert main(["label", str(src), "-o", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert message in err and str(src) in err and "Traceback" not in err
    assert not (tmp_path / "out.jsonl").exists()


def test_label_missing_file(tmp_path, capsys):
    assert main(["label", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_label_non_utf8_and_huge_report(tmp_path):
    huge = "Small right effusion. " + "The lungs are clear. " * 5000
    src = write(tmp_path / "in.jsonl", b'{"id": 1, "report": "Cardiomegaly \xff\xfe."}\n'
                + json.dumps({"id": 2, "report": huge}).encode() + b"\n", mode="wb")
    assert main(["label", str(src), "-o", str(tmp_path / "out.jsonl")]) == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert rows[0]["labels"]["Cardiomegaly"] == "positive"
    assert rows[1]["labels"]["Pleural Effusion"] == "positive"


def test_output_is_written_atomically(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    src = write(tmp_path / "bad.jsonl", '{"id": 1, "report": "x"}\nnot json\n')
    assert main(["label", str(src), "-o", str(out)]) == 2
    assert out.read_text() == "old\n"  # untouched on failure
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_eval_contract(tmp_path):
    rows = [
        {"id": 1, "prediction": "Moderate cardiomegaly. No effusion.", "reference": "Cardiomegaly. Small effusion."},
        {"id": 2, "prediction": "No acute disease.", "reference": "No acute cardiopulmonary process."},
        {"id": 3, "prediction": "", "reference": "Right pneumothorax."},
    ]
    src = write(tmp_path / "preds.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", str(src), "-o", str(tmp_path / "m.json"), "--no-meteor"]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["n"] == 3 and m["labeler"] == "rule"
    assert set(m["nlg"]) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider"}
    assert m["nlg"]["meteor"] is None and m["nlg_errors"]["meteor"] == "disabled"
    for block in ("example", "macro", "micro", "micro_5"):
        assert set(m["clinical"][block]) == {"precision", "recall", "f1"}
    assert set(m["clinical"]["per_label"]) == set(OBSERVATIONS)
    assert set(m["clinical"]["per_label"]["Cardiomegaly"]) == {"precision", "recall", "f1", "support"}
    # sample 1: TP cardiomegaly, FN effusion -> F1 2/3; sample 2: No Finding both -> 1; sample 3: 0
    assert m["clinical"]["example"]["f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_eval_missing_field(tmp_path, capsys):
    src = write(tmp_path / "p.jsonl", '{"id": 1, "prediction": "x"}\n')
    assert main(["eval", str(src), "-o", str(tmp_path / "m.json")]) == 2
    assert "line 1: missing 'reference'" in capsys.readouterr().err


def test_console_script_runs_as_module(tmp_path):
    src = write(tmp_path / "in.jsonl", '{"id": 1, "report": "No effusion."}\n')
    proc = subprocess.run([sys.executable, "-m", "radrl.cli", "label", str(src), "-o", str(tmp_path / "o.jsonl")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert read_jsonl(tmp_path / "o.jsonl")[0]["labels"]["Pleural Effusion"] == "negative"
