"""The four papers' comparisons side by side on the synthetic benchmark (issue #14).

    python bench/papers.py [--seeds 0 1 2] [--steps 80] [--only deer_weights orapo ...]
                           [--out runs/bench-papers] [--set KEY=VALUE ...]
    make bench-papers

Every arm is a radrl recipe's ``tiny`` variant from the committed SFT checkpoint, run for the same
number of RL steps with each seed; arms of one comparison differ only in the settings the paper
compares. Each run is evaluated greedily on the validation split (100 studies) and the test split
(200 studies) against the ground-truth labels. Nothing is tuned per arm: the recipes' values
hold; the validation numbers are there so that a choice, if one is made, is made on them, and
test is reported once.

Comparisons (the paper's claim -> what is tested):

* ``deer_weights`` - DEER Tables 1 and 5: RL beats SFT, and DiTPO's token weights beat GRPO
  (TF-IDF and labeler-gradient weights; all three arms use the tiny CheXbert labeler).
* ``data_selection`` - DEER Table 7: RL on a 20 % DDSampling subset is as good as on 100 % and
  better than on a random 20 %; the subsets' reward diversity (share of zero-variance groups).
* ``orapo`` - OraPO Fig. 2: on FactS, OraPO's DPO on zero-reward groups lowers the zero-reward
  rate during training and raises F1 over (Dr.)GRPO.
* ``capo`` - RadFlow: critical-aware clipping (CAPO) beats plain GRPO clipping on its reward.
* ``mrg_r1`` - MRG-R1: the MCCS + format reward beats a plain F1 reward.

A claim "reproduces" when the paired difference (same seed) has a 95 % t-interval above 0, is
"same direction, not significant" when only its mean is positive, and "does not reproduce"
otherwise. Writes OUT/results.json and OUT/index.html (plots inline). Every run resumes: a run
whose OUT/<comparison>/<arm>/seed<N>/bench.json exists is not run again. It takes hours on 2 CPU
cores (about 4-5 minutes per run of 80 steps).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _shared import mean_ci

from radrl.io import atomic_write_json, atomic_write_text

METRICS = ("example_f1", "macro_f1", "bleu_4")


@dataclass
class Comparison:
    title: str
    recipe: str
    arms: dict[str, list[str]]  # arm -> recipe overrides (on top of the recipe's tiny variant)
    claims: list[tuple[str, str, str]]  # (better arm, worse arm, metric); "SFT" is the checkpoint
    common: list[str] = field(default_factory=list)
    with_sft: bool = False
    diversity: bool = False


COMPARISONS: dict[str, Comparison] = {
    "deer_weights": Comparison(
        "DEER Tables 1 and 5: SFT vs GRPO vs DiTPO (TF-IDF, gradient)", "deer",
        {"GRPO": ["algorithm.token_weights=null"], "DiTPO-TF-IDF": ["algorithm.token_weights.type=tfidf"],
         "DiTPO-gradient": ["algorithm.token_weights.type=gradient"]},
        [("GRPO", "SFT", "example_f1"), ("DiTPO-TF-IDF", "GRPO", "example_f1"),
         ("DiTPO-gradient", "GRPO", "example_f1")],
        common=["data.subset=null", "select=null"], with_sft=True),
    "data_selection": Comparison(
        "DEER Table 7: DDSampling 20 % vs random 20 % vs 100 %", "deer_tfidf",
        {"DDSampling 20 %": ["data.subset={out}/subset-ddsampling-20.json"],
         "random 20 %": ["data.subset={out}/subset-random-20.json", "select.method=random"],
         "100 %": ["data.subset=null", "select=null"]},
        [("DDSampling 20 %", "random 20 %", "example_f1"), ("DDSampling 20 %", "100 %", "example_f1")],
        diversity=True),
    "orapo": Comparison(
        "OraPO Fig. 2: OraPO vs Dr.GRPO on FactS", "orapo",
        {"OraPO": ["algorithm.aux_loss.type=orapo_dpo"], "Dr.GRPO": ["algorithm.aux_loss=null"]},
        [("OraPO", "Dr.GRPO", "example_f1")],
        common=["data.subset={out}/subset-balanced-400.json"]),
    "capo": Comparison(
        "RadFlow: CAPO vs GRPO clipping on the hierarchical reward", "radflow",
        {"CAPO": ["algorithm.clip.type=capo"], "GRPO": ["algorithm.clip=null"]},
        [("CAPO", "GRPO", "example_f1")],
        common=["data.subset={out}/subset-target-10.json"]),
    "mrg_r1": Comparison(
        "MRG-R1: MCCS + format reward vs an example-F1 reward", "mrg_r1",
        {"MCCS + format": [], "example F1": ["rewards=[{type: example_f1}]"]},
        [("MCCS + format", "example F1", "example_f1")]),
}
"""``{out}`` in an override is the comparison's folder (its subset files live there)."""


def verdict(diffs: list[float]) -> str:
    """Whether a paper's direction reproduces, from the paired differences better - worse."""
    ci = mean_ci(diffs)
    if len(diffs) > 1 and ci["ci95"][0] > 0:
        return "reproduces"
    return "same direction, not significant" if ci["mean"] > 0 else "does not reproduce"


def _scores(metrics: dict) -> dict:
    return {"example_f1": metrics["clinical"]["example"]["f1"], "macro_f1": metrics["clinical"]["macro"]["f1"],
            "bleu_4": metrics["nlg"]["bleu_4"]}


def _curve(run_dir: Path, key: str) -> list[float]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [r[key] for r in rows if key in r]


def run_comparison(name: str, comp: Comparison, seeds: list[int], steps: int, out: Path,
                   extra: list[str], model: str = "tiny-sft") -> dict:
    from radrl.assets import tiny_sft_checkpoint
    from radrl.evaluation import evaluate_model
    from radrl.recipe import load_recipe, with_overrides
    from radrl.stages import run_rl
    from radrl.training.rl import load_split

    folder = out / name
    base = load_recipe(comp.recipe, tiny=True, overrides=[
        f"rl.max_steps={steps}", "evaluate.meteor=false", f"model.path={model}",
        *(o.replace("{out}", str(folder)) for o in comp.common), *extra])
    sft_model = tiny_sft_checkpoint() if model == "tiny-sft" else Path(model)
    splits = {s: load_split(base.data, s) for s in ("val", "test")}
    generation = base.evaluate.generation
    arms: dict[str, dict] = {}
    if comp.with_sft:
        sft = {}
        for split, samples in splits.items():
            metrics, _ = evaluate_model(sft_model, samples, folder / "SFT" / split, generation, meteor=False)
            sft[split] = _scores(metrics)
        arms["SFT"] = {"runs": {str(s): sft for s in seeds}}
    for arm, overrides in comp.arms.items():
        runs = {}
        for seed in seeds:
            run_dir = folder / arm.replace(" ", "_").replace("%", "pc").replace("+", "plus") / f"seed{seed}"
            done = run_dir / "bench.json"
            if done.is_file():
                runs[str(seed)] = json.loads(done.read_text())
                continue
            t0 = time.perf_counter()
            recipe = with_overrides(base, *(o.replace("{out}", str(folder)) for o in overrides), f"rl.seed={seed}")
            res = run_rl(recipe, run_dir, resume=(run_dir / "checkpoints").is_dir(), evaluate=False)
            row = {}
            for split, samples in splits.items():
                metrics, _ = evaluate_model(res["model"], samples, run_dir / f"eval-{split}", generation, meteor=False)
                row[split] = _scores(metrics)
            row["zero_reward_share"] = _curve(run_dir, "diagnostics/all_zero_share")
            row["zero_std_share"] = _curve(run_dir, "diagnostics/zero_std_share")
            row["minutes"] = round((time.perf_counter() - t0) / 60, 1)
            atomic_write_json(done, row)
            runs[str(seed)] = row
            print(f"{name} / {arm} / seed {seed}: test example F1 {row['test']['example_f1']:.4f} "
                  f"({row['minutes']} min)", flush=True)
        arms[arm] = {"runs": runs}
    result = summarize(comp, arms, seeds)
    result["model"] = str(model)
    result["n"] = {split: len(samples) for split, samples in splits.items()}
    if comp.diversity:
        result["reward_diversity"] = subset_diversity(folder, base, sft_model)
    return result


def summarize(comp: Comparison, arms: dict[str, dict], seeds: list[int]) -> dict:
    """Mean and 95 % CI per arm, split and metric; each claim's paired difference and verdict."""
    for arm in arms.values():
        arm["summary"] = {split: {m: mean_ci([arm["runs"][str(s)][split][m] for s in seeds]) for m in METRICS}
                          for split in ("val", "test")}
    claims = []
    for better, worse, metric in comp.claims:
        row = {"claim": f"{better} > {worse} ({metric})", "better": better, "worse": worse, "metric": metric}
        for split in ("val", "test"):
            diffs = [arms[better]["runs"][str(s)][split][metric] - arms[worse]["runs"][str(s)][split][metric]
                     for s in seeds]
            row[split] = {"diff": mean_ci(diffs), "verdict": verdict(diffs)}
        claims.append(row)
    return {"title": comp.title, "recipe": comp.recipe, "arms": arms, "claims": claims}


def subset_diversity(folder: Path, base, model: Path) -> dict:
    """DEER Table 7's columns for the two 20 % subsets: 8 rollouts per prompt at the recipe's
    temperature, example-F1 reward; share of zero-variance groups, mean group std."""
    from radrl.analysis.reward_diversity import reward_diversity, sample_groups
    from radrl.rewards import ExampleF1Reward
    from radrl.selection import read_subset
    from radrl.training.rl import load_split

    cached = folder / "reward_diversity.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    train = {s.id: s for s in load_split(base.data, "train")}
    temperature = base.to_dict()["rl"].get("temperature", 1.0)  # the rollouts RL would see
    table = {}
    for name in ("ddsampling", "random"):
        path = folder / f"subset-{name}-20.json"
        if not path.is_file():
            continue
        chosen = [train[i] for i in sorted(read_subset(path)) if i in train]
        groups = sample_groups(str(model), chosen, group_size=8, temperature=temperature,
                               max_new_tokens=160)
        table[name] = reward_diversity(groups, [s.report for s in chosen], ExampleF1Reward(),
                                       [s.labels for s in chosen])
    atomic_write_json(cached, table)
    return table


def _figure_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _bars(result: dict, metric: str = "example_f1"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["arms"])
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(names), 3.2))
    for k, split in enumerate(("val", "test")):
        means = [result["arms"][n]["summary"][split][metric]["mean"] for n in names]
        lows = [m - result["arms"][n]["summary"][split][metric]["ci95"][0] for m, n in zip(means, names)]
        highs = [result["arms"][n]["summary"][split][metric]["ci95"][1] - m for m, n in zip(means, names)]
        xs = [i + (k - 0.5) * 0.38 for i in range(len(names))]
        ax.bar(xs, means, 0.36, yerr=[lows, highs], capsize=3, label=split, alpha=0.85)
    ax.set_xticks(range(len(names)), names, rotation=15)
    ax.set_ylabel(f"{metric} (mean, 95 % CI)")
    ax.legend()
    low = min(result["arms"][n]["summary"][s][metric]["ci95"][0] for n in names for s in ("val", "test"))
    ax.set_ylim(max(0.0, low - 0.05), None)
    png = _figure_png(fig)
    plt.close(fig)
    return png


def _curves(result: dict, key: str = "zero_reward_share"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    drew = False
    for arm, data in result["arms"].items():
        series = [r.get(key) or [] for r in data["runs"].values()]
        length = min((len(s) for s in series), default=0)
        if not length:
            continue
        ax.plot(range(1, length + 1), [statistics.mean(s[i] for s in series) for i in range(length)], label=arm)
        drew = True
    ax.set_xlabel("RL step")
    ax.set_ylabel(key.replace("_", " ") + " (mean over seeds)")
    if drew:
        ax.legend()
    png = _figure_png(fig)
    plt.close(fig)
    return png if drew else None


def write_page(results: dict, path: Path, seeds: list[int], steps: int) -> None:
    def fmt(ci: dict) -> str:
        return f"{ci['mean']:+.4f} [{ci['ci95'][0]:+.4f}, {ci['ci95'][1]:+.4f}]"

    parts = [f"<h1>radrl: the papers' comparisons on the synthetic benchmark</h1>"
             f"<p>Seeds {seeds}, {steps} RL steps per run; greedy evaluation against ground-truth labels. "
             "Mean and 95 % t-interval over seeds; a claim reproduces when its paired difference's interval "
             "is above 0. Nothing was tuned until a claim reproduced.</p>"]
    for name, r in results.items():
        n = r.get("n", {})
        parts.append(f"<h2>{html.escape(r['title'])}</h2><p>recipe <code>{r['recipe']}</code> (tiny), from "
                     f"<code>{html.escape(r.get('model', '?'))}</code>; {n.get('val', '?')} validation and "
                     f"{n.get('test', '?')} test studies</p>")
        parts.append("<table border=1 cellpadding=4><tr><th>arm</th>" + "".join(
            f"<th>{s} {m}</th>" for s in ("val", "test") for m in METRICS) + "</tr>")
        for arm, data in r["arms"].items():
            cells = "".join(f"<td>{data['summary'][s][m]['mean']:.4f} [{data['summary'][s][m]['ci95'][0]:.4f}, "
                            f"{data['summary'][s][m]['ci95'][1]:.4f}]</td>" for s in ("val", "test") for m in METRICS)
            parts.append(f"<tr><td>{html.escape(arm)}</td>{cells}</tr>")
        parts.append("</table><table border=1 cellpadding=4><tr><th>claim</th><th>val difference</th>"
                     "<th>test difference</th><th>test verdict</th></tr>")
        for c in r["claims"]:
            parts.append(f"<tr><td>{html.escape(c['claim'])}</td><td>{fmt(c['val']['diff'])}</td>"
                         f"<td>{fmt(c['test']['diff'])}</td><td><b>{c['test']['verdict']}</b></td></tr>")
        parts.append("</table>")
        parts.append(f"<img src='data:image/png;base64,{_bars(r)}'>")
        curve = _curves(r) if name == "orapo" else None
        if curve:
            parts.append(f"<img src='data:image/png;base64,{curve}'>")
        if r.get("reward_diversity"):
            parts.append("<p>reward diversity of the subsets (8 rollouts per prompt): <code>"
                         + html.escape(json.dumps(r["reward_diversity"])) + "</code></p>")
    atomic_write_text(path, "<!doctype html><meta charset=utf-8><title>radrl bench-papers</title>"
                      "<body style='font-family:sans-serif;max-width:1100px'>" + "\n".join(parts) + "</body>")


def check_origin(out: Path, model: Path, steps: int, extra: list[str]) -> None:
    """Finished runs in ``out`` are reused; refuse them when they started from another SFT model
    (its weights' SHA-256), step budget or overrides, which would mix two benchmarks in one table.
    The first call writes ``out/origin.json``."""
    import hashlib

    digest = hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    origin = {"sft_model_sha256": digest, "steps": steps, "overrides": list(extra)}
    path = out / "origin.json"
    if path.is_file():
        before = json.loads(path.read_text())
        if before != origin:
            changed = ", ".join(k for k in origin if before.get(k) != origin[k])
            sys.exit(f"{out} holds runs made with another {changed} ({path}); their results would be mixed with "
                     f"these. Move the folder away or pass --out to start a fresh one")
    elif out.is_dir() and any(out.iterdir()):
        sys.exit(f"{out} holds runs without {path.name} (made before it was written, from an unknown SFT "
                 "model); move the folder away or pass --out to start a fresh one")
    else:
        atomic_write_json(path, origin)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--only", nargs="+", choices=list(COMPARISONS), help="run only these comparisons")
    p.add_argument("--out", default="runs/bench-papers")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every run")
    p.add_argument("--model", default="tiny-sft", help="the SFT model every arm starts from")
    a = p.parse_args()
    out = Path(a.out)
    from radrl.assets import resolve_model_path

    check_origin(out, Path(resolve_model_path(a.model)), a.steps, a.set)
    results_file = out / "results.json"
    results = json.loads(results_file.read_text())["comparisons"] if results_file.is_file() else {}
    for name in a.only or list(COMPARISONS):
        results[name] = run_comparison(name, COMPARISONS[name], a.seeds, a.steps, out, a.set, a.model)
        atomic_write_json(results_file, {"seeds": a.seeds, "steps": a.steps, "comparisons": results})
        write_page(results, out / "index.html", a.seeds, a.steps)
        for c in results[name]["claims"]:
            print(f"{name}: {c['claim']}: test {c['test']['diff']['mean']:+.4f} "
                  f"[{c['test']['diff']['ci95'][0]:+.4f}, {c['test']['diff']['ci95'][1]:+.4f}] -> "
                  f"{c['test']['verdict']}", flush=True)
    print(f"-> {results_file}, {out / 'index.html'}")


if __name__ == "__main__":
    main()
