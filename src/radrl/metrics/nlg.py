"""Natural-language-generation metrics exactly as the report-generation literature computes them.

Reports are cleaned the way R2Gen does (``clean_report``: lower case, list numbers and most
punctuation removed, sentences joined by `` . ``), then put through R2Gen's tokenize / decode
round trip, which splits on whitespace and joins the tokens with single spaces
(``literature_text``), and scored with pycocoevalcap's own scorers (BLEU-1..4 corpus-level with
the 'closest' reference length, METEOR 1.5, ROUGE-L with beta = 1.2, CIDEr-D), one reference per
sample. That is the text the papers score: ``clean_report`` alone can leave a double space
(punctuation it removes between two spaces: ``"effusion ; no"``), which pycocoevalcap's ROUGE-L,
splitting on single spaces, counts as an empty token (BLEU and CIDEr split on any whitespace and
do not change). The numbers equal pycocoevalcap on the round-tripped text (``bench/eval_iu.py``,
``tests/test_nlg_metrics.py``). R2Gen's vocabulary also maps rare tokens to ``<unk>``; that
depends on its training split and is not reproduced.

METEOR runs the METEOR 1.5 jar shipped in pycocoevalcap and needs a Java runtime; without one
(or if the jar fails) its value is ``None`` and the reason is returned in ``errors``.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from collections.abc import Sequence

_NUMBERING = (("1. ", ""), (". 2. ", ". "), (". 3. ", ". "), (". 4. ", ". "), (". 5. ", ". "),
              (" 2. ", ". "), (" 3. ", ". "), (" 4. ", ". "), (" 5. ", ". "))
# R2Gen's character class, kept as written: ':-\[' is the range ':' .. '[', so it also removes
# ';<=>?@' (and capitals, which are already lower-cased).
_R2GEN_PUNCT = re.compile(r"[.,?;*!%^&_+():-\[\]{}]")


def _sentence_clean(sentence: str) -> str:
    s = sentence.replace('"', "").replace("/", "").replace("\\", "").replace("'", "")
    return _R2GEN_PUNCT.sub("", s.strip().lower())


def clean_report(report: str, style: str = "mimic_cxr") -> str:
    """R2Gen's report cleaning (``clean_report_mimic_cxr`` / ``clean_report_iu_xray``).

    ``mimic_cxr`` (default) also folds newlines, repeated underscores and double spaces, so it
    is the safe choice for any corpus; ``iu_xray`` reproduces the IU variant.
    """
    if style not in ("mimic_cxr", "iu_xray"):
        raise ValueError("style must be 'mimic_cxr' or 'iu_xray'")
    t = "" if report is None else str(report)
    if style == "mimic_cxr":
        t = t.replace("\n", " ")
        for _ in range(7):
            t = t.replace("__", "_")
        for _ in range(6):
            t = t.replace("  ", " ")
    for _ in range(8 if style == "mimic_cxr" else 3):
        t = t.replace("..", ".")
    for old, new in _NUMBERING:
        t = t.replace(old, new)
    sentences = t.strip().lower().split(". ")
    tokens = [_sentence_clean(s) for s in sentences]
    # R2Gen filters with `!= []`, which never removes a string: empty sentences stay.
    return " . ".join(tokens) + " ."


def literature_text(report: str | None, style: str = "mimic_cxr") -> str:
    """R2Gen's cleaning, then its tokenize / decode round trip: tokens joined by single spaces."""
    return " ".join(clean_report(report, style).split())


def java_available() -> bool:
    return shutil.which("java") is not None


def nlg_metrics(
    predictions: Sequence[str],
    references: Sequence[str],
    clean: str | None = "mimic_cxr",
    meteor: bool = True,
) -> tuple[dict[str, float | None], dict[str, str]]:
    """BLEU-1..4, METEOR, ROUGE-L and CIDEr-D of predictions against one reference each.

    Returns ``(scores, errors)``: ``errors`` maps a metric that could not be computed (its score
    is ``None``) to the reason. ``clean=None`` scores the texts as given.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    from radrl.metrics.rouge import BoundedRouge

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    names = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")
    scores: dict[str, float | None] = dict.fromkeys(names)
    errors: dict[str, str] = {}
    if not predictions:
        return scores, {name: "no samples" for name in names}
    prep = (lambda t: literature_text(t, clean)) if clean else (lambda t: "" if t is None else str(t))
    res = {i: [prep(p)] for i, p in enumerate(predictions)}
    gts = {i: [prep(r)] for i, r in enumerate(references)}

    with contextlib.redirect_stdout(io.StringIO()):  # BleuScorer prints its counts
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    for n in range(4):
        scores[f"bleu_{n + 1}"] = float(bleu[n])
    scores["rouge_l"] = float(BoundedRouge().compute_score(gts, res)[0])  # pycocoevalcap's, in O(n) memory
    scores["cider"] = float(Cider().compute_score(gts, res)[0])
    if not meteor:
        errors["meteor"] = "disabled"
    else:
        value, reason = _meteor(gts, res)
        scores["meteor"] = value
        if reason:
            errors["meteor"] = reason
    return scores, errors


def _meteor(gts: dict, res: dict) -> tuple[float | None, str | None]:
    if not java_available():
        return None, "METEOR needs a Java runtime (java not found on PATH); install e.g. openjdk-17-jre-headless"
    from pycocoevalcap.meteor.meteor import Meteor

    try:
        scorer = Meteor()
    except OSError as exc:
        return None, f"could not start the METEOR jar: {exc}"
    try:
        return float(scorer.compute_score(gts, res)[0]), None
    except (ValueError, OSError, BrokenPipeError) as exc:
        err = scorer.meteor_p.stderr.read(2000).decode(errors="replace") if scorer.meteor_p.poll() is not None else ""
        return None, f"the METEOR jar failed: {exc} {err}".strip()
    finally:
        with contextlib.suppress(Exception):
            scorer.meteor_p.stdin.close()
            scorer.meteor_p.kill()
            scorer.meteor_p.wait(timeout=10)
