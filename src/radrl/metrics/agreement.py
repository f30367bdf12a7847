"""Agreement of one labeler with another (e.g. a trained CheXbert with the rule labeler it learnt from).

Per observation and per mention class (positive, negative, uncertain) the F1 of the predicted
class against the reference labeler's class, as CheXbert's paper reports its labeler. An
observation's ``f1`` is the support-weighted mean over its mention classes (CheXbert's
"weighted F1"); ``macro_f1`` is the unweighted mean over observations with any mention in the
reference. ``positive_f1`` and ``macro_positive_f1`` look at the positive class only (what the
rewards use), and ``exact`` is the share of reports whose 14 labels all agree.
"""

from __future__ import annotations

from collections.abc import Sequence

from radrl.schema import BLANK, NEGATIVE, OBSERVATIONS, POSITIVE, UNCERTAIN, Labels

MENTION_CLASSES = (POSITIVE, NEGATIVE, UNCERTAIN)


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def labeler_agreement(predicted: Sequence[Labels], reference: Sequence[Labels]) -> dict:
    """``{"n", "exact", "macro_f1", "macro_positive_f1", "per_label": {name: {...}}}``."""
    if len(predicted) != len(reference):
        raise ValueError(f"{len(predicted)} predicted label sets but {len(reference)} references")
    per_label = {}
    for name in OBSERVATIONS:
        row: dict = {}
        weighted, total = 0.0, 0
        for value in MENTION_CLASSES:
            tp = sum(p.get(name, BLANK) == value and r.get(name, BLANK) == value for p, r in zip(predicted, reference))
            fp = sum(p.get(name, BLANK) == value and r.get(name, BLANK) != value for p, r in zip(predicted, reference))
            fn = sum(p.get(name, BLANK) != value and r.get(name, BLANK) == value for p, r in zip(predicted, reference))
            support = tp + fn
            row[f"{value}_f1"] = _f1(tp, fp, fn)
            row[f"{value}_support"] = support
            weighted += row[f"{value}_f1"] * support
            total += support
        row["support"] = total
        row["f1"] = weighted / total if total else None
        per_label[name] = row
    mentioned = [r for r in per_label.values() if r["support"]]
    positives = [r for r in per_label.values() if r["positive_support"]]
    exact = sum(all(p.get(n, BLANK) == r.get(n, BLANK) for n in OBSERVATIONS) for p, r in zip(predicted, reference))
    return {
        "n": len(predicted),
        "exact": exact / len(predicted) if predicted else 0.0,
        "macro_f1": sum(r["f1"] for r in mentioned) / len(mentioned) if mentioned else 0.0,
        "macro_positive_f1": sum(r["positive_f1"] for r in positives) / len(positives) if positives else 0.0,
        "per_label": per_label,
    }


def format_agreement(agreement: dict) -> str:
    """A plain-text table: one row per observation, then the macro figures."""
    lines = [f"{'observation':28s} {'F1':>6s} {'pos F1':>7s} {'neg F1':>7s} {'unc F1':>7s} {'support':>8s}"]
    for name, r in agreement["per_label"].items():
        f1 = f"{r['f1']:.3f}" if r["f1"] is not None else "-"
        lines.append(f"{name:28s} {f1:>6s} {r['positive_f1']:7.3f} {r['negative_f1']:7.3f} "
                     f"{r['uncertain_f1']:7.3f} {r['support']:8d}")
    lines.append(f"macro F1 (mention classes) {agreement['macro_f1']:.3f}; macro positive F1 "
                 f"{agreement['macro_positive_f1']:.3f}; all 14 labels equal in {agreement['exact']:.1%} "
                 f"of {agreement['n']} reports")
    return "\n".join(lines)
