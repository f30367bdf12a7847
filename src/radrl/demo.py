"""``radrl demo`` / ``make demo``: the main job on the embedded default, in a few minutes on CPU.

1. builds the synthetic benchmark (``recipes/demo.yaml``: 2,000 train / 100 val / 200 test);
2. builds the tiny Qwen2.5-VL and trains it with SFT for a short while (TRL ``SFTTrainer``);
3. generates reports for the test split and scores them (clinical + NLG);
4. scores, on the same split, the committed SFT checkpoint (``assets/tiny-sft``, trained longer
   by ``recipes/tiny_sft.yaml``; RL starts from it) and the "most frequent report" baseline;
5. writes ``runs/demo``: ``metrics.json``, ``per_label_f1.png``, ``sft_loss.png``,
   ``report.html`` (images, references and generated reports side by side), predictions.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from radrl.assets import REPO_ROOT, TINY_SFT
from radrl.io import atomic_write_json, read_yaml

DEMO_RECIPE = REPO_ROOT / "recipes" / "demo.yaml"
# used when radrl is installed without its repository (recipes/ not beside the package)
FALLBACK_RECIPE = {
    "synthetic": {"n_train": 2000, "n_val": 100, "n_test": 200, "seed": 0},
    "tiny_model": {"seed": 0},
    "sft": {"max_steps": 150, "batch_size": 16, "learning_rate": 0.002, "warmup_steps": 10, "save_steps": 50,
            "seed": 0},
    "evaluate": {"split": "test", "generation": {"mode": "greedy", "batch_size": 32}},
}


def _recipe(path: str | None) -> dict:
    if path:
        return read_yaml(path)
    return read_yaml(DEMO_RECIPE) if DEMO_RECIPE.is_file() else FALLBACK_RECIPE


def run_demo(args: argparse.Namespace) -> int:
    from radrl.cli import format_metrics
    from radrl.data.synthetic import load_synthetic
    from radrl.evaluation import evaluate_reports, most_frequent_report
    from radrl.labelers import get_labeler
    from radrl.pipeline import evaluate_model, run_pipeline
    from radrl.reporting import plot_loss, plot_per_label_f1, write_html

    t0 = time.perf_counter()
    out = Path(getattr(args, "out", "runs/demo"))
    recipe = _recipe(getattr(args, "recipe", None))
    meteor = not getattr(args, "no_meteor", False)
    print(f"radrl demo -> {out}\n[1-3] synthetic benchmark, tiny VLM, short SFT, generation, evaluation")
    result = run_pipeline(recipe, out, meteor=meteor)
    split = recipe.get("evaluate", {}).get("split", "test")
    test = load_synthetic(result["data"], split)
    train = load_synthetic(result["data"], "train")
    gold = [s.labels for s in test]
    systems = {}

    baseline_text = most_frequent_report([s.report for s in train], [s.labels for s in train])
    systems["most frequent report"] = evaluate_reports([baseline_text] * len(test), [s.report for s in test],
                                                       ref_labels=gold, meteor=meteor)
    steps = recipe.get("sft", {}).get("max_steps", "?")
    systems[f"SFT, this run ({steps} steps)"] = result["metrics"]
    outputs = {f"SFT, this run ({steps} steps)": result["predictions"]}
    if (TINY_SFT / "model.safetensors").is_file() and not getattr(args, "skip_checkpoint", False):
        print(f"[4] committed SFT checkpoint {TINY_SFT}")
        name = "SFT, committed checkpoint"
        systems[name], outputs[name] = evaluate_model(TINY_SFT, test, out / "eval-checkpoint",
                                                      recipe.get("evaluate", {}).get("generation"), meteor=meteor)
    labeler = get_labeler("rule")
    labels = {k: labeler.label_batch(list(v)) for k, v in outputs.items()}

    log = json.loads((result["model"] / "radrl_sft.json").read_text())["log_history"]
    figures = [plot_per_label_f1(systems, out / "per_label_f1.png").name, plot_loss(log, out / "sft_loss.png").name]
    page = write_html(out / "report.html", "radrl demo: synthetic chest X-ray benchmark", test, outputs, labels,
                      list(systems.items()), figures=figures)
    summary = {"seconds": round(time.perf_counter() - t0, 1), "split": split, "n": len(test),
               "baseline_report": baseline_text, "systems": systems}
    atomic_write_json(out / "metrics.json", summary)

    print()
    for name, m in systems.items():
        print(f"== {name}")
        print(format_metrics(m))
    print(f"\nwrote {out / 'metrics.json'}, {out / 'per_label_f1.png'}, {page}")
    print(f"demo wall time {summary['seconds']:.0f} s")
    return 0
