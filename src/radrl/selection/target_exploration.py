"""RadFlow's Target Exploration (arXiv:2511.10065 §3.3): RL on the hardest cases only.

Each training image's SFT report (greedy) is scored against its reference by several metrics;
every metric is min-max normalised over the dataset and the normalised scores are averaged with
weights (a metric that is constant over the dataset contributes 0). The bottom ``fraction``
(10 %) by this composite score are the targets.

The paper's metrics are BLEU-2, BERTScore and RadGraph. BERTScore and RadGraph need models that
cannot be fetched here, so radrl's default composite is BLEU-2 + ROUGE-L + the clinical example
F1 (the labeler's), equally weighted; any per-sample metric can be added by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_WEIGHTS = {"bleu_2": 1.0, "rouge_l": 1.0, "clinical_f1": 1.0}


def per_sample_metrics(predictions: Sequence[str], references: Sequence[str], labeler=None,
                       ref_labels: Sequence[dict | None] | None = None) -> dict[str, np.ndarray]:
    """BLEU-2 (pycocoevalcap, per sentence), ROUGE-L (pycocoevalcap) and example F1 per sample."""
    from radrl.labelers import get_labeler, labels_or_labelled
    from radrl.metrics.clinical import binarize, example_scores
    from radrl.metrics.nlg import literature_text
    from radrl.metrics.rouge import BoundedRouge
    from radrl.rewards.text import sentence_bleu

    labeler = labeler or get_labeler("rule")
    rouge = BoundedRouge()
    rouge_l = [rouge.calc_score([literature_text(p) or "."], [literature_text(r) or "."])
               for p, r in zip(predictions, references)]
    refs = labels_or_labelled(list(ref_labels) if ref_labels is not None else [None] * len(references),
                              references, labeler)
    f1 = example_scores(binarize(labeler.label_batch(list(predictions))), binarize(refs), "one")["f1"]
    return {"bleu_2": np.asarray(sentence_bleu(predictions, references, n=2)),
            "rouge_l": np.asarray(rouge_l, dtype=np.float64), "clinical_f1": np.asarray(f1, dtype=np.float64)}


def composite_scores(metrics: Mapping[str, Sequence[float]], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """sum_m w_m * minmax(metric_m) / sum_m w_m over the metrics named in ``weights``."""
    weights = dict(weights or DEFAULT_WEIGHTS)
    missing = set(weights) - set(metrics)
    if missing:
        raise ValueError(f"no per-sample values for metric(s) {sorted(missing)}; have {sorted(metrics)}")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("metric weights must sum to a positive number")
    out = None
    for name, w in weights.items():
        values = np.asarray(metrics[name], dtype=np.float64)
        span = values.max() - values.min() if len(values) else 0.0
        norm = (values - values.min()) / span if span > 0 else np.zeros_like(values)
        out = w * norm if out is None else out + w * norm
    return out / total


def bottom_fraction(scores: Sequence[float], fraction: float) -> list[int]:
    """Indices of the ``ceil(fraction * N)`` lowest scores (ties keep input order), sorted."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    scores = np.asarray(scores, dtype=np.float64)
    k = max(1, int(np.ceil(fraction * len(scores))))
    return sorted(int(i) for i in np.argsort(scores, kind="stable")[:k])
