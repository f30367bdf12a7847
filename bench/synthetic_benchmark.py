"""The synthetic benchmark: rule-labeler agreement with the generator's ground truth, label
prevalence, and generation speed.

    python bench/synthetic_benchmark.py [--n 5000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from radrl.data.sections import format_sections
from radrl.data.synthetic import SyntheticConfig, draw_case, make_sample, write_report
from radrl.labelers import get_labeler
from radrl.metrics import clinical_metrics
from radrl.schema import OBSERVATIONS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = SyntheticConfig(seed=args.seed)
    t0 = time.perf_counter()
    texts, gold = [], []
    for i in range(args.n):
        rng = np.random.default_rng([cfg.seed, 0, i])
        case = draw_case(str(i), rng, cfg.prevalence, cfg.normal_fraction)
        f, imp, labels = write_report(case, rng)
        texts.append(format_sections(f, imp))
        gold.append(labels)
    text_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(100):
        make_sample("train", i, cfg)
    image_rate = 100 / (time.perf_counter() - t0)
    pred = get_labeler("rule").label_batch(texts)
    m = clinical_metrics(pred, gold)
    cells = sum(p[o] == g[o] for p, g in zip(pred, gold) for o in OBSERVATIONS) / (14 * len(gold))
    print(f"{args.n} synthetic reports (seed {args.seed}); text {args.n / text_s:,.0f}/s, "
          f"full samples with 224 px images {image_rate:.0f}/s")
    print(f"rule labeler vs generator ground truth: macro-F1 {m['macro']['f1']:.4f}, micro-F1 {m['micro']['f1']:.4f}, "
          f"4-class cell agreement {cells:.4f}")
    print(f"{'observation':28s}{'positive':>9s}{'uncertain':>10s}{'negative':>9s}{'F1':>8s}")
    for o in OBSERVATIONS:
        c = Counter(g[o] for g in gold)
        print(f"{o:28s}{c['positive'] / args.n:9.3f}{c['uncertain'] / args.n:10.3f}{c['negative'] / args.n:9.3f}"
              f"{m['per_label'][o]['f1']:8.3f}")
    uniq = len(set(texts))
    print(f"distinct report texts: {uniq} of {args.n}")


if __name__ == "__main__":
    main()
