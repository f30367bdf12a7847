"""Evaluation metrics: clinical efficacy (labeler-based) and NLG (pycocoevalcap)."""

from radrl.metrics.clinical import (
    binarize,
    clinical_metrics,
    example_based,
    example_scores,
    macro,
    micro,
    per_label,
)
from radrl.metrics.nlg import clean_report, literature_text, nlg_metrics

__all__ = [
    "binarize",
    "clean_report",
    "literature_text",
    "clinical_metrics",
    "example_based",
    "example_scores",
    "macro",
    "micro",
    "nlg_metrics",
    "per_label",
]
