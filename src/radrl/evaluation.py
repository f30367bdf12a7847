"""Score generated reports against references: NLG + clinical efficacy, one dict (METRICS.json)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from radrl import __version__


def evaluate_reports(preds: Sequence[str], refs: Sequence[str], labeler=None, uncertain: str = "negative",
                     empty_match: str = "zero", meteor: bool = True, ref_labels: Sequence[dict] | None = None
                     ) -> dict:
    """The METRICS.json dict of ``radrl eval`` (n, labeler, nlg, clinical, nlg_errors, seconds).

    ``ref_labels``: ground-truth labels of the references when known (the synthetic benchmark);
    otherwise the references are labelled with ``labeler`` like the predictions.
    """
    from radrl.labelers import get_labeler
    from radrl.metrics import clinical_metrics, nlg_metrics

    t0 = time.perf_counter()
    labeler = labeler or get_labeler("rule")
    if ref_labels is None:
        labels = labeler.label_batch(list(preds) + list(refs))
        pred_labels, gold = labels[: len(preds)], labels[len(preds):]
    else:
        pred_labels, gold = labeler.label_batch(list(preds)), list(ref_labels)
    clinical = clinical_metrics(pred_labels, gold, uncertain=uncertain, empty_match=empty_match)
    nlg, errors = nlg_metrics(list(preds), list(refs), meteor=meteor)
    return {"n": len(preds), "labeler": labeler.name, "nlg": nlg, "clinical": clinical, "nlg_errors": errors,
            "references_labelled_by": "labeler" if ref_labels is None else "ground truth",
            "seconds": round(time.perf_counter() - t0, 3), "radrl_version": __version__}


def most_frequent_report(train_reports: Sequence[str], train_labels: Sequence[dict] | None = None) -> str:
    """The "most frequent report" baseline: among training reports with the most common label
    set (when labels are known), the most common text (first seen on ties)."""
    if not train_reports:
        raise ValueError("no training reports")
    pool = list(train_reports)
    if train_labels is not None:
        keys = [tuple(sorted(lab.items())) for lab in train_labels]
        top = Counter(keys).most_common(1)[0][0]
        pool = [r for r, k in zip(train_reports, keys) if k == top]
    counts = Counter(pool)
    best = max(counts.values())
    return next(r for r in pool if counts[r] == best)
