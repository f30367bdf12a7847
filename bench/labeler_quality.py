"""Rule labeler vs the human-coded MeSH positives of 2069 IU X-Ray reports, and vs CheXpert.

    python bench/labeler_quality.py [--part tune|heldout|all] [--uncertain positive] [--errors LABEL]

The reports are split once, by a hash of their id, into a tuning part (70 %) and a held-out part
(30 %). Rules are changed only by reading the tuning part's errors (``--errors`` shows only
those); the held-out part is scored to see whether a change generalises. Macro-F1 is printed
for both parts and for all 2069.

MeSH coding lists the findings present, so it is a positive-only reference: per observation,
recall = share of coded positives the labeler finds, precision = share of its positives the
coders also coded. A prediction counts as positive when the labeler says positive (and also
uncertain with --uncertain positive). Target (issue #2): macro-F1 >= 0.80 over the 14.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import time

from _shared import SHARED_DATA, full_text, iu_reports

from radrl.labelers import RuleLabeler, extract_mentions
from radrl.metrics.clinical import binarize, per_label
from radrl.schema import OBSERVATIONS, from_chexpert_csv_cell, from_positives


def chexpert_samples(labeler: RuleLabeler) -> tuple[int, int]:
    path = SHARED_DATA / "chexpert_labeler_samples" / "labeled_reports.csv"
    if not path.exists():
        return 0, 0
    agree = total = 0
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ours = labeler.label(row["Reports"])
            for name in OBSERVATIONS:
                total += 1
                theirs = from_chexpert_csv_cell(row[name])
                agree += ours[name] == theirs
                if ours[name] != theirs:
                    print(f"  differs: {name}: ours={ours[name]} chexpert={theirs} in {row['Reports'][:60]!r}")
    return agree, total


def part_of(report_id: str) -> str:
    """"heldout" for 30 % of the reports (a fixed hash of the id), else "tune"."""
    return "heldout" if hashlib.sha256(report_id.encode()).digest()[0] < 77 else "tune"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uncertain", choices=["negative", "positive"], default="negative")
    ap.add_argument("--errors", help="print false positives/negatives of this observation")
    ap.add_argument("--max-errors", type=int, default=25)
    ap.add_argument("--part", choices=["tune", "heldout", "all"], default="tune",
                    help="the part whose per-observation table is printed (default tune)")
    args = ap.parse_args()

    all_rows = iu_reports()
    labeler = RuleLabeler()
    t0 = time.perf_counter()
    all_pred = binarize(labeler.label_batch([full_text(r) for r in all_rows]), args.uncertain)
    seconds = time.perf_counter() - t0
    all_ref = binarize([from_positives(r["positives"]) for r in all_rows])
    parts = [part_of(r["id"]) for r in all_rows]
    for part in ("tune", "heldout", "all"):
        keep = [i for i, p in enumerate(parts) if part in ("all", p)]
        f1 = per_label(all_pred[keep], all_ref[keep])["f1"]
        print(f"macro-F1 {part:8s} ({len(keep):4d} reports): {f1.mean():.3f}")
    keep = [i for i, p in enumerate(parts) if args.part in ("all", p)]
    rows = [all_rows[i] for i in keep]
    texts = [full_text(r) for r in rows]
    pred, ref = all_pred[keep], all_ref[keep]
    table = per_label(pred, ref)
    print(f"\n{len(rows)} IU reports ({args.part} part; FINDINGS + IMPRESSION) vs MeSH positives; "
          f"uncertain counted as {args.uncertain}; all 2069 labelled in {seconds:.2f} s")
    print(f"{'observation':28s} {'support':>7s} {'pred':>5s} {'P':>6s} {'R':>6s} {'F1':>6s}")
    for i, name in enumerate(OBSERVATIONS):
        print(f"{name:28s} {int(table['support'][i]):7d} {int(pred[:, i].sum()):5d} "
              f"{table['precision'][i]:6.3f} {table['recall'][i]:6.3f} {table['f1'][i]:6.3f}")
    macro_f1 = float(table["f1"].mean())
    print(f"{'macro over 14':28s} {'':7s} {'':5s} {table['precision'].mean():6.3f} "
          f"{table['recall'].mean():6.3f} {macro_f1:6.3f}   (target >= 0.80)")

    agree, total = chexpert_samples(labeler)
    if total:
        print(f"CheXpert labeler samples: {agree}/{total} label cells identical")

    if args.errors:
        if args.part != "tune":
            ap.error("--errors reads the tuning part only (the held-out part stays unread)")
        i = OBSERVATIONS.index(args.errors)
        shown = 0
        for r, t, p, g in zip(rows, texts, pred[:, i], ref[:, i]):
            if p != g and shown < args.max_errors:
                shown += 1
                kind = "FP" if p else "FN"
                ms = [(m.observation, m.value, m.text) for m in extract_mentions(t)
                      if m.observation in (args.errors, "Other finding")]
                print(f"\n{kind} {r['id']} mesh={r['mesh_major']}\n   {t}\n   {ms}")


if __name__ == "__main__":
    main()
