"""`radrl reward`: a recipe's rewards on a predictions file, as training computes them."""

from __future__ import annotations

import json

import pytest

from radrl.cli import main


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_radflow_components_and_the_weighted_sum(tmp_path):
    findings, impression = "Small left pleural effusion. No pneumothorax.", "Small left pleural effusion."
    rows = [{"id": "good", "prediction": f"FINDINGS: {findings} IMPRESSION: {impression}",
             "reference_findings": findings, "reference_impression": impression},
            {"id": "flat", "prediction": f"{findings} Pneumothorax.",
             "reference_findings": findings, "reference_impression": impression}]
    out = tmp_path / "out.jsonl"
    assert main(["reward", str(_write(tmp_path / "p.jsonl", rows)), "--recipe", "radflow", "-o", str(out)]) == 0
    good, flat = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(good["components"]) >= {"syntax", "domain", "consistency", "impression", "radflow"}
    assert good["components"]["consistency"] == 1.0 and good["components"]["impression"] == 1.0
    assert flat["components"]["consistency"] == -1.0 and flat["components"]["impression"] == 0.0
    c = good["components"]
    assert c["radflow"] == pytest.approx(c["syntax"] + c["domain"] + c["consistency"] + c["impression"])
    assert good["reward"] == pytest.approx(c["radflow"]) and flat["reward"] < good["reward"]


def test_schedules_apply_at_the_given_step(tmp_path):
    """DEER (its offline TF-IDF recipe): F1, then F1 + 0.25 BLEU-2 from the scheduled step."""
    from radrl.recipe import load_recipe

    recipe = load_recipe("deer_tfidf")
    (switch, later_weight), = recipe.rewards[1].schedule
    rows = [{"id": 1, "prediction": "Small left effusion. Heart is enlarged.",
             "reference": "Mild cardiomegaly. Small left effusion.",
             "labels": {"Cardiomegaly": "positive", "Pleural Effusion": "positive"}}]
    src = _write(tmp_path / "p.jsonl", rows)
    early, late = tmp_path / "early.jsonl", tmp_path / "late.jsonl"
    assert main(["reward", str(src), "--recipe", "deer_tfidf", "-o", str(early)]) == 0
    assert main(["reward", str(src), "--recipe", "deer_tfidf", "-o", str(late), "--step", str(int(switch))]) == 0
    e, lt = json.loads(early.read_text()), json.loads(late.read_text())
    f1, bleu = e["components"]["example_f1"], e["components"]["bleu2"]
    from radrl.labelers import RuleLabeler

    predicted = {k for k, v in RuleLabeler().label(rows[0]["prediction"]).items() if v == "positive"}
    gold = {"Cardiomegaly", "Pleural Effusion"}
    assert f1 == pytest.approx(2 * len(predicted & gold) / (len(predicted) + len(gold)))  # by hand, on the labels
    assert e["reward"] == pytest.approx(f1) and lt["reward"] == pytest.approx(f1 + later_weight * bleu)
    assert 0 < bleu < 1


def test_bad_input_is_refused(tmp_path, capsys):
    bad = _write(tmp_path / "p.jsonl", [{"id": 1, "prediction": "x"}])
    assert main(["reward", str(bad), "--recipe", "deer_tfidf", "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "give 'reference'" in capsys.readouterr().err
    bad = _write(tmp_path / "p.jsonl", [{"id": 1, "prediction": "x", "reference": "y", "labels": {"Heart": "1"}}])
    assert main(["reward", str(bad), "--recipe", "deer_tfidf", "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "unknown observation" in capsys.readouterr().err
