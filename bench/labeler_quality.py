"""Rule labeler vs the human-coded MeSH positives of 2069 IU X-Ray reports, and vs CheXpert.

    python bench/labeler_quality.py [--uncertain positive] [--errors LABEL]

MeSH coding lists the findings present, so it is a positive-only reference: per observation,
recall = share of coded positives the labeler finds, precision = share of its positives the
coders also coded. A prediction counts as positive when the labeler says positive (and also
uncertain with --uncertain positive). Target (issue #2): macro-F1 >= 0.80 over the 14.
"""

from __future__ import annotations

import argparse
import csv
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uncertain", choices=["negative", "positive"], default="negative")
    ap.add_argument("--errors", help="print false positives/negatives of this observation")
    ap.add_argument("--max-errors", type=int, default=25)
    args = ap.parse_args()

    rows = iu_reports()
    texts = [full_text(r) for r in rows]
    labeler = RuleLabeler()
    t0 = time.perf_counter()
    predicted = labeler.label_batch(texts)
    seconds = time.perf_counter() - t0
    pred = binarize(predicted, args.uncertain)
    ref = binarize([from_positives(r["positives"]) for r in rows])
    table = per_label(pred, ref)
    print(f"{len(rows)} IU reports (FINDINGS + IMPRESSION) vs MeSH positives; "
          f"uncertain counted as {args.uncertain}; labelled in {seconds:.2f} s")
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
