"""Clinical-efficacy metrics: how well the findings of generated reports match the references.

Both sides are labelled (``radrl.labelers``), binarised (positive -> 1; negative, blank -> 0;
uncertain -> 0 by default or 1 with ``uncertain="positive"``), and compared three ways:

* **example-based** (PromptMRG, the MIMIC-CXR / IU tables of DEER): per sample over the 14
  labels, P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN); 0/0 -> 0, or 1 when
  ``empty_match="one"`` and neither report has a positive; averaged over samples.
* **macro** (CXPMRG-Bench / CheXpert Plus, OraPO): P, R, F1 per label over the test set,
  unweighted mean over the labels (0/0 -> 0, as scikit-learn's ``zero_division=0``).
* **micro**: TP, FP, FN pooled over samples and labels; ``micro_5`` over the five common
  observations (Cardiomegaly, Edema, Consolidation, Atelectasis, Pleural Effusion).

``conventions`` gives the literature's numbers side by side (:func:`convention_scores`): under
``uncertain_negative`` and ``uncertain_positive``, ``micro_14``, ``macro_14``, ``micro_5``,
``macro_5`` (scikit-learn's ``classification_report``: a label with no support counts as 0 in the
macro mean) and ``example`` (PromptMRG: a study with no positive on either side scores 0), each as
P/R/F1. Which paper reports which is tabled in ``docs/cli.md`` ("Which F1 a paper reports").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from radrl.schema import FIVE_COMMON, OBSERVATIONS, to_binary


def _safe_div(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def binarize(
    labels: Sequence[Mapping[str, str]],
    uncertain: str = "negative",
    observations: Sequence[str] = OBSERVATIONS,
) -> np.ndarray:
    """(N, L) 0/1 matrix of a list of label dicts."""
    return np.array(
        [to_binary(lab, uncertain, observations) for lab in labels], dtype=np.int64
    ).reshape(len(labels), len(observations))


def example_based(
    pred: np.ndarray, ref: np.ndarray, empty_match: str = "zero"
) -> dict[str, float]:
    """Example-based P/R/F1 of binary (N, L) matrices, averaged over the N samples.

    Per sample: P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN). A 0/0 is 0
    (``empty_match="zero"``, PromptMRG's code) or 1 when both rows are all zero
    (``empty_match="one"``: a correctly normal report counts as perfect).
    """
    pred_scores = example_scores(pred, ref, empty_match)
    return {k: float(v.mean()) if len(v) else 0.0 for k, v in pred_scores.items()}


def example_scores(
    pred: np.ndarray, ref: np.ndarray, empty_match: str = "zero"
) -> dict[str, np.ndarray]:
    """Per-sample P/R/F1 arrays (see :func:`example_based`). F1 per sample is DEER's reward."""
    if empty_match not in ("zero", "one"):
        raise ValueError("empty_match must be 'zero' or 'one'")
    pred = np.asarray(pred, dtype=bool)
    ref = np.asarray(ref, dtype=bool)
    if pred.shape != ref.shape:
        raise ValueError(f"shape mismatch: predictions {pred.shape} vs references {ref.shape}")
    tp = (pred & ref).sum(axis=1)
    fp = (pred & ~ref).sum(axis=1)
    fn = (~pred & ref).sum(axis=1)
    precision = _safe_div(tp, tp + fp)
    recall = _safe_div(tp, tp + fn)
    f1 = _safe_div(2 * tp, 2 * tp + fp + fn)
    if empty_match == "one":
        both_empty = (tp + fp + fn) == 0
        precision[both_empty] = recall[both_empty] = f1[both_empty] = 1.0
    return {"precision": precision, "recall": recall, "f1": f1}


def per_label(pred: np.ndarray, ref: np.ndarray) -> dict[str, np.ndarray]:
    """Per-label P/R/F1 and support (reference positives) over the samples; 0/0 -> 0."""
    pred = np.asarray(pred, dtype=bool)
    ref = np.asarray(ref, dtype=bool)
    tp = (pred & ref).sum(axis=0)
    fp = (pred & ~ref).sum(axis=0)
    fn = (~pred & ref).sum(axis=0)
    return {
        "precision": _safe_div(tp, tp + fp),
        "recall": _safe_div(tp, tp + fn),
        "f1": _safe_div(2 * tp, 2 * tp + fp + fn),
        "support": ref.sum(axis=0),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def macro(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Unweighted mean over labels of the per-label P/R/F1."""
    table = per_label(pred, ref)
    return {k: float(table[k].mean()) for k in ("precision", "recall", "f1")}


def micro(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """P/R/F1 of TP, FP, FN pooled over samples and labels."""
    pred = np.asarray(pred, dtype=bool)
    ref = np.asarray(ref, dtype=bool)
    tp = int((pred & ref).sum())
    fp = int((pred & ~ref).sum())
    fn = int((~pred & ref).sum())
    return {
        "precision": float(_safe_div(tp, tp + fp)),
        "recall": float(_safe_div(tp, tp + fn)),
        "f1": float(_safe_div(2 * tp, 2 * tp + fp + fn)),
    }


UNCERTAIN_SETTINGS = ("negative", "positive")
"""How an uncertain mention is binarised: the two conventions of the literature."""
CONVENTION_KEYS = ("micro_14", "macro_14", "micro_5", "macro_5", "example")


def convention_scores(pred_labels: Sequence[Mapping[str, str]],
                      ref_labels: Sequence[Mapping[str, str]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{uncertain_negative|uncertain_positive: {micro_14, macro_14, micro_5, macro_5, example}}``,
    each ``{precision, recall, f1}``.

    * ``micro_14`` / ``micro_5``: P = sum TP / sum (TP + FP), R = sum TP / sum (TP + FN) over the
      14 labels (the five common ones), F1 = 2 sum TP / (2 sum TP + sum FP + sum FN);
    * ``macro_14`` / ``macro_5``: the unweighted mean over the labels of each label's P, R, F1,
      0/0 -> 0, so a label no reference has (zero support) counts as 0 (``classification_report``'s
      "macro avg" with ``zero_division=0``, RadEval's ``f1chexbert``);
    * ``example``: per study P, R, F1 over the 14 labels, 0/0 -> 0, averaged over the studies.
    """
    five = [OBSERVATIONS.index(name) for name in FIVE_COMMON]
    out = {}
    for uncertain in UNCERTAIN_SETTINGS:
        pred, ref = binarize(pred_labels, uncertain), binarize(ref_labels, uncertain)
        out[f"uncertain_{uncertain}"] = {
            "micro_14": micro(pred, ref), "macro_14": macro(pred, ref),
            "micro_5": micro(pred[:, five], ref[:, five]), "macro_5": macro(pred[:, five], ref[:, five]),
            "example": example_based(pred, ref, "zero")}
    return out


def clinical_metrics(
    pred_labels: Sequence[Mapping[str, str]],
    ref_labels: Sequence[Mapping[str, str]],
    uncertain: str = "negative",
    empty_match: str = "zero",
) -> dict:
    """The ``clinical`` block of ``radrl eval``: example, macro, micro, micro_5 and per_label under
    the ``uncertain`` / ``empty_match`` settings, and ``conventions`` (both uncertain settings)."""
    if len(pred_labels) != len(ref_labels):
        raise ValueError(f"{len(pred_labels)} predictions but {len(ref_labels)} references")
    pred = binarize(pred_labels, uncertain)
    ref = binarize(ref_labels, uncertain)
    five = [OBSERVATIONS.index(name) for name in FIVE_COMMON]
    table = per_label(pred, ref)
    return {
        "example": example_based(pred, ref, empty_match),
        "macro": macro(pred, ref),
        "micro": micro(pred, ref),
        "micro_5": micro(pred[:, five], ref[:, five]),
        "per_label": {
            name: {
                "precision": float(table["precision"][i]),
                "recall": float(table["recall"][i]),
                "f1": float(table["f1"][i]),
                "support": int(table["support"][i]),
            }
            for i, name in enumerate(OBSERVATIONS)
        },
        "conventions": convention_scores(pred_labels, ref_labels),
        "settings": {"uncertain": uncertain, "empty_match": empty_match},
    }
