"""``radrl compare A.jsonl B.jsonl``: is system A's difference from system B real?

Both systems' predictions for the same ids and references are scored with ``radrl eval``'s
metrics, and each difference ``A - B`` gets:

* a **paired bootstrap 95 % CI**: ``resamples`` draws of the samples with replacement (the same
  draw for A and B), the metric recomputed on each, the 2.5th and 97.5th percentiles of the
  differences (Koehn 2004);
* a **paired approximate-randomisation p-value**: ``resamples`` times, each sample's A and B
  outputs are swapped with probability 1/2; p = (1 + #{|diff'| >= |diff|}) / (1 + resamples)
  (Noreen 1989; Riezler & Maxwell 2005).

Corpus-level metrics are recomputed on every resample from per-sample sufficient statistics, not
averaged: BLEU from each sample's clipped n-gram matches and lengths (pycocoevalcap's sums,
'closest' reference length), CIDEr-D with the document frequencies and log corpus size of the
resampled references (duplicates count, as pycocoevalcap would count them), macro and micro F1
from per-label counts. Example F1 and ROUGE-L are means of per-sample scores. Each full-set
value equals ``radrl eval``'s (tests). METEOR is left out: it runs a Java process per call.

The literature's conventions (``clinical.conventions`` of ``radrl eval``) are compared as well,
F1 only, under the names ``uncertain_negative.micro_14_f1`` ... ``uncertain_positive.example_f1``,
and RadEval's NLG (``nlg_radeval``) as ``radeval.bleu``, ``radeval.rouge1`` / ``rouge2`` /
``rougeL``; every metric is recomputed on the same draws.

Seeded (``seed``, default 0) and reproducible; 1,000 resamples by default (a p-value resolution
of 0.001).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONVENTION_METRICS = tuple(f"uncertain_{u}.{k}_f1" for u in ("negative", "positive")
                           for k in ("micro_14", "macro_14", "micro_5", "macro_5", "example"))
RADEVAL_METRICS = ("radeval.bleu", "radeval.rouge1", "radeval.rouge2", "radeval.rougeL")
METRICS = ("example_f1", "macro_f1", "micro_f1", "bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider",
           *CONVENTION_METRICS, *RADEVAL_METRICS)
_TINY, _SMALL = 1e-15, 1e-9  # pycocoevalcap's BLEU constants
_SIGMA = 6.0                 # CIDEr-D's length penalty


# ----------------------------------------------------------------------------------- BLEU
def bleu_stats(hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
    """(N, 10): testlen, reflen, guess_1..4, correct_1..4 per sample (pycocoevalcap's cooking)."""
    from pycocoevalcap.bleu.bleu_scorer import cook_refs, cook_test

    rows = []
    for h, r in zip(hyps, refs):
        comps = cook_test(h, cook_refs([r], "closest", 4), "closest", 4)
        reflen = comps["reflen"] if not isinstance(comps["reflen"], list) else comps["reflen"][0]
        rows.append([comps["testlen"], reflen, *comps["guess"], *comps["correct"]])
    return np.asarray(rows, dtype=np.float64)


def corpus_bleu(stats: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """BLEU-1..4 from summed stats (``weights``: each sample's multiplicity)."""
    total = stats.sum(0) if weights is None else weights @ stats
    testlen, reflen, guess, correct = total[0], total[1], total[2:6], total[6:10]
    out, product = [], 1.0
    for k in range(4):
        product *= (correct[k] + _TINY) / (guess[k] + _SMALL)
        out.append(product ** (1.0 / (k + 1)))
    ratio = (testlen + _TINY) / (reflen + _SMALL)
    penalty = math.exp(1 - 1 / ratio) if ratio < 1 else 1.0
    return np.asarray(out) * penalty


# ----------------------------------------------------------------------------------- CIDEr-D
@dataclass
class CiderTables:
    """Flat n-gram tables of one system against the references (for fast resampled CIDEr-D):
    ``ref_*`` every reference n-gram, ``hyp_*`` every hypothesis n-gram, ``match_*`` the
    hypothesis n-grams its reference also has (with both term frequencies), ``presence_*`` which
    reference holds which n-gram (the document frequencies), and the bigram lengths."""

    n: int
    ref_sample: np.ndarray
    ref_order: np.ndarray
    ref_gram: np.ndarray
    ref_tf: np.ndarray
    hyp_sample: np.ndarray
    hyp_order: np.ndarray
    hyp_gram: np.ndarray
    hyp_tf: np.ndarray
    match_sample: np.ndarray
    match_order: np.ndarray
    match_gram: np.ndarray
    match_h: np.ndarray
    match_r: np.ndarray
    hyp_len: np.ndarray
    ref_len: np.ndarray
    presence_sample: np.ndarray
    presence_gram: np.ndarray
    n_grams: int


def cider_tables(hyps: Sequence[str], refs: Sequence[str], vocab: dict | None = None) -> CiderTables:
    """The tables of ``hyps`` against ``refs`` with pycocoevalcap's n-gram counting (``precook``);
    ``vocab`` (n-gram -> id) is shared between the systems being compared."""
    from pycocoevalcap.cider.cider_scorer import precook

    vocab = {} if vocab is None else vocab
    cols: dict[str, list] = {}

    def add(prefix: str, **values) -> None:
        for key, value in values.items():
            cols.setdefault(f"{prefix}_{key}", []).append(value)

    hyp_len, ref_len = [], []
    for i, (h, r) in enumerate(zip(hyps, refs)):
        hc, rc = precook(h, 4), precook(r, 4)
        for gram, tf in rc.items():
            g = vocab.setdefault(gram, len(vocab))
            add("ref", sample=i, order=len(gram) - 1, gram=g, tf=tf)
            add("presence", sample=i, gram=g)
        for gram, tf in hc.items():
            g = vocab.setdefault(gram, len(vocab))
            add("hyp", sample=i, order=len(gram) - 1, gram=g, tf=tf)
            if gram in rc:
                add("match", sample=i, order=len(gram) - 1, gram=g, h=tf, r=rc[gram])
        # pycocoevalcap counts the length from the bigram entries (its `if n == 1`), kept as is
        hyp_len.append(sum(tf for gram, tf in hc.items() if len(gram) == 2))
        ref_len.append(sum(tf for gram, tf in rc.items() if len(gram) == 2))
    floats = ("ref_tf", "hyp_tf", "match_h", "match_r")
    names = ("ref_sample", "ref_order", "ref_gram", "ref_tf", "hyp_sample", "hyp_order", "hyp_gram", "hyp_tf",
             "match_sample", "match_order", "match_gram", "match_h", "match_r", "presence_sample", "presence_gram")
    arrays = {k: np.asarray(cols.get(k, []), dtype=np.float64 if k in floats else np.int64) for k in names}
    return CiderTables(n=4, hyp_len=np.asarray(hyp_len, np.float64), ref_len=np.asarray(ref_len, np.float64),
                       n_grams=len(vocab), **arrays)


def cider_scores(t: CiderTables, weights: np.ndarray, n_vocab: int) -> np.ndarray:
    """Each sample's CIDEr-D with the document frequencies of the references drawn ``weights``
    times each (a bootstrap resample; all ones for the plain score)."""
    n_samples = len(t.hyp_len)
    df = np.bincount(t.presence_gram, weights=weights[t.presence_sample], minlength=n_vocab)
    idf = np.log(float(weights.sum())) - np.log(np.maximum(1.0, df))
    slots = n_samples * t.n

    def norms(sample, order, gram, tf):
        w = tf * idf[gram]
        return np.sqrt(np.bincount(sample * t.n + order, weights=w * w, minlength=slots)).reshape(n_samples, t.n)

    norm_r = norms(t.ref_sample, t.ref_order, t.ref_gram, t.ref_tf)
    norm_h = norms(t.hyp_sample, t.hyp_order, t.hyp_gram, t.hyp_tf)
    h, r = t.match_h * idf[t.match_gram], t.match_r * idf[t.match_gram]
    num = np.bincount(t.match_sample * t.n + t.match_order, weights=np.minimum(h, r) * r,
                      minlength=slots).reshape(n_samples, t.n)
    both = (norm_h != 0) & (norm_r != 0)
    val = np.where(both, num / np.where(both, norm_h * norm_r, 1.0), num)
    delta = t.hyp_len - t.ref_len
    val *= np.exp(-(delta ** 2) / (2 * _SIGMA ** 2))[:, None]
    return val.mean(1) * 10.0


# ------------------------------------------------------------------------------- clinical
def clinical_tables(pred: np.ndarray, ref: np.ndarray, empty_match: str) -> dict[str, np.ndarray]:
    """Per-sample example F1 and per-label TP/FP/FN (binarised labels, ``radrl eval``'s rules)."""
    from radrl.metrics.clinical import example_scores

    return {"example_f1": np.asarray(example_scores(pred, ref, empty_match)["f1"], dtype=np.float64),
            "tp": (pred & ref).astype(np.float64), "fp": (pred & (1 - ref)).astype(np.float64),
            "fn": ((1 - pred) & ref).astype(np.float64)}


def _f1(tp, fp, fn):
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.where(den > 0, den, 1.0), 0.0)


def convention_tables(pred_labels, ref_labels) -> dict[str, dict[str, np.ndarray]]:
    """``clinical_tables`` under both uncertain settings, example F1 with 0/0 -> 0 (the
    conventions of ``radrl eval``'s ``clinical.conventions``)."""
    from radrl.metrics.clinical import UNCERTAIN_SETTINGS, binarize

    return {u: clinical_tables(binarize(pred_labels, u), binarize(ref_labels, u), "zero") for u in UNCERTAIN_SETTINGS}


def convention_values(tables: dict[str, dict[str, np.ndarray]], weights: np.ndarray, names) -> dict[str, float]:
    from radrl.schema import FIVE_COMMON, OBSERVATIONS

    five = [OBSERVATIONS.index(n) for n in FIVE_COMMON]
    out = {}
    for u, t in tables.items():
        if not any(n.startswith(f"uncertain_{u}.") for n in names):
            continue
        tp, fp, fn = (weights @ t[k] for k in ("tp", "fp", "fn"))
        out.update({f"uncertain_{u}.micro_14_f1": float(_f1(tp.sum(), fp.sum(), fn.sum())),
                    f"uncertain_{u}.macro_14_f1": float(_f1(tp, fp, fn).mean()),
                    f"uncertain_{u}.micro_5_f1": float(_f1(tp[five].sum(), fp[five].sum(), fn[five].sum())),
                    f"uncertain_{u}.macro_5_f1": float(_f1(tp[five], fp[five], fn[five]).mean()),
                    f"uncertain_{u}.example_f1": float(weights @ t["example_f1"] / weights.sum())})
    return out


# ------------------------------------------------------------------------------- systems
@dataclass
class SystemTables:
    """Per-sample statistics of one system; a text table is None, and ``conventions`` empty, when no
    compared metric needs it (the bootstrap swaps every table on every draw)."""

    bleu: np.ndarray | None
    rouge: np.ndarray | None
    cider: CiderTables | None
    clinical: dict[str, np.ndarray]
    conventions: dict[str, dict[str, np.ndarray]]
    radeval_bleu: np.ndarray | None   # bleu_stats of the raw texts
    radeval_rouge: np.ndarray | None  # (N, 3): each sample's ROUGE-1/2/L F-measure, rouge_score with stemming


def metric_values(s: SystemTables, weights: np.ndarray, n_vocab: int,
                  names: Sequence[str] = METRICS) -> dict[str, float]:
    """The metrics ``names`` (default: all) of one system on the samples drawn ``weights`` times each."""
    total = weights.sum()
    out = {}
    if "example_f1" in names:
        out["example_f1"] = float(weights @ s.clinical["example_f1"] / total)
    if {"macro_f1", "micro_f1"} & set(names):
        tp, fp, fn = (weights @ s.clinical[k] for k in ("tp", "fp", "fn"))
        out.update(macro_f1=float(_f1(tp, fp, fn).mean()), micro_f1=float(_f1(tp.sum(), fp.sum(), fn.sum())))
    if any(n.startswith("bleu_") for n in names):
        bleu = corpus_bleu(s.bleu, weights)
        out.update({f"bleu_{k + 1}": float(bleu[k]) for k in range(4)})
    if "rouge_l" in names:
        out["rouge_l"] = float(weights @ s.rouge / total)
    if "cider" in names:
        out["cider"] = float(weights @ cider_scores(s.cider, weights, n_vocab) / total)
    out.update(convention_values(s.conventions, weights, names))
    if "radeval.bleu" in names:
        out["radeval.bleu"] = float(corpus_bleu(s.radeval_bleu, weights)[3])
    for k, name in enumerate(RADEVAL_METRICS[1:]):
        if name in names:
            out[name] = float(weights @ s.radeval_rouge[:, k] / total)
    return {n: out[n] for n in names}


def system_tables(preds: Sequence[str], refs: Sequence[str], pred_labels, ref_labels, vocab: dict,
                  uncertain: str = "negative", empty_match: str = "zero",
                  metrics: Sequence[str] = METRICS) -> SystemTables:
    """The per-sample tables of one system; the text tables only when ``metrics`` need them (the
    demo's headline asks for example F1 alone, and ROUGE with stemming costs 2 s per 1,000)."""
    from radrl.metrics.clinical import binarize
    from radrl.metrics.nlg import literature_text
    from radrl.metrics.nlg_radeval import ROUGE_TYPES, rouge_radeval_scores
    from radrl.metrics.rouge import BoundedRouge

    wanted = set(metrics)
    bleu = rouge = cider = radeval_bleu = radeval_rouge = None
    if wanted & {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider"}:
        hyps = [literature_text(p) for p in preds]
        gold = [literature_text(r) for r in refs]
        scorer = BoundedRouge()
        bleu = bleu_stats(hyps, gold)
        rouge = np.asarray([scorer.calc_score([h], [g]) for h, g in zip(hyps, gold)], dtype=np.float64)
        cider = cider_tables(hyps, gold, vocab)
    if "radeval.bleu" in wanted:
        radeval_bleu = bleu_stats([str(p) for p in preds], [str(r) for r in refs])
    if wanted & set(RADEVAL_METRICS[1:]):
        raw = rouge_radeval_scores(preds, refs)
        radeval_rouge = np.stack([np.asarray(raw[t], dtype=np.float64) for t in ROUGE_TYPES], axis=1)
    conventions = convention_tables(pred_labels, ref_labels) if wanted & set(CONVENTION_METRICS) else {}
    return SystemTables(bleu, rouge, cider,
                        clinical_tables(binarize(pred_labels, uncertain), binarize(ref_labels, uncertain), empty_match),
                        conventions, radeval_bleu, radeval_rouge)


def _swap(a: SystemTables, b: SystemTables, mask: np.ndarray) -> tuple[SystemTables, SystemTables]:
    """A and B with the outputs of the ``mask`` samples exchanged (references stay)."""
    def pick(x, y):
        if x is None:  # a table the compared metrics do not need
            return None
        m = mask.reshape((-1,) + (1,) * (x.ndim - 1))
        return np.where(m, y, x)

    def cider_swap(x: CiderTables | None, y: CiderTables | None):
        """Swapped hypotheses: the entries of each side taken from one system or the other."""
        if x is None:
            return None
        keep_x = ~mask[x.hyp_sample]
        keep_y = mask[y.hyp_sample]
        mx, my = ~mask[x.match_sample], mask[y.match_sample]
        fields = dict(vars(x))
        for name in ("hyp_sample", "hyp_order", "hyp_gram", "hyp_tf"):
            fields[name] = np.concatenate([getattr(x, name)[keep_x], getattr(y, name)[keep_y]])
        for name in ("match_sample", "match_order", "match_gram", "match_h", "match_r"):
            fields[name] = np.concatenate([getattr(x, name)[mx], getattr(y, name)[my]])
        fields["hyp_len"] = np.where(mask, y.hyp_len, x.hyp_len)
        return CiderTables(**fields)

    def side(x: SystemTables, y: SystemTables):
        clinical = {k: pick(x.clinical[k], y.clinical[k]) for k in x.clinical}
        conventions = {u: {k: pick(t[k], y.conventions[u][k]) for k in t} for u, t in x.conventions.items()}
        return SystemTables(pick(x.bleu, y.bleu), pick(x.rouge, y.rouge), cider_swap(x.cider, y.cider), clinical,
                            conventions, pick(x.radeval_bleu, y.radeval_bleu), pick(x.radeval_rouge, y.radeval_rouge))

    return side(a, b), side(b, a)


def compare_systems(a: SystemTables, b: SystemTables, n_vocab: int, resamples: int = 1000, seed: int = 0,
                    progress: bool = False, metrics: Sequence[str] = METRICS) -> dict:
    """Per metric of ``metrics`` (default: all): a, b, diff, ci95 (paired bootstrap), p_value
    (paired approximate randomisation). The resampling draws do not depend on ``metrics``, so a
    metric's figures are the same whichever others are asked for."""
    from tqdm.auto import tqdm

    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {', '.join(METRICS)}")
    n = len(a.clinical["example_f1"])
    ones = np.ones(n)
    va, vb = metric_values(a, ones, n_vocab, metrics), metric_values(b, ones, n_vocab, metrics)
    observed = {m: va[m] - vb[m] for m in metrics}
    rng = np.random.default_rng(seed)
    boot = {m: [] for m in metrics}
    for _ in tqdm(range(resamples), desc="bootstrap", disable=not progress):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        xa, xb = metric_values(a, w, n_vocab, metrics), metric_values(b, w, n_vocab, metrics)
        for m in metrics:
            boot[m].append(xa[m] - xb[m])
    extreme = dict.fromkeys(metrics, 0)
    for _ in tqdm(range(resamples), desc="randomisation", disable=not progress):
        sa, sb = _swap(a, b, rng.random(n) < 0.5)
        xa, xb = metric_values(sa, ones, n_vocab, metrics), metric_values(sb, ones, n_vocab, metrics)
        for m in metrics:
            extreme[m] += abs(xa[m] - xb[m]) >= abs(observed[m]) - 1e-12
    return {m: {"a": va[m], "b": vb[m], "diff": observed[m],
                "ci95": [float(np.percentile(boot[m], 2.5)), float(np.percentile(boot[m], 97.5))],
                "p_value": (1 + extreme[m]) / (1 + resamples)} for m in metrics}


def compare_predictions(preds_a: Sequence[str], preds_b: Sequence[str], refs: Sequence[str], labels_a, labels_b,
                        ref_labels, resamples: int = 1000, seed: int = 0, uncertain: str = "negative",
                        empty_match: str = "zero", progress: bool = False, metrics: Sequence[str] = METRICS) -> dict:
    """``compare_systems`` on two systems' reports for the same references, given every report's
    labels (``radrl compare``, and the demo's SFT-vs-RL headline)."""
    vocab: dict = {}
    tables = [system_tables(preds, refs, labels, ref_labels, vocab, uncertain, empty_match, metrics)
              for preds, labels in ((preds_a, labels_a), (preds_b, labels_b))]
    return compare_systems(*tables, n_vocab=len(vocab), resamples=resamples, seed=seed, progress=progress,
                           metrics=metrics)


def format_comparison(result: dict) -> str:
    lines = [f"{result['n']} samples; A = {result['a']}, B = {result['b']}; {result['resamples']} resamples, "
             f"seed {result['seed']}",
             f"{'metric':32s} {'A':>8s} {'B':>8s} {'A - B':>8s} {'95 % CI':>20s} {'p':>7s}"]
    for name, m in result["metrics"].items():
        lo, hi = m["ci95"]
        lines.append(f"{name:32s} {m['a']:8.4f} {m['b']:8.4f} {m['diff']:+8.4f} [{lo:+8.4f}, {hi:+8.4f}] "
                     f"{m['p_value']:7.3f}")
    return "\n".join(lines)
