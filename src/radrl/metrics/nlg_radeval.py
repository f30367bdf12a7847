"""BLEU and ROUGE the way RadEval reports them (``nlg_radeval`` in METRICS.json), beside the
R2Gen / pycocoevalcap numbers of :mod:`radrl.metrics.nlg`. ReXrank and RadEval's users compare
with these.

Read from RadEval's source (``radeval/metrics/bleu``, ``radeval/metrics/rouge``, release 2.x):

* ``bleu``: BLEU-4 of pycocoevalcap's ``BleuScorer`` (corpus-level, the 'closest' reference
  length) on the **raw** texts, one reference each: no lower-casing, no cleaning, tokens split
  on whitespace, so ``"effusion."`` and ``"effusion"`` are different tokens. RadEval vendors
  the scorer unchanged; radrl calls pycocoevalcap's.
* ``rouge1``, ``rouge2``, ``rougeL``: Google's ``rouge_score`` with ``use_stemmer=True`` (its
  tokeniser lower-cases, keeps ``[a-z0-9]`` runs and Porter-stems tokens longer than three
  letters), the F-measure of each (reference, prediction) pair, averaged over the samples.

``tests/test_metric_conventions.py`` checks both against RadEval's published regression values.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def bleu_radeval(predictions: Sequence[str], references: Sequence[str]) -> float:
    """RadEval's ``bleu``: corpus BLEU-4 of the raw texts (pycocoevalcap's scorer)."""
    from pycocoevalcap.bleu.bleu import Bleu

    res = {i: [str(p)] for i, p in enumerate(predictions)}
    gts = {i: [str(r)] for i, r in enumerate(references)}
    with contextlib.redirect_stdout(io.StringIO()):  # the scorer prints its counts
        scores, _ = Bleu(4).compute_score(gts, res, verbose=0)
    return float(scores[3])


def rouge_radeval_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, list[float]]:
    """Each sample's ROUGE-1/2/L F-measure, as RadEval's ``rouge`` computes it."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    scores = [scorer.score(str(r), str(p)) for p, r in zip(predictions, references)]
    return {t: [s[t].fmeasure for s in scores] for t in ROUGE_TYPES}


def nlg_radeval(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float | None]:
    """``{bleu, rouge1, rouge2, rougeL}`` as RadEval reports them (unrounded; RadEval rounds to
    four decimals); ``None`` each when there are no samples."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        return {"bleu": None, **dict.fromkeys(ROUGE_TYPES)}
    rouge = rouge_radeval_scores(predictions, references)
    return {"bleu": bleu_radeval(predictions, references),
            **{t: float(sum(v) / len(v)) for t, v in rouge.items()}}
