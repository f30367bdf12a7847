"""Where can RL gain over an SFT model? Decision headroom on its own beliefs and per-finding
discrimination (radrl.analysis.headroom), on the synthetic benchmark's validation split.

    python bench/rl_headroom.py [--model tiny-sft] [--k 16] [--temperature 1.0] [--n-val 400]
                                [--probe runs/vision-probe/probe.json] [--out runs/rl-headroom]
                                [--report-style paraphrased|templated|comparison] [--prevalence FINDING=RATE ...]
                                [--sign-strength S]
                                [--data FILMS_DIR]

Generates the greedy report and K sampled reports per validation study, labels them with the
rule labeler and prints: example F1 of greedy, of a sampled report, of the best call-rate
threshold, of MBR, and of the best-of-K oracle; then per finding the greedy recall, the call
rate of the samples on positives and negatives, the policy's AUROC and, with ``--probe``
(bench/vision_probe.py's output), the linear probe's AUROC on the same checkpoint's features.
Writes OUT/headroom.json. Validation only: the threshold is fit on what it scores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from radrl.analysis.headroom import headroom  # noqa: E402
from radrl.assets import resolve_model_path  # noqa: E402
from radrl.data.synthetic import SyntheticConfig, build_synthetic, load_synthetic  # noqa: E402
from radrl.data.synthetic.reports import REPORT_STYLES  # noqa: E402
from radrl.io import atomic_write_json  # noqa: E402
from radrl.schema import OBSERVATIONS  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-sft")
    ap.add_argument("--k", type=int, default=16, help="sampled reports per study")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--n-val", type=int, default=400, help="validation studies (seed 0; the first 100 are the recipes')")
    ap.add_argument("--data", default="runs/rl-headroom/films")
    ap.add_argument("--report-style", default="paraphrased", choices=list(REPORT_STYLES),
                    help="the validation reports' style (SyntheticConfig.report_style): the one the model was trained on")
    ap.add_argument("--prevalence", nargs="*", default=[], metavar="FINDING=RATE",
                    help="the rates the model was trained with (SyntheticConfig.prevalence), e.g. Pneumothorax=0.3")
    ap.add_argument("--sign-strength", type=float, default=1.0,
                    help="the films' sign strength the model was trained on (SyntheticConfig.sign_strength)")
    ap.add_argument("--probe", help="bench/vision_probe.py JSON, to show the probe's AUROC beside the policy's")
    ap.add_argument("--probe-model", help="which model of the probe file (default: the first)")
    ap.add_argument("--out", default="runs/rl-headroom")
    a = ap.parse_args(argv)
    probe_auroc = {}
    if a.probe:  # read first: a wrong file fails before minutes of generation
        probed = json.loads(Path(a.probe).read_text())["models"]
        key = a.probe_model or next(iter(probed))
        if key not in probed:
            raise SystemExit(f"{a.probe}: no model {key!r}; it has {sorted(probed)}")
        probe_auroc = probed[key]["auroc"]

    import torch

    from radrl.config.sections import GenerationSettings
    from radrl.generation import generate_reports
    from radrl.labelers import get_labeler
    from radrl.metrics.clinical import binarize
    from radrl.models.policy import load_policy_for_inference

    t0 = time.perf_counter()
    model = str(resolve_model_path(a.model))
    prevalence = {}
    for item in a.prevalence:
        try:
            name, rate = item.split("=")
            prevalence[name] = float(rate)
        except ValueError:
            raise SystemExit(f"--prevalence {item!r}: use FINDING=RATE, e.g. Pneumothorax=0.3") from None
    films = SyntheticConfig(n_train=0, n_val=a.n_val, n_test=0, report_style=a.report_style, prevalence=prevalence,
                            sign_strength=a.sign_strength)
    studies = load_synthetic(build_synthetic(a.data, films), "val")
    ref = binarize([s.labels for s in studies])
    cache = Path(a.out) / "labels.npz"  # the label matrices: a re-run with the same settings only re-scores
    key = json.dumps({"model": model, "k": a.k, "temperature": a.temperature, "n_val": a.n_val,
                      "films": films.record()})
    cached = None
    if cache.is_file():
        with np.load(cache) as z:
            if str(z["key"]) == key:
                cached = z["greedy"], z["sampled"]
    if cached:
        g, s = cached
    else:
        policy, processor = load_policy_for_inference(model)
        labeler = get_labeler("rule")
        with torch.no_grad():
            greedy = generate_reports(policy, processor, studies, GenerationSettings(mode="greedy", batch_size=32))
            sampled = generate_reports(policy, processor, studies, GenerationSettings(
                mode="sample", temperature=a.temperature, top_p=1.0, num_return_sequences=a.k, batch_size=16))
        g = binarize(labeler.label_batch([r[0] for r in greedy]))
        s = np.stack([binarize(labeler.label_batch(r)) for r in sampled])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, greedy=g, sampled=s, key=np.array(key))
    result = {"model": model, "temperature": a.temperature, **headroom(g, s, ref), "probe_auroc": probe_auroc}
    result["seconds"] = round(time.perf_counter() - t0, 1)

    print(f"{a.model}: {result['n']} validation studies, {a.k} samples each at T {a.temperature}")
    print(f"  example F1  greedy {result['greedy_f1']:.4f} | sampled {result['sampled_f1']:.4f} | "
          f"best threshold ({result['best_threshold']}) {result['best_threshold_f1']:.4f} | "
          f"MBR {result['mbr_f1']:.4f} | best of {a.k} (oracle) {result['best_of_k_f1']:.4f}")
    w = max(len(o) for o in OBSERVATIONS) + 2
    print(f"{'label':<{w}}{'pos':>5}{'greedy R':>10}{'rate|pos':>10}{'rate|neg':>10}{'policy AUC':>12}{'probe AUC':>11}")
    for name, row in result["per_label"].items():
        def cell(v, width, fmt=".2f"):
            return f"{v:>{width}{fmt}}" if v is not None else f"{'n/a':>{width}}"
        print(f"{name:<{w}}{row['positives']:>5}{cell(row['greedy_recall'], 10)}{cell(row['call_rate_positive'], 10)}"
              f"{cell(row['call_rate_negative'], 10, '.3f')}{cell(row['policy_auroc'], 12, '.3f')}"
              f"{cell(probe_auroc.get(name), 11, '.3f')}")
    out = Path(a.out) / "headroom.json"
    atomic_write_json(out, result)
    print(f"-> {out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
