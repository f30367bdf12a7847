import contextlib
import io

import pytest

from radrl.metrics import nlg
from radrl.metrics.nlg import clean_report, literature_text, nlg_metrics


def test_clean_report_follows_r2gen():
    assert clean_report("1. Heart size normal. 2. No effusion.") == "heart size normal . no effusion ."
    assert clean_report("Lungs: clear; no X-ray findings (stable).") == "lungs clear no x-ray findings stable ."  # R2Gen keeps hyphens
    assert clean_report("Line one\nline  two..") == "line one line two ."
    assert clean_report("") == " ."


def test_numbers_equal_pycocoevalcap_on_cleaned_text():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    refs = ["The heart is normal in size. No effusion.", "Mild cardiomegaly. Small left effusion.",
            "No acute disease.", "Right lower lobe pneumonia."]
    preds = ["Heart size normal. No pleural effusion.", "Cardiomegaly. No effusion.",
             "No acute cardiopulmonary disease.", "Left lower lobe atelectasis."]
    ours, errors = nlg_metrics(preds, refs, meteor=False)
    gts = {i: [literature_text(r)] for i, r in enumerate(refs)}
    res = {i: [literature_text(p)] for i, p in enumerate(preds)}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    assert [ours[f"bleu_{n}"] for n in range(1, 5)] == pytest.approx(bleu, abs=1e-12)
    assert ours["rouge_l"] == pytest.approx(Rouge().compute_score(gts, res)[0], abs=1e-12)
    assert ours["cider"] == pytest.approx(Cider().compute_score(gts, res)[0], abs=1e-12)
    assert ours["meteor"] is None and errors == {"meteor": "disabled"}


def test_literature_text_is_the_r2gen_round_trip():
    """clean_report can leave a double space (punctuation it removes between two spaces);
    R2Gen's tokenize / decode joins tokens with single spaces, and the papers score that text."""
    assert clean_report("No effusion ; no pneumothorax.") == "no effusion  no pneumothorax ."
    assert literature_text("No effusion ; no pneumothorax.") == "no effusion no pneumothorax ."
    assert literature_text("") == "."


def test_rouge_l_follows_the_literature_on_real_iu_reports(shared_data):
    """On real IU pairs, ROUGE-L equals pycocoevalcap on round-tripped text; on text cleaned
    only (the old convention) it differs wherever a double space is left."""
    import json

    from pycocoevalcap.rouge.rouge import Rouge

    rows = [json.loads(line) for line in (shared_data / "iu_xray" / "dev_reports_mesh.jsonl").read_text().splitlines()]
    refs = [r["findings"] or r["impression"] for r in rows[:880]]
    preds = [r["impression"] or r["findings"] for r in rows[1:881]]
    ours = nlg_metrics(preds, refs, meteor=False)[0]["rouge_l"]
    literature = Rouge().compute_score({i: [literature_text(r)] for i, r in enumerate(refs)},
                                       {i: [literature_text(p)] for i, p in enumerate(preds)})[0]
    cleaned_only = Rouge().compute_score({i: [clean_report(r)] for i, r in enumerate(refs)},
                                         {i: [clean_report(p)] for i, p in enumerate(preds)})[0]
    assert ours == pytest.approx(literature, abs=1e-12)
    assert any("  " in clean_report(t) for t in refs + preds)  # the case exists in real reports
    assert abs(ours - cleaned_only) > 1e-6


def test_identical_reports_score_perfect_bleu():
    refs = ["no acute cardiopulmonary process .", "mild cardiomegaly without edema ."]
    scores, _ = nlg_metrics(refs, refs, meteor=False)
    assert scores["bleu_1"] == pytest.approx(1.0) and scores["bleu_4"] == pytest.approx(1.0)
    assert scores["rouge_l"] == pytest.approx(1.0)


def test_meteor_is_null_with_reason_without_java(monkeypatch):
    monkeypatch.setattr(nlg, "java_available", lambda: False)
    scores, errors = nlg_metrics(["a b c"], ["a b d"])
    assert scores["meteor"] is None and "Java" in errors["meteor"]
    assert scores["bleu_1"] is not None


@pytest.mark.slow
@pytest.mark.java
def test_meteor_with_java():
    if not nlg.java_available():
        pytest.skip("no java")
    scores, errors = nlg_metrics(["mild cardiomegaly ."], ["moderate cardiomegaly ."])
    assert "meteor" not in errors and 0 < scores["meteor"] < 1


def test_length_mismatch_and_empty():
    with pytest.raises(ValueError):
        nlg_metrics(["a"], [])
    scores, errors = nlg_metrics([], [])
    assert all(v is None for v in scores.values()) and len(errors) == 7
