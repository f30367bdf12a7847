"""Has an SFT run converged? Validation example F1 of every kept checkpoint along training.

    python bench/sft_convergence.py runs/tiny-sft          # a `radrl pipeline tiny_sft` run folder

Greedy-generates for the run's validation studies (``RUN/data``, split ``val``) with every
checkpoint in ``RUN/sft/checkpoints`` and the final model, scores them against the ground-truth
labels, prints step -> example P/R/F1 and writes ``RUN/convergence.json`` and
``RUN/convergence.png``. Converged means: F1 stops rising before the last step - the last
checkpoint is at most ``--tolerance`` (0.01, about one study in 100) above the best one of the
first two thirds of training. The test split is not read. Each checkpoint's evaluation is kept (``RUN/convergence/step-N``) and reused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from radrl.data.synthetic import load_synthetic
from radrl.evaluation import evaluate_model
from radrl.io import atomic_write_json


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a radrl pipeline run folder (data/, sft/)")
    ap.add_argument("--split", default="val")
    ap.add_argument("--tolerance", type=float, default=0.01)
    args = ap.parse_args(argv)
    run = Path(args.run)
    samples = load_synthetic(run / "data", args.split)
    log = json.loads((run / "sft" / "final" / "radrl_sft.json").read_text())
    last = max(e["step"] for e in log["log_history"] if "step" in e)
    models = sorted(((int(p.name.split("-")[1]), p) for p in (run / "sft" / "checkpoints").glob("checkpoint-*")
                     if (p / "model.safetensors").is_file()), key=lambda t: t[0])
    if not models or models[-1][0] != last:
        models.append((last, run / "sft" / "final"))
    rows = []
    for step, path in models:
        cache = run / "convergence" / f"step-{step}"
        if (cache / "metrics.json").is_file():
            metrics = json.loads((cache / "metrics.json").read_text())
        else:
            metrics, _ = evaluate_model(path, samples, cache, {"mode": "greedy", "batch_size": 32}, meteor=False)
        ex = metrics["clinical"]["example"]
        rows.append({"step": step, "precision": ex["precision"], "recall": ex["recall"], "f1": ex["f1"],
                     "macro_f1": metrics["clinical"]["macro"]["f1"]})
        print(f"step {step:>6}  P {ex['precision']:.3f}  R {ex['recall']:.3f}  F1 {ex['f1']:.3f}  "
              f"macro-F1 {metrics['clinical']['macro']['f1']:.3f}")
    best = max(rows, key=lambda r: r["f1"])
    early = [r for r in rows if r["step"] <= 2 * rows[-1]["step"] / 3]
    rise = rows[-1]["f1"] - max(r["f1"] for r in early) if early and len(rows) > 1 else float("inf")
    converged = rise <= args.tolerance
    print(f"best {args.split} F1 {best['f1']:.3f} at step {best['step']} of {rows[-1]['step']}; last third added "
          f"{rise:+.3f}: {'converged' if converged else 'still rising'}")
    atomic_write_json(run / "convergence.json", {"split": args.split, "n": len(samples), "rows": rows,
                                                 "best_step": best["step"], "last_third_rise": rise,
                                                 "converged": converged})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for key in ("f1", "precision", "recall"):
        ax.plot([r["step"] for r in rows], [r[key] for r in rows], marker="o", label=key)
    ax.set_xlabel("SFT step")
    ax.set_ylabel(f"example-based, {args.split} ({len(samples)})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(run / "convergence.png", dpi=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
