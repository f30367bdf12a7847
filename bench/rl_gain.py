"""Does RL after SFT raise clinical F1? DEER/DiTPO (tiny recipe) from the committed SFT checkpoint,
several seeds, greedy evaluation on the synthetic test split (200 studies) against the SFT model.

    python bench/rl_gain.py [--seeds 0 1 2] [--steps 100] [--lr 1e-4] [--out runs/bench-rl] [--model SFT_DIR]
                            [--split val|test]

``--model`` starts RL from another SFT model (default: the committed checkpoint, ``tiny-sft``);
``--sft-steps N`` first trains one with the ``tiny_sft`` recipe cut to N steps (OUT/sftN).

Prints, per seed and as mean +- std over seeds, example-based P/R/F1, macro F1, BLEU-4 and the F1
gain over SFT with its 95 % t-interval over seeds, then per finding the true / false positive
calls of each system (which findings moved F1); writes OUT/summary.json. Runs resume (each
seed's folder is a radrl RL run). ``--split val`` scores the validation studies instead (make
choices there; report test once). Target (issue 4): mean example-F1 gain >= 0.03; issue 14: the
interval above 0.

``--eval-data DIR`` scores the same models on the split of another benchmark folder (``radrl synth
DIR --seed 1 --n-test 2000 ...``: fresh studies), read as it is; the RL runs keep their recipe's
data. Its evaluations go to ``eval-SPLIT-NAME`` (NAME: the folder's name), its summary to
``summary-SPLIT-NAME.json``, so a first read of the recipe's own split is never overwritten.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shared import mean_ci  # noqa: E402

from radrl.assets import tiny_sft_checkpoint
from radrl.evaluation import evaluate_model
from radrl.io import atomic_write_json
from radrl.recipe import DataSection, load_recipe, with_overrides
from radrl.stages import run_rl
from radrl.training.rl import load_split


def row(m: dict) -> dict:
    c = m["clinical"]
    return {"P": c["example"]["precision"], "R": c["example"]["recall"], "F1": c["example"]["f1"],
            "macro_F1": c["macro"]["f1"], "BLEU-4": m["nlg"]["bleu_4"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--recipe", default="deer_tfidf")
    p.add_argument("--out", default="runs/bench-rl")
    p.add_argument("--model", default="tiny-sft", help="SFT model RL starts from")
    p.add_argument("--sft-steps", type=int, help="train the SFT model first: the tiny_sft recipe, N steps")
    p.add_argument("--split", default="test", choices=["val", "test"], help="the split scored")
    p.add_argument("--eval-data", metavar="DIR", help="score on SPLIT of this synthetic folder instead (fresh studies)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more recipe overrides (rl.beta=0.04)")
    a = p.parse_args()
    if a.sft_steps:
        from radrl.pipeline import run_pipeline

        sft_recipe = load_recipe("tiny_sft", overrides=[f"sft.max_steps={a.sft_steps}"])
        a.model = str(run_pipeline(sft_recipe, Path(a.out) / f"sft{a.sft_steps}", meteor=False)["model"])
    out = Path(a.out)
    base = load_recipe(a.recipe, tiny=True, overrides=[
        f"rl.max_steps={a.steps}", f"rl.learning_rate={a.lr}", "rl.save_steps=50",
        "rewards=[{type: example_f1}]", "evaluate.meteor=false", f"model.path={a.model}", "data.subset=null", "select=null", *a.set])
    if a.eval_data:
        folder = Path(a.eval_data)
        if not (folder / "config.json").is_file():
            sys.exit(f"--eval-data {folder}: no synthetic benchmark there (build it with `radrl synth {folder} ...`)")
        test = load_split(DataSection(kind="synthetic", path=str(folder)), a.split)
        tag = f"-{a.split}-{folder.name}"
    else:
        test = load_split(base.data, a.split)
        tag = "" if a.split == "test" else f"-{a.split}"
    sft_path = tiny_sft_checkpoint() if a.model == "tiny-sft" else a.model
    sft, sft_reports = evaluate_model(sft_path, test, out / f"sft-eval{tag}", base.evaluate.generation, meteor=False)
    results = {"SFT": row(sft)}
    calls = {"SFT": calls_per_finding(sft_reports, test)}
    for seed in a.seeds:
        t0 = time.perf_counter()
        recipe = with_overrides(base, f"rl.seed={seed}")
        run = out / f"seed{seed}"
        res = run_rl(recipe, run, resume=(run / "checkpoints").is_dir(), evaluate=False)
        minutes = round((time.perf_counter() - t0) / 60, 1)
        metrics, reports = evaluate_model(res["model"], test, run / f"eval{tag}", base.evaluate.generation, meteor=False)
        calls[f"RL seed {seed}"] = calls_per_finding(reports, test)
        results[f"RL seed {seed}"] = {**row(metrics), "minutes": minutes}
    gains = [results[f"RL seed {s}"]["F1"] - results["SFT"]["F1"] for s in a.seeds]
    summary = {"recipe": a.recipe, "sft_model": str(a.model), "overrides": a.set, "steps": a.steps, "lr": a.lr,
               "split": a.split, "eval_data": a.eval_data, "n_test": len(test), "results": results,
               "f1_gain_ci95": mean_ci(gains)["ci95"], "calls_per_finding": calls,
               "f1_gain_mean": statistics.mean(gains),
               "f1_gain_std": statistics.stdev(gains) if len(gains) > 1 else 0.0, "f1_gains": gains}
    atomic_write_json(out / f"summary{tag}.json", summary)
    print(f"{a.recipe} (tiny) from {a.model}, {a.steps} steps, lr {a.lr}, greedy on {len(test)} synthetic {a.split} "
          f"studies{' of ' + a.eval_data if a.eval_data else ''}")
    print(f"{'':14s}" + "".join(f"{k:>9s}" for k in ("P", "R", "F1", "macro_F1", "BLEU-4")))
    for name, r in results.items():
        print(f"{name:14s}" + "".join(f"{r[k]:9.3f}" for k in ("P", "R", "F1", "macro_F1", "BLEU-4")))
    lo, hi = summary["f1_gain_ci95"]
    print(f"example-F1 gain over SFT: {summary['f1_gain_mean']:+.4f} +- {summary['f1_gain_std']:.4f}, 95 % CI "
          f"[{lo:+.4f}, {hi:+.4f}] (seeds {a.seeds}: {', '.join(f'{g:+.4f}' for g in gains)})")
    print("true / false positive calls per finding (rule labeler; findings where a system differs from SFT):")
    print(f"{'':28s}{'studies':>8s}" + "".join(f"{name:>14s}" for name in calls))
    for finding, (n_pos, *_) in calls["SFT"].items():
        cells = [tuple(c[finding][1:]) for c in calls.values()]
        if len(set(cells)) > 1:
            print(f"{finding:28s}{n_pos:8d}" + "".join(f"{f'{tp} / {fp}':>14s}" for tp, fp in cells))
    print(json.dumps({"f1_gain_mean": summary["f1_gain_mean"], "f1_gain_std": summary["f1_gain_std"]}))


def calls_per_finding(reports: list[str], samples) -> dict[str, list[int]]:
    """Per finding: [studies with it, true positive calls, false positive calls] of ``reports``,
    labelled by the rule labeler (positive = called) against the samples' ground-truth labels.
    Where example F1 moves, this says which findings moved it."""
    from radrl.labelers import RuleLabeler
    from radrl.schema import OBSERVATIONS

    labeler = RuleLabeler()
    table = {o: [0, 0, 0] for o in OBSERVATIONS}
    for report, sample in zip(reports, samples, strict=True):
        said = labeler.label(report)
        for o in OBSERVATIONS:
            present = sample.labels[o] == "positive"
            table[o][0] += present
            if said[o] == "positive":
                table[o][1 if present else 2] += 1
    return table


if __name__ == "__main__":
    main()
