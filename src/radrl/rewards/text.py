"""Text-overlap rewards: sentence-level BLEU-n on R2Gen-cleaned text (DEER's BLEU-2 term)."""

from __future__ import annotations

import contextlib
import io

from radrl.metrics.nlg import clean_report
from radrl.rewards.base import REWARDS, Extract, RewardFunction


def sentence_bleu(texts, references, n: int = 2) -> list[float]:
    """Per-sample BLEU-n exactly as pycocoevalcap computes each sentence's score (its own
    brevity penalty and 1e-9 smoothing), on R2Gen-cleaned text."""
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer

    scorer = BleuScorer(n=n)
    for text, ref in zip(texts, references):
        scorer += (clean_report(text), [clean_report(ref)])
    with contextlib.redirect_stdout(io.StringIO()):  # the scorer prints its ratios
        _, per_sentence = scorer.compute_score(option="closest", verbose=0)
    return [float(x) for x in per_sentence[n - 1]]


@REWARDS.register("bleu2")
class BleuReward(RewardFunction):
    """BLEU-n of each completion against its reference (n = 2: DEER's second-phase term)."""

    name = "bleu2"

    def __init__(self, n: int = 2, extract: Extract = "none", name: str | None = None):
        super().__init__(extract=extract, name=name or f"bleu{n}")
        self.n = n

    def score(self, texts, references, ref_labels):
        return sentence_bleu(texts, references, self.n)
