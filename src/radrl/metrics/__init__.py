"""Evaluation metrics: clinical efficacy (labeler-based) and NLG (pycocoevalcap; RadEval's way)."""

from radrl.metrics.clinical import (
    binarize,
    clinical_metrics,
    convention_scores,
    example_based,
    example_scores,
    macro,
    micro,
    per_label,
)
from radrl.metrics.nlg import clean_report, literature_text, nlg_metrics
from radrl.metrics.nlg_radeval import nlg_radeval

__all__ = [
    "binarize",
    "clean_report",
    "literature_text",
    "clinical_metrics",
    "convention_scores",
    "example_based",
    "example_scores",
    "macro",
    "micro",
    "nlg_metrics",
    "nlg_radeval",
    "per_label",
]
