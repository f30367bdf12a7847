"""The literature's clinical-F1 conventions (``clinical.conventions``) against scikit-learn's
``classification_report`` on label vectors built here from the raw label dicts, and RadEval's
NLG (``nlg_radeval``) against the values RadEval publishes."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.metrics import classification_report, f1_score, precision_score, recall_score

from radrl.metrics import clinical_metrics, convention_scores, nlg_radeval
from radrl.schema import OBSERVATIONS

FIVE = ("Cardiomegaly", "Edema", "Consolidation", "Atelectasis", "Pleural Effusion")  # CheXpert's competition five
VALUES = ("positive", "negative", "uncertain", "blank")


def _studies(n=60, seed=0):
    """Random label dicts with uncertain mentions, a label no reference has (Fracture: zero
    support, yet predicted), and a study with no positive on either side (the last)."""
    rng = random.Random(seed)
    refs, preds = [], []
    for _ in range(n):
        ref = {o: rng.choice(VALUES) for o in OBSERVATIONS}
        ref["Fracture"] = rng.choice(("negative", "blank"))
        pred = {o: (ref[o] if rng.random() < 0.6 else rng.choice(VALUES)) for o in OBSERVATIONS}
        refs.append(ref)
        preds.append(pred)
    preds[0]["Fracture"] = "positive"
    refs[-1] = dict.fromkeys(OBSERVATIONS, "negative")
    preds[-1] = dict.fromkeys(OBSERVATIONS, "blank")
    return preds, refs


def _matrix(labels, names, uncertain_positive):
    hot = {"positive", "uncertain"} if uncertain_positive else {"positive"}
    return np.array([[int(lab[o] in hot) for o in names] for lab in labels])


@pytest.mark.parametrize("setting", ["uncertain_negative", "uncertain_positive"])
def test_every_convention_equals_sklearn(setting):
    preds, refs = _studies()
    scores = convention_scores(preds, refs)[setting]
    positive = setting == "uncertain_positive"
    for key, names in (("14", OBSERVATIONS), ("5", FIVE)):
        y_true, y_pred = _matrix(refs, names, positive), _matrix(preds, names, positive)
        report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
        for avg in ("micro", "macro"):
            got = scores[f"{avg}_{key}"]
            want = report[f"{avg} avg"]
            assert got["precision"] == pytest.approx(want["precision"], abs=1e-12)
            assert got["recall"] == pytest.approx(want["recall"], abs=1e-12)
            assert got["f1"] == pytest.approx(want["f1-score"], abs=1e-12)
    y_true, y_pred = _matrix(refs, OBSERVATIONS, positive), _matrix(preds, OBSERVATIONS, positive)
    assert y_true[:, OBSERVATIONS.index("Fracture")].sum() == 0 and y_pred[0, OBSERVATIONS.index("Fracture")] == 1
    assert y_true[-1].sum() == y_pred[-1].sum() == 0  # the study with no positive scores 0 in "example"
    for name, fn in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        assert scores["example"][name] == pytest.approx(fn(y_true, y_pred, average="samples", zero_division=0))


def test_zero_support_label_and_empty_study_by_hand():
    """Two studies, two labels that matter, by hand. Study 1: reference Edema uncertain, Cardiomegaly
    positive; prediction Cardiomegaly and Fracture positive. Study 2: nothing positive anywhere."""
    blank = dict.fromkeys(OBSERVATIONS, "blank")
    refs = [{**blank, "Cardiomegaly": "positive", "Edema": "uncertain"}, blank]
    preds = [{**blank, "Cardiomegaly": "positive", "Fracture": "positive"}, blank]
    c = convention_scores(preds, refs)
    neg, pos = c["uncertain_negative"], c["uncertain_positive"]
    # uncertain negative: TP 1 (Cardiomegaly), FP 1 (Fracture), FN 0
    assert neg["micro_14"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3})
    # per label: Cardiomegaly 1/1/1, Fracture (no support) 0/0/0, the other 12 all 0 -> mean over 14
    assert neg["macro_14"] == pytest.approx({"precision": 1 / 14, "recall": 1 / 14, "f1": 1 / 14})
    assert neg["micro_5"] == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0})
    assert neg["macro_5"] == pytest.approx({"precision": 0.2, "recall": 0.2, "f1": 0.2})
    # example: study 1 P 1/2, R 1, F1 2/3; study 2 has no positive on either side -> 0
    assert neg["example"] == pytest.approx({"precision": 0.25, "recall": 0.5, "f1": 1 / 3})
    # uncertain positive: Edema joins the reference -> FN 1
    assert pos["micro_14"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    assert pos["micro_5"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3})
    assert pos["macro_5"] == pytest.approx({"precision": 0.2, "recall": 0.2, "f1": 0.2})
    assert pos["example"]["f1"] == pytest.approx(0.25)  # study 1: 2*1 / (2 + 2) = 1/2, study 2: 0


def test_clinical_block_keeps_its_keys_and_adds_the_conventions():
    preds, refs = _studies(20, seed=1)
    out = clinical_metrics(preds, refs, uncertain="positive", empty_match="one")
    assert {"example", "macro", "micro", "micro_5", "per_label", "settings"} <= set(out)
    assert set(out["conventions"]) == {"uncertain_negative", "uncertain_positive"}
    for block in out["conventions"].values():
        assert set(block) == {"micro_14", "macro_14", "micro_5", "macro_5", "example"}
        assert all(set(v) == {"precision", "recall", "f1"} for v in block.values())
    # the run's own settings do not change the conventions (example there is always 0/0 -> 0)
    assert out["conventions"] == clinical_metrics(preds, refs)["conventions"]
    assert out["micro"] == pytest.approx(out["conventions"]["uncertain_positive"]["micro_14"])
    assert out["macro"] == pytest.approx(out["conventions"]["uncertain_positive"]["macro_14"])


# RadEval's regression fixture (tests/fixtures/regression_samples.py and expected_scores_cpu.json
# of github.com/jbdel/RadEval, RadEval 2.1), and its README's example.
RADEVAL_REFS = [
    "No acute cardiopulmonary process.",
    "Mild cardiomegaly with small bilateral pleural effusions and basilar atelectasis.",
    "1. Left PICC tip appears to terminate in the distal left brachiocephalic vein."
    "2. Mild pulmonary vascular congestion.",
    "No definite acute cardiopulmonary process. "
    "Enlarged cardiac silhouette could be accentuated by patient's positioning.",
    "Increased mild pulmonary edema and left basal atelectasis.",
]
RADEVAL_HYPS = [
    "No acute cardiopulmonary process.",
    "Mildly enlarged cardiac silhouette with small pleural effusions and dependent bibasilar atelectasis.",
    "Relatively lower lung volumes with no focal airspace consolidation appreciated.",
    "Crowding of the pulmonary vasculature with possible minimal perihilar edema, but no overt pulmonary edema.",
    "No pleural effusions or pneumothoraces.",
]
RADEVAL_PUBLISHED = {"bleu": 0.0826, "rouge1": 0.3224, "rouge2": 0.26, "rougeL": 0.3224}


def test_nlg_radeval_equals_radevals_published_values():
    got = nlg_radeval(RADEVAL_HYPS, RADEVAL_REFS)
    assert set(got) == set(RADEVAL_PUBLISHED)
    for key, value in RADEVAL_PUBLISHED.items():
        assert round(got[key], 4) == value, key  # RadEval rounds to 4 decimals
    from radrl.metrics.nlg_radeval import rouge_radeval_scores

    per_sample = rouge_radeval_scores(RADEVAL_HYPS, RADEVAL_REFS)
    assert per_sample["rouge1"] == pytest.approx([1.0, 0.5454545454545454, 0.0, 0.06666666666666667, 0.0])
    assert per_sample["rouge2"] == pytest.approx([1.0, 0.3, 0.0, 0.0, 0.0])
    # the README's example: {"bleu": 0.36}
    readme = nlg_radeval(["Mildly enlarged cardiac silhouette with small pleural effusions and dependent bibasilar "
                          "atelectasis.", "No pleural effusions or pneumothoraces."],
                         ["Mild cardiomegaly with small bilateral pleural effusions and basilar atelectasis.",
                          "No pleural effusions or pneumothoraces."])
    assert round(readme["bleu"], 2) == 0.36


def test_nlg_radeval_scores_the_raw_text():
    """RadEval does not clean: case and punctuation change the BLEU tokens; ROUGE's own tokeniser
    lower-cases and drops punctuation, so ROUGE does not move."""
    ref = ["Small left pleural effusion. No pneumothorax."]
    same = nlg_radeval(["small left pleural effusion no pneumothorax"], ref)
    exact = nlg_radeval(ref, ref)
    assert exact["bleu"] == pytest.approx(1.0, abs=1e-6) and same["bleu"] < 0.5
    assert same["rouge1"] == exact["rouge1"] == pytest.approx(1.0)
    assert nlg_radeval([], []) == {"bleu": None, "rouge1": None, "rouge2": None, "rougeL": None}
    with pytest.raises(ValueError):
        nlg_radeval(["a"], [])
