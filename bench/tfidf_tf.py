"""Which term frequency should DiTPO's TF-IDF weights use? GRPO vs DiTPO-TF-IDF with relative TF
vs with raw TF, several seeds, chosen on the synthetic VALIDATION split (issue #14).

    python bench/tfidf_tf.py [--seeds 0 1 2] [--steps 100] [--out runs/bench-tfidf-tf]

DEER's Eq. 7 says only "the frequency of the token within the report". Relative TF (count / |o|)
makes every weight 1 + alpha * TF * IDF close to 1 on a 40-60-token report, so DiTPO is then
almost GRPO; raw TF (the count) gives weights of 1 + alpha * IDF, up to ~1 + 4 log 8 = 9.3.

Every arm: the deer_tfidf tiny recipe from the committed SFT checkpoint (the demo's RL), example
F1 reward, the same steps, learning rate and seeds; only ``algorithm.token_weights`` /
``algorithm.token_weights.tf`` differ. Greedy evaluation on the 100 validation studies. Prints per arm the mean
and 95 % t-interval over seeds of validation example F1, its difference to GRPO paired by seed,
and the mean and max token weight seen in training; writes OUT/summary.json. Runs resume: each
seed of each arm is a radrl RL run folder. The test split is not read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from _shared import mean_ci

from radrl.assets import tiny_sft_checkpoint
from radrl.evaluation import evaluate_model
from radrl.io import atomic_write_json
from radrl.recipe import load_recipe, with_overrides
from radrl.stages import run_rl
from radrl.training.rl import load_split

ARMS = {
    "GRPO": ["algorithm.token_weights=null"],
    "DiTPO-TF-IDF, relative TF": ["algorithm.token_weights.type=tfidf", "algorithm.token_weights.tf=relative"],
    "DiTPO-TF-IDF, raw TF": ["algorithm.token_weights.type=tfidf", "algorithm.token_weights.tf=raw"],
}


def weight_stats(run_dir: Path) -> dict:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    means = [r["token_weights/mean"] for r in rows if "token_weights/mean" in r]
    maxes = [r["token_weights/max"] for r in rows if "token_weights/max" in r]
    return {"token_weight_mean": statistics.mean(means) if means else 1.0,
            "token_weight_max": max(maxes) if maxes else 1.0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--out", default="runs/bench-tfidf-tf")
    a = p.parse_args()
    out = Path(a.out)
    base = load_recipe("deer_tfidf", tiny=True, overrides=[
        f"rl.max_steps={a.steps}", f"rl.learning_rate={a.lr}", "rl.save_steps=50",
        "rewards=[{type: example_f1}]", "evaluate.meteor=false", "evaluate.split=val", "data.subset=null",
        "select=null"])
    val = load_split(base.data, "val")
    sft, _ = evaluate_model(tiny_sft_checkpoint(), val, out / "sft-eval", base.evaluate.generation, meteor=False)
    sft_f1 = sft["clinical"]["example"]["f1"]
    print(f"SFT checkpoint: val example F1 {sft_f1:.4f}", flush=True)
    results: dict[str, dict] = {}
    for arm, overrides in ARMS.items():
        runs = {}
        for seed in a.seeds:
            run_dir = out / arm.split(",")[-1].strip().replace(" ", "-").lower() / f"seed{seed}"
            t0 = time.perf_counter()
            recipe = with_overrides(base, *overrides, f"rl.seed={seed}")
            res = run_rl(recipe, run_dir, resume=(run_dir / "checkpoints").is_dir())
            runs[seed] = {"val_example_f1": res["metrics"]["clinical"]["example"]["f1"],
                          "minutes": round((time.perf_counter() - t0) / 60, 1), **weight_stats(run_dir)}
            print(f"{arm} seed {seed}: val example F1 {runs[seed]['val_example_f1']:.4f} "
                  f"({runs[seed]['minutes']} min)", flush=True)
        results[arm] = {"runs": runs}
    grpo = results["GRPO"]["runs"]
    for arm, r in results.items():
        f1 = [r["runs"][s]["val_example_f1"] for s in a.seeds]
        r["val_example_f1"] = mean_ci(f1)
        if arm != "GRPO":
            diff = [r["runs"][s]["val_example_f1"] - grpo[s]["val_example_f1"] for s in a.seeds]
            r["diff_vs_grpo"] = mean_ci(diff)
        r["token_weight_mean"] = statistics.mean(r["runs"][s]["token_weight_mean"] for s in a.seeds)
        r["token_weight_max"] = max(r["runs"][s]["token_weight_max"] for s in a.seeds)
    summary = {"steps": a.steps, "lr": a.lr, "seeds": a.seeds, "split": "val", "sft_val_example_f1": sft_f1,
               "arms": results}
    atomic_write_json(out / "summary.json", summary)
    print(f"\nfrom the committed SFT checkpoint, {a.steps} steps, lr {a.lr}, seeds {a.seeds}; greedy, "
          "100 synthetic validation studies")
    print(f"SFT checkpoint: val example F1 {sft_f1:.4f}")
    print(f"{'arm':28s} {'val example F1 (95% CI)':>26s} {'vs GRPO (95% CI)':>26s} {'weight mean':>11s} {'max':>6s}")
    for arm, r in results.items():
        f, d = r["val_example_f1"], r.get("diff_vs_grpo")
        dtxt = f"{d['mean']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}]" if d else ""
        print(f"{arm:28s} {f['mean']:.4f} [{f['ci95'][0]:.4f}, {f['ci95'][1]:.4f}] {dtxt:>26s} "
              f"{r['token_weight_mean']:11.3f} {r['token_weight_max']:6.2f}")


if __name__ == "__main__":
    main()
