"""What a checkpoint's vision features carry: per-finding AUROC of a linear probe.

    python bench/vision_probe.py                       # the committed tiny SFT checkpoint
    python bench/vision_probe.py --model A --model B   # any Qwen2.5-VL-style folders, side by side
    python bench/vision_probe.py --model M --sign-strength 0.5 --work runs/vision-probe-ss50  # fainter films

For each checkpoint the vision tower is frozen, its image tokens are pooled (mean and max), and
one logistic regression per finding is fit on ``--n-train`` training films of the synthetic
benchmark (seed 0) and scored on ``--n-eval`` films drawn with another seed (``--eval-seed``,
default 1: the validation films of the tiny_sft recipe's vision pretraining, never the
benchmark's test split). Prints a table and writes ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from radrl.assets import TINY_SFT  # noqa: E402
from radrl.data.synthetic import SyntheticConfig, build_synthetic, load_synthetic  # noqa: E402
from radrl.io import atomic_write_json  # noqa: E402
from radrl.models.vision_pretrain import linear_probe_auroc  # noqa: E402
from radrl.schema import FINDINGS  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="checkpoint folder (repeatable; default: the committed one)")
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-eval", type=int, default=500)
    ap.add_argument("--eval-seed", type=int, default=1)
    ap.add_argument("--sign-strength", type=float, default=1.0,
                    help="the films' sign strength (SyntheticConfig.sign_strength): the one the model was trained on")
    ap.add_argument("--work", default="runs/vision-probe", help="where the films are built (reused)")
    ap.add_argument("--out", default="runs/vision-probe/probe.json")
    args = ap.parse_args(argv)
    models = args.model or [str(TINY_SFT)]
    work = Path(args.work)
    train = load_synthetic(build_synthetic(work / "train-films", SyntheticConfig(
        n_train=args.n_train, n_val=0, n_test=0, seed=0, sign_strength=args.sign_strength)), "train")
    held = load_synthetic(build_synthetic(work / "eval-films", SyntheticConfig(
        n_train=0, n_val=args.n_eval, n_test=0, seed=args.eval_seed, sign_strength=args.sign_strength)), "val")
    results = {}
    for m in models:
        t0 = time.perf_counter()
        results[m] = linear_probe_auroc(m, train, held)
        results[m]["seconds"] = round(time.perf_counter() - t0, 1)
    prevalence = {f: sum(s.labels[f] in ("positive", "uncertain") for s in held) for f in FINDINGS}
    width = max(len(f) for f in FINDINGS) + 2
    print(f"linear-probe AUROC, fit on {len(train)} benchmark train films, scored on {len(held)} films of seed "
          f"{args.eval_seed}")
    print(f"{'finding':<{width}}{'positives':>10}" + "".join(f"{'model ' + str(i + 1):>10}" for i in range(len(models))))
    for f in FINDINGS:
        cells = "".join(f"{r['auroc'][f]:>10.3f}" if r["auroc"][f] is not None else f"{'n/a':>10}"
                        for r in results.values())
        print(f"{f:<{width}}{prevalence[f]:>10}{cells}")
    print(f"{'macro':<{width}}{'':>10}" + "".join(f"{r['macro_auroc']:>10.3f}" for r in results.values()))
    for i, m in enumerate(models):
        print(f"model {i + 1}: {m}")
    atomic_write_json(args.out, {"n_train": len(train), "n_eval": len(held), "eval_seed": args.eval_seed,
                                 "positives": prevalence, "models": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
