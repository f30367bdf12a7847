import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from radrl.metrics.clinical import clinical_metrics, example_based, example_scores, macro, micro
from radrl.schema import from_positives


def test_example_based_hand_computed():
    # sample 0: TP=1 FP=1 FN=1 -> P=.5 R=.5 F1=.5 ; sample 1: TP=2 FP=0 FN=1 -> P=1 R=2/3 F1=.8
    pred = np.array([[1, 1, 0, 0], [1, 1, 0, 0]])
    ref = np.array([[1, 0, 1, 0], [1, 1, 1, 0]])
    s = example_scores(pred, ref)
    assert s["precision"].tolist() == [0.5, 1.0]
    assert s["recall"] == pytest.approx([0.5, 2 / 3])
    assert s["f1"] == pytest.approx([0.5, 0.8])
    assert example_based(pred, ref)["f1"] == pytest.approx(0.65)


def test_zero_over_zero_cases():
    pred = np.array([[0, 0], [0, 0], [1, 0]])
    ref = np.array([[0, 0], [1, 0], [0, 0]])
    zero = example_scores(pred, ref, "zero")
    one = example_scores(pred, ref, "one")
    # both empty: 0 by default, 1 with empty_match="one"; one-sided empties stay 0 either way
    assert zero["f1"].tolist() == [0.0, 0.0, 0.0]
    assert one["f1"].tolist() == [1.0, 0.0, 0.0]
    assert one["precision"].tolist() == [1.0, 0.0, 0.0]
    assert one["recall"].tolist() == [1.0, 0.0, 0.0]


def test_macro_micro_agree_with_sklearn():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 2, size=(50, 14))
    ref = rng.integers(0, 2, size=(50, 14))
    ref[:, 3] = 0  # a label with no support: 0/0 -> 0 like zero_division=0
    m = macro(pred, ref)
    assert m["f1"] == pytest.approx(f1_score(ref, pred, average="macro", zero_division=0))
    assert m["precision"] == pytest.approx(precision_score(ref, pred, average="macro", zero_division=0))
    assert m["recall"] == pytest.approx(recall_score(ref, pred, average="macro", zero_division=0))
    u = micro(pred, ref)
    assert u["f1"] == pytest.approx(f1_score(ref, pred, average="micro", zero_division=0))
    s = example_based(pred, ref)
    assert s["f1"] == pytest.approx(f1_score(ref, pred, average="samples", zero_division=0))


def test_clinical_metrics_block_layout_and_uncertain_option():
    preds = [{"Cardiomegaly": "positive", "Edema": "uncertain"}, {"No Finding": "positive"}]
    refs = [from_positives(["Cardiomegaly", "Edema"]), from_positives(["No Finding"])]
    out = clinical_metrics(preds, refs)
    assert set(out) >= {"example", "macro", "micro", "micro_5", "per_label"}
    assert len(out["per_label"]) == 14 and out["per_label"]["Edema"]["support"] == 1
    # uncertain as negative: sample 0 has TP=1, FN=1 -> F1 2/3; sample 1 perfect -> mean 5/6
    assert out["example"]["f1"] == pytest.approx(5 / 6)
    assert clinical_metrics(preds, refs, uncertain="positive")["example"]["f1"] == pytest.approx(1.0)
    # micro_5 covers Cardiomegaly, Edema, Consolidation, Atelectasis, Pleural Effusion only
    assert out["micro_5"]["recall"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        clinical_metrics(preds, refs[:1])
