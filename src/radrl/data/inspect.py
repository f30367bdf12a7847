"""``radrl data inspect``: what a dataset holds, as radrl reads it, before anything trains on it.

Counts of kept and skipped samples (with the loaders' reasons), where the labels come from and
each observation's prevalence, images per sample and view positions, FINDINGS / IMPRESSION
coverage, report length in words, and the first few samples as the trainer will see them.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from radrl.schema import OBSERVATIONS, POSITIVE, UNCERTAIN


def inspect_samples(samples: Sequence, reports: Sequence, show: int = 3) -> dict:
    """The summary dict of ``samples`` (``reports``: the loaders' ``LoadReport``s)."""
    from radrl.labelers import get_labeler

    n = len(samples)
    skipped: dict[str, int] = Counter()
    for report in reports:
        for reason, ids in report.skipped.items():
            skipped[reason] += len(ids)
    with_labels = [s for s in samples if s.labels]
    if with_labels and len(with_labels) == n:
        source, labels = "dataset", [s.labels for s in samples]
    else:
        source = "rule labeler" + (f" ({n - len(with_labels)} samples without dataset labels)" if with_labels else "")
        labels = get_labeler("rule").label_batch([s.report for s in samples])
    prevalence = {o: {"positive": sum(lab.get(o) == POSITIVE for lab in labels) / max(n, 1),
                      "uncertain": sum(lab.get(o) == UNCERTAIN for lab in labels) / max(n, 1)} for o in OBSERVATIONS}
    views = Counter(v for s in samples for v in s.meta.get("views", []))
    words = [len(s.report.split()) for s in samples]
    return {
        "n_samples": n,
        "n_skipped": sum(skipped.values()),
        "skipped": dict(skipped),
        "label_source": source,
        "label_prevalence": prevalence,
        "images_per_sample": dict(sorted(Counter(len(s.images) for s in samples).items())),
        "views": dict(views),
        "sections": {"findings": sum(bool(s.findings) for s in samples) / max(n, 1),
                     "impression": sum(bool(s.impression) for s in samples) / max(n, 1),
                     "both": sum(bool(s.findings) and bool(s.impression) for s in samples) / max(n, 1)},
        "report_words": ({"mean": statistics.fmean(words), "median": statistics.median(words), "min": min(words),
                          "max": max(words)} if words else {}),
        "samples": [{"id": s.id, "images": s.images, "report": s.report, "findings": s.findings,
                     "impression": s.impression, "labels": s.labels} for s in samples[:show]],
    }


def format_inspection(summary: dict, source: str) -> str:
    lines = [f"{source}: {summary['n_samples']} samples, {summary['n_skipped']} skipped"]
    for reason, count in summary["skipped"].items():
        lines.append(f"  skipped {count:6d}  {reason}")
    lines.append(f"labels from the {summary['label_source']}; prevalence (positive / uncertain):")
    for name, p in summary["label_prevalence"].items():
        lines.append(f"  {name:28s} {p['positive']:6.1%} {p['uncertain']:6.1%}")
    lines.append("images per sample: " + ", ".join(f"{k}: {v}" for k, v in summary["images_per_sample"].items()))
    if summary["views"]:
        lines.append("views: " + ", ".join(f"{k}: {v}" for k, v in summary["views"].items()))
    sec = summary["sections"]
    lines.append(f"sections: FINDINGS {sec['findings']:.1%}, IMPRESSION {sec['impression']:.1%}, both {sec['both']:.1%}")
    if summary["report_words"]:
        w = summary["report_words"]
        lines.append(f"report words: mean {w['mean']:.1f}, median {w['median']}, {w['min']}..{w['max']}")
    for s in summary["samples"]:
        lines.append(f"- {s['id']}: {len(s['images'])} image(s); FINDINGS: {(s['findings'] or '-')[:100]}; "
                     f"IMPRESSION: {(s['impression'] or '-')[:80]}")
    return "\n".join(lines)
