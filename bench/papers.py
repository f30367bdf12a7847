"""The four papers' comparisons side by side on the synthetic benchmark, from the committed SFT
checkpoint (issues #14, #29).

    python bench/papers.py [--only deer_weights orapo ...] [--seeds 0 1 2] [--steps 80]
    make bench-papers

Every arm is a radrl recipe's ``tiny`` variant from the committed SFT checkpoint, run for the same
number of RL steps with each seed; arms of one comparison differ only in the settings the paper
compares. Each run is evaluated greedily on the recipe's validation split (100 studies) and on
the **declared test set** (``TEST_SET``: 2,000 fresh studies of synthetic seed 3 in the
checkpoint's report style, declared in this file before it was first read; its content hash is
recorded). Nothing is tuned per arm: the recipes' values hold, and the one setting chosen here
(CAPO's ``num_iterations = 2``: RadFlow does not give one, and with one update per batch no clip
acts) was fixed before any run. Validation numbers are there so that a choice, if one is made, is
made on them; test is read once per run.

Comparisons (the paper's claim -> what is tested):

* ``deer_weights`` - DEER Tables 1 and 5: RL beats SFT, and DiTPO's token weights beat GRPO
  (TF-IDF and labeler-gradient weights; all three arms use the tiny CheXbert labeler).
* ``mrg_r1`` - MRG-R1: the MCCS + format reward beats a plain F1 reward.
* ``orapo`` - OraPO Fig. 2: on FactS, OraPO's DPO on zero-reward groups lowers the zero-reward
  rate during training and raises F1 over (Dr.)GRPO.
* ``capo`` - RadFlow: critical-aware clipping (CAPO) beats plain GRPO clipping on its reward,
  with two updates per batch so that the clip acts; each arm's share of clipped tokens is kept.
* ``data_selection`` - DEER Table 7: RL on a 20 % DDSampling subset is as good as on 100 % and
  better than on a random 20 %; the subsets' reward diversity (share of zero-variance groups).

A claim "reproduces" when the paired difference (same seed) has a 95 % t-interval above 0, is
"same direction, not significant" when only its mean is positive, and "does not reproduce"
otherwise. Every run also records its seconds per RL step (the mean of the trainer's logged
``step_time``, run alone) and the wall time of its RL stage, and each comparison gives every
arm's cost as a ratio to its GRPO arm.

Writes ``docs/results/bench-papers.json`` (every run's record, the summaries, verdicts and cost
ratios, the checkpoint's SHA-256, the test set's hash, the command and commit of each number),
``docs/results/bench-papers/*.png`` and ``OUT/index.html``. It resumes run by run from that
JSON, so the committed file carries a half-finished benchmark to the next machine; it refuses
to mix runs from another checkpoint, step budget, overrides or test set.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _shared import mean_ci

from radrl.io import atomic_write_json, atomic_write_text

METRICS = ("example_f1", "macro_f1", "bleu_4")
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results" / "bench-papers.json"
TEST_SET = {"seed": 3, "n_train": 0, "n_val": 0, "n_test": 2000, "report_style": "comparison"}
"""The declared test set: synthetic seed 3 was never built by radrl before this declaration
(seeds 0, 1 and 2 are the recipes', the vision probe's and ``make bench-rl``'s)."""


@dataclass
class Comparison:
    title: str
    recipe: str
    arms: dict[str, list[str]]  # arm -> recipe overrides (on top of the recipe's tiny variant)
    claims: list[tuple[str, str, str]]  # (better arm, worse arm, metric); "SFT" is the checkpoint
    baseline: str  # the GRPO arm every arm's cost is divided by
    common: list[str] = field(default_factory=list)
    with_sft: bool = False
    diversity: bool = False


COMPARISONS: dict[str, Comparison] = {
    "deer_weights": Comparison(
        "DEER Tables 1 and 5: SFT vs GRPO vs DiTPO (TF-IDF, gradient)", "deer",
        {"GRPO": ["algorithm.token_weights=null"], "DiTPO-TF-IDF": ["algorithm.token_weights={type: tfidf, alpha: 4.0}"],
         "DiTPO-gradient": ["algorithm.token_weights.type=gradient"]},
        [("GRPO", "SFT", "example_f1"), ("DiTPO-TF-IDF", "GRPO", "example_f1"),
         ("DiTPO-gradient", "GRPO", "example_f1")],
        baseline="GRPO", common=["data.subset=null", "select=null"], with_sft=True),
    "mrg_r1": Comparison(
        "MRG-R1: MCCS + format reward vs an example-F1 reward", "mrg_r1",
        {"MCCS + format": [], "example F1": ["rewards=[{type: example_f1}]"]},
        [("MCCS + format", "example F1", "example_f1")], baseline="example F1"),
    "orapo": Comparison(
        "OraPO Fig. 2: OraPO vs Dr.GRPO on FactS", "orapo",
        {"OraPO": ["algorithm.aux_loss.type=orapo_dpo"], "Dr.GRPO": ["algorithm.aux_loss=null"]},
        [("OraPO", "Dr.GRPO", "example_f1")], baseline="Dr.GRPO",
        common=["data.subset={out}/subset-balanced-400.json"]),
    "capo": Comparison(
        "RadFlow: CAPO vs GRPO clipping on the hierarchical reward, two updates per batch", "radflow",
        {"CAPO": ["algorithm.clip.type=capo"], "GRPO": ["algorithm.clip=null"]},
        [("CAPO", "GRPO", "example_f1")], baseline="GRPO",
        common=["data.subset={out}/subset-target-10.json", "rl.num_iterations=2"]),
    "data_selection": Comparison(
        "DEER Table 7: DDSampling 20 % vs random 20 % vs 100 %", "deer_tfidf",
        {"DDSampling 20 %": ["data.subset={out}/subset-ddsampling-20.json"],
         "random 20 %": ["data.subset={out}/subset-random-20.json", "select.method=random"],
         "100 %": ["data.subset=null", "select=null"]},
        [("DDSampling 20 %", "random 20 %", "example_f1"), ("DDSampling 20 %", "100 %", "example_f1")],
        baseline="100 %", diversity=True),
}
"""``{out}`` in an override is the comparison's folder (its subset files live there)."""


def verdict(diffs: list[float]) -> str:
    """Whether a paper's direction reproduces, from the paired differences better - worse."""
    ci = mean_ci(diffs)
    if len(diffs) > 1 and ci["ci95"][0] > 0:
        return "reproduces"
    return "same direction, not significant" if ci["mean"] > 0 else "does not reproduce"


def _scores(metrics: dict) -> dict:
    """What a run keeps of an evaluation: the claims' metrics, the F1 of every convention
    (``clinical.conventions``) and RadEval's NLG."""
    clinical = metrics["clinical"]
    return {"example_f1": clinical["example"]["f1"], "macro_f1": clinical["macro"]["f1"],
            "bleu_4": metrics["nlg"]["bleu_4"],
            "conventions_f1": {f"{u}.{k}": v["f1"] for u, block in clinical["conventions"].items()
                               for k, v in block.items()},
            "nlg_radeval": metrics["nlg_radeval"]}


def _curve(run_dir: Path, key: str) -> list[float]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [r[key] for r in rows if key in r]


def _mean(values: list[float]) -> float | None:
    return statistics.mean(values) if values else None


def declared_test_set(out: Path, size: int | None = None) -> tuple[list, dict]:
    """The declared test set's samples (built on first use) and its record: the config and the
    SHA-256 of its ids with their reports and labels (ids alone repeat across seeds). ``size``
    (the tests' smoke runs) takes the first studies of another, smaller set of the same seed."""
    import hashlib

    from radrl.data.synthetic import SyntheticConfig, build_synthetic, load_synthetic

    config = {**TEST_SET, **({"n_test": size} if size else {})}
    root = build_synthetic(out / f"test-seed{config['seed']}-{config['n_test']}", SyntheticConfig(**config),
                           progress=False)
    samples = load_synthetic(root, "test")
    rows = [json.dumps([s.id, s.report, s.labels], sort_keys=True) for s in samples]
    digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return samples, {"config": config, "n": len(samples), "ids_reports_labels_sha256": digest}


def _run_dir(folder: Path, arm: str, seed: int | str) -> Path:
    return folder / arm.replace(" ", "_").replace("%", "pc").replace("+", "plus") / f"seed{seed}"


def run_arm(name: str, arm: str, seeds: list[int], base, overrides: list[str], splits: dict, folder: Path,
            done: dict, save) -> dict:
    """Each seed's run of one arm (a record in ``done`` is kept, not rerun); ``save`` is called
    after every new run so that nothing finished is lost."""
    from radrl.evaluation import evaluate_model
    from radrl.recipe import with_overrides
    from radrl.stages import run_rl

    runs = done
    for seed in seeds:
        if str(seed) in runs:
            continue
        run_dir = _run_dir(folder, arm, seed)
        recipe = with_overrides(base, *(o.replace("{out}", str(folder)) for o in overrides), f"rl.seed={seed}")
        t0 = time.perf_counter()
        res = run_rl(recipe, run_dir, resume=(run_dir / "checkpoints").is_dir(), evaluate=False)
        rl_seconds = time.perf_counter() - t0
        row = {split: _scores(evaluate_model(res["model"], samples, run_dir / f"eval-{split}",
                                             base.evaluate.generation, meteor=False)[0])
               for split, samples in splits.items()}
        steps = int(base.rl.get("max_steps"))
        step_times = _curve(run_dir, "step_time")  # the trainer's own time per step: no loading, no annotation
        row.update(seconds_per_step=round(_mean(step_times) if step_times else rl_seconds / steps, 3),
                   rl_stage_seconds=round(rl_seconds, 1),
                   clipped_token_share=_mean(_curve(run_dir, "clip_ratio/region_mean")),
                   zero_reward_share=_curve(run_dir, "diagnostics/all_zero_share"),
                   zero_std_share=_curve(run_dir, "diagnostics/zero_std_share"),
                   minutes=round((time.perf_counter() - t0) / 60, 1), commit=_commit(),
                   command=f"python bench/papers.py --only {name} --seeds {seed}")
        runs[str(seed)] = row
        save()
        print(f"{name} / {arm} / seed {seed}: test example F1 {row['test']['example_f1']:.4f}, "
              f"{row['seconds_per_step']:.2f} s/step ({row['minutes']} min)", flush=True)
    return runs


def run_comparison(name: str, comp: Comparison, seeds: list[int], steps: int, out: Path, extra: list[str],
                   test: list, record: dict, save, model: str = "tiny-sft") -> dict:
    """Every arm and seed of one comparison, resumed from ``record`` (this comparison's entry of
    the results file, filled in place); returns the record with its summary."""
    from radrl.assets import tiny_sft_checkpoint
    from radrl.evaluation import evaluate_model
    from radrl.recipe import load_recipe
    from radrl.training.rl import load_split

    folder = out / name
    base = load_recipe(comp.recipe, tiny=True, overrides=[
        f"rl.max_steps={steps}", "evaluate.meteor=false", f"model.path={model}",
        *(o.replace("{out}", str(folder)) for o in comp.common), *extra])
    splits = {"val": load_split(base.data, "val"), "test": test}
    record.update(title=comp.title, recipe=comp.recipe, model=str(model), baseline=comp.baseline,
                  n={k: len(v) for k, v in splits.items()}, common=list(comp.common))
    arms = record.setdefault("arms", {})
    if comp.with_sft and "SFT" not in arms:  # greedy decoding: one evaluation stands for every seed
        sft_model = tiny_sft_checkpoint() if model == "tiny-sft" else Path(model)
        sft = {split: _scores(evaluate_model(sft_model, samples, folder / "SFT" / split, base.evaluate.generation,
                                             meteor=False)[0]) for split, samples in splits.items()}
        arms["SFT"] = {"runs": {}, "overrides": None, "evaluation": sft}
    if comp.with_sft:
        arms["SFT"]["runs"].update({str(s): arms["SFT"]["evaluation"] for s in seeds})
        save()
    for arm, overrides in comp.arms.items():
        entry = arms.setdefault(arm, {"runs": {}})
        entry["overrides"] = overrides
        run_arm(name, arm, seeds, base, overrides, splits, folder, entry["runs"], save)
    record.update(summarize(comp, arms, seeds))
    if comp.diversity:
        record["reward_diversity"] = subset_diversity(folder, base, Path(resolve(model)))
    return record


def resolve(model: str) -> str:
    from radrl.assets import resolve_model_path

    return str(resolve_model_path(model))


def _commit() -> str | None:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def summarize(comp: Comparison, arms: dict[str, dict], seeds: list[int], metrics: tuple[str, ...] = METRICS) -> dict:
    """Mean and 95 % CI per arm, split and metric (``metrics``); each claim's paired difference and
    verdict; each arm's seconds per step and its ratio to the baseline arm's. Only seeds every arm has;
    the cost only from the seeds none of whose runs has a ``timing_void`` (why its step times do not
    stand, e.g. another job shared the cores), listed as ``timed_seeds``."""
    complete = [s for s in seeds if all(str(s) in a["runs"] for a in arms.values())]
    out = {"seeds_complete": complete, "claims": [], "cost": {}}
    if not complete:
        return out
    def measured(split: str, metric: str) -> bool:  # e.g. F1 on critical cases: read on test only
        return all(metric in a["runs"][str(s)][split] for a in arms.values() for s in complete)

    for arm in arms.values():
        arm["summary"] = {split: {m: mean_ci([arm["runs"][str(s)][split][m] for s in complete]) for m in metrics
                                  if measured(split, m)} for split in ("val", "test")}
    timed = [s for s in complete if not any(a["runs"][str(s)].get("timing_void") for a in arms.values())]
    base_cost = _mean([arms[comp.baseline]["runs"][str(s)]["seconds_per_step"] for s in timed])
    for name, arm in arms.items():
        per_step = [arm["runs"][str(s)].get("seconds_per_step") for s in timed]
        if None in per_step or not timed:
            continue  # the SFT checkpoint: no RL (or no seed whose timing stands)
        clipped = [arm["runs"][str(s)].get("clipped_token_share") for s in complete]
        out["cost"][name] = {"seconds_per_step": _mean(per_step), "ratio_to_" + comp.baseline: _mean(per_step) / base_cost,
                             "timed_seeds": timed, "clipped_token_share": _mean([c for c in clipped if c is not None])}
    for better, worse, metric in comp.claims:
        row = {"claim": f"{better} > {worse} ({metric})", "better": better, "worse": worse, "metric": metric}
        for split in ("val", "test"):
            if not measured(split, metric):
                row[split] = {"diff": None, "by_seed": [], "verdict": "not measured on this split"}
                continue
            diffs = [arms[better]["runs"][str(s)][split][metric] - arms[worse]["runs"][str(s)][split][metric]
                     for s in complete]
            row[split] = {"diff": mean_ci(diffs), "by_seed": diffs, "verdict": verdict(diffs)}
        out["claims"].append(row)
    return out


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


def why_figures(record: dict, folder: Path) -> dict:
    """The figures that say why a claim does or does not hold (docs/rl.md quotes them), from one
    comparison's record and, when they are here, its run folders and subset files:

    * per arm, the mean over steps and seeds of the shares of zero-variance and all-zero groups;
    * per arm with DiTPO weights, the mean over steps and seeds of the batch's mean and largest
      token weight (the runs' ``metrics.jsonl``);
    * with DDSampling, the mean diagnostic diversity D of all studies, of each 20 % subset and of
      the top 20 % by D (the scores the DDSampling subset file keeps for every study).
    """
    arms = {}
    for arm, entry in record.get("arms", {}).items():
        runs = {seed: r for seed, r in entry.get("runs", {}).items() if r.get("zero_std_share")}
        if not runs:
            continue
        fig = {"zero_std_share": _mean([_mean(r["zero_std_share"]) for r in runs.values()]),
               "zero_reward_share": _mean([_mean(r["zero_reward_share"]) for r in runs.values()])}
        for key, name in (("token_weights/mean", "token_weight_mean"), ("token_weights/max", "token_weight_max")):
            per_run = [_mean(c) for seed in runs if (c := _curve(_run_dir(folder, arm, seed), key))]
            if per_run:
                fig[name] = _mean(per_run)
        arms[arm] = fig
    why = {"arms": arms}
    dds = folder / "subset-ddsampling-20.json"
    if dds.is_file():
        from radrl.selection import read_subset

        scores = json.loads(dds.read_text())["per_sample_scores"]
        chosen = {"all studies": list(scores)}
        chosen.update({f"{name} 20 %": [i for i in read_subset(folder / f"subset-{name}-20.json") if i in scores]
                       for name in ("ddsampling", "random") if (folder / f"subset-{name}-20.json").is_file()})
        top = sorted(scores.values(), reverse=True)[:len(chosen["ddsampling 20 %"])]
        why["diagnostic_diversity"] = {**{k: _mean([scores[i] for i in ids]) for k, ids in chosen.items()},
                                       "top 20 %": _mean(top)}
    return why


def why_lines(results: dict) -> str:
    """``why_figures`` of every comparison, a line each."""
    lines = []
    for name, r in results["comparisons"].items():
        for arm, fig in r.get("why", {}).get("arms", {}).items():
            weights = (f", token weights mean {fig['token_weight_mean']:.2f} (largest {fig['token_weight_max']:.2f})"
                       if "token_weight_mean" in fig else "")
            lines.append(f"{name} / {arm}: zero-variance groups {100 * fig['zero_std_share']:.1f} %, all-zero groups "
                         f"{100 * fig['zero_reward_share']:.1f} %{weights}")
        if d := r.get("why", {}).get("diagnostic_diversity"):
            lines.append(f"{name}: mean diagnostic diversity D " + ", ".join(f"{k} {v:.2f}" for k, v in d.items()))
    return "\n".join(lines)


def _bars(result: dict, path: Path, metric: str = "example_f1") -> None:
    """Bars of each arm's mean (95 % CI over seeds), validation and test, saved as ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, a in result["arms"].items() if "summary" in a]
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(names), 3.2))
    for k, split in enumerate(("val", "test")):
        stats = [result["arms"][n]["summary"][split][metric] for n in names]
        means = [x["mean"] for x in stats]
        errors = [[m - x["ci95"][0] for m, x in zip(means, stats)], [x["ci95"][1] - m for m, x in zip(means, stats)]]
        xs = [i + (k - 0.5) * 0.38 for i in range(len(names))]
        n = result["n"][split]
        ax.bar(xs, means, 0.36, yerr=errors, capsize=3, label=f"{split} ({n:,} studies)", alpha=0.85)
    ax.set_xticks(range(len(names)), names, rotation=15)
    ax.set_ylabel(f"{metric} (mean over seeds, 95 % CI)")
    ax.set_title(result["title"], fontsize=9)
    ax.legend()
    low = min(result["arms"][n]["summary"][s][metric]["ci95"][0] for n in names for s in ("val", "test"))
    ax.set_ylim(max(0.0, low - 0.05), None)
    _save(fig, path)


def _curves(result: dict, path: Path, key: str = "zero_reward_share") -> bool:
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
        _save(fig, path)
    plt.close(fig)
    return drew


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def write_figures(results: dict, folder: Path) -> dict[str, list[str]]:
    """``folder/<comparison>.png`` (and OraPO's zero-reward curves) for the finished comparisons."""
    figures = {}
    for name, r in results["comparisons"].items():
        if not r.get("seeds_complete"):
            continue
        _bars(r, folder / f"{name}.png")
        figures[name] = [f"{name}.png"]
        if name == "orapo" and _curves(r, folder / "orapo-zero-reward.png"):
            figures[name].append("orapo-zero-reward.png")
    return figures


def write_page(results: dict, path: Path, figures: dict, figure_dir: Path) -> None:
    def fmt(ci: dict | None) -> str:
        return "n/a" if ci is None else f"{ci['mean']:+.4f} [{ci['ci95'][0]:+.4f}, {ci['ci95'][1]:+.4f}]"

    parts = [f"<h1>radrl: the papers' comparisons on the synthetic benchmark</h1><p>seeds {results['seeds']}, "
             f"{results['steps']} RL steps per run, greedy evaluation against ground-truth labels; test: "
             f"{html.escape(json.dumps(results['test_set']))}. A claim reproduces when its paired test difference's "
             "95 % t-interval is above 0. Nothing was tuned.</p>"]
    for name, r in results["comparisons"].items():
        parts.append(f"<h2>{html.escape(r['title'])}</h2><p>seeds finished: {r.get('seeds_complete')}</p>")
        if r.get("reward_diversity"):
            parts.append("<p>reward diversity (example F1, 8 rollouts per prompt)</p><table border=1 cellpadding=4>"
                         "<tr><th>subset</th><th>zero-variance groups</th><th>unique rewards / group</th>"
                         "<th>mean group std</th><th>all-zero groups</th><th>mean reward</th></tr>")
            for subset, d in r["reward_diversity"].items():
                parts.append(f"<tr><td>{html.escape(subset)}</td><td>{d['zero_std_share']:.1%}</td>"
                             f"<td>{d['unique_per_group']:.2f}</td><td>{d['group_std']:.3f}</td>"
                             f"<td>{d['all_zero_share']:.1%}</td><td>{d['mean_reward']:.3f}</td></tr>")
            parts.append("</table>")
        if not r.get("seeds_complete"):
            continue
        parts.append("<table border=1 cellpadding=4><tr><th>arm</th>" + "".join(
            f"<th>{s} {m}</th>" for s in ("val", "test") for m in METRICS) + "<th>s/step</th><th>cost</th></tr>")
        for arm, data in r["arms"].items():
            cells = "".join(f"<td>{data['summary'][s][m]['mean']:.4f}</td>" for s in ("val", "test") for m in METRICS)
            cost = r["cost"].get(arm, {})
            ratio = next((v for k, v in cost.items() if k.startswith("ratio_to_")), None)
            cells += (f"<td>{cost['seconds_per_step']:.2f}</td><td>{ratio:.2f}x</td>" if cost else "<td></td><td></td>")
            parts.append(f"<tr><td>{html.escape(arm)}</td>{cells}</tr>")
        parts.append("</table><table border=1 cellpadding=4><tr><th>claim</th><th>val difference</th>"
                     "<th>test difference</th><th>test verdict</th></tr>")
        for c in r["claims"]:
            parts.append(f"<tr><td>{html.escape(c['claim'])}</td><td>{fmt(c['val']['diff'])}</td>"
                         f"<td>{fmt(c['test']['diff'])}</td><td><b>{c['test']['verdict']}</b></td></tr>")
        parts.append("</table>")
        for png in figures.get(name, []):
            data = base64.b64encode((figure_dir / png).read_bytes()).decode()
            parts.append(f"<img src='data:image/png;base64,{data}'>")
    atomic_write_text(path, "<!doctype html><meta charset=utf-8><title>radrl bench-papers</title>"
                      "<body style='font-family:sans-serif;max-width:1100px'>" + "\n".join(parts) + "</body>")


def origin_of(model: Path, steps: int, extra: list[str], test_set: dict) -> dict:
    import hashlib

    return {"sft_model_sha256": hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest(),
            "steps": steps, "overrides": list(extra), "test_set_sha256": test_set["ids_reports_labels_sha256"]}


def load_results(path: Path, origin: dict, seeds: list[int], steps: int, test_set: dict) -> dict:
    """The results file to resume from, or a fresh one; refused when its runs started from another
    SFT model, step budget, overrides or test set (they would be mixed into one table)."""
    if path.is_file():
        results = json.loads(path.read_text())
        before = results.get("origin", {})
        if before != origin:
            changed = ", ".join(k for k in origin if before.get(k) != origin[k])
            sys.exit(f"{path} holds runs made with another {changed}; their results would be mixed with these. "
                     "Move it away or pass --results to start a fresh one")
        results["seeds"] = sorted(set(results.get("seeds", [])) | set(seeds))
        return results
    return {"origin": origin, "seeds": seeds, "steps": steps, "test_set": test_set,
            "command": "make bench-papers (python bench/papers.py)", "comparisons": {}}


def _regime_cell(block: dict | None, label: str) -> str:
    """``label (start F1 x; step-0 all-zero groups y %)`` from a regime block's ``start``."""
    start = (block or {}).get("start")
    if not start:
        return label
    unreached = "; paper's start not reached on the tiny model" if block.get("reached") is False else ""
    return (f"{label} (start F1 {start['val']['example_f1']:.3f}; step-0 all-zero groups "
            f"{100 * start['step0']['all_zero_share']:.1f} %{unreached})")


def _claim_rows(name: str, regime: str, r: dict) -> list[str]:
    def fmt(ci: dict | None) -> str:
        return "n/a" if ci is None else f"{ci['mean']:+.3f} [{ci['ci95'][0]:+.3f}, {ci['ci95'][1]:+.3f}]"

    costs = ", ".join(f"{arm} {next(v for k, v in c.items() if k.startswith('ratio_to_')):.2f}x"
                      + (f" ({100 * c['clipped_token_share']:.3f} % of tokens clipped)" if name == "capo" else "")
                      for arm, c in r["cost"].items())
    return [f"| `{name}`: {c['better']} > {c['worse']} ({c['metric'].replace('_', ' ')}) | {regime} | "
            f"{fmt(c['val']['diff'])} | {fmt(c['test']['diff'])} | **{c['test']['verdict']}** | "
            f"{len(r['seeds_complete'])} | {costs if k == 0 else 'as above'} |" for k, c in enumerate(r["claims"])]


def markdown_table(results: dict) -> str:
    """The verdicts as markdown rows (README, docs/rl.md): claim, regime, validation and test
    differences, verdict, seeds, each arm's cost ratio; straight from the results JSON. Each
    comparison has its ``converged_sft`` rows (v1) and, once run, its ``paper`` regime's rows."""
    n = results["test_set"]["n"]
    lines = [f"| claim | regime | validation difference | test difference ({n:,} studies) | verdict | seeds | "
             "cost per step |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in COMPARISONS:
        r = results["comparisons"].get(name, {})
        regimes = results.get("regimes", {}).get(name, {})
        converged = _regime_cell(regimes.get("converged_sft"), "converged SFT")
        if not r.get("seeds_complete"):
            lines.append(f"| `{name}`: {COMPARISONS[name].title} | {converged} | not finished yet | | | | |")
        else:
            lines += _claim_rows(name, converged, r)
        paper = regimes.get("paper") or {}
        for row, record in (paper.get("results") or {}).items():
            if record.get("seeds_complete"):
                lines += _claim_rows(name, _regime_cell(paper, f"paper: {paper.get('label', 'weak SFT')}, {row} studies"),
                                     record)
    return "\n".join(lines)


def diversity_table(results: dict) -> str:
    """DEER Table 7's reward-diversity columns of the subsets (``reward_diversity`` of the comparisons
    that measure it) as markdown; empty when none has been measured."""
    lines = []
    for name, r in results["comparisons"].items():
        for subset, d in (r.get("reward_diversity") or {}).items():
            lines.append(f"| `{name}`: {subset} 20 % | {d['n_groups']} | {100 * d['zero_std_share']:.1f} % | "
                         f"{d['unique_per_group']:.2f} | {d['group_std']:.3f} | {100 * d['all_zero_share']:.1f} % | "
                         f"{d['mean_reward']:.3f} |")
    if not lines:
        return ""
    return "\n".join(["| subset | groups | zero-variance groups | unique rewards / group | mean group std | "
                      "all-zero groups | mean reward |", "| --- | --- | --- | --- | --- | --- | --- |", *lines])


TABLE_PAGES = ("README.md", "docs/rl.md")
"""The pages whose papers tables ``--report`` writes from the results JSON (and a test checks)."""
TABLE_BLOCK = re.compile(r"(<!-- bench-papers:(\w+)[^>]*-->\n)(.*?)(\n<!-- /bench-papers:\2 -->)", re.S)


def rendered_tables(results: dict) -> dict[str, str]:
    """Each marked block's markdown, from the results JSON: ``verdicts`` and ``diversity``."""
    return {"verdicts": markdown_table(results), "diversity": diversity_table(results)}


def with_tables(page: str, results: dict) -> str:
    """``page`` with every ``<!-- bench-papers:NAME -->`` block rewritten from ``results``."""
    tables = rendered_tables(results)

    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in tables:
            raise ValueError(f"unknown bench-papers block {name!r}; known: {', '.join(tables)}")
        return match.group(1) + tables[name] + match.group(4)

    return TABLE_BLOCK.sub(fill, page)


def write_report(results: dict, root: Path) -> list[Path]:
    """Rewrite the papers tables of :data:`TABLE_PAGES` under ``root``; returns the pages changed."""
    changed = []
    for name in TABLE_PAGES:
        path = root / name
        before = path.read_text()
        after = with_tables(before, results)
        if after != before:
            atomic_write_text(path, after)
            changed.append(path)
    return changed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--only", nargs="+", choices=list(COMPARISONS), help="run only these comparisons")
    p.add_argument("--out", default="runs/bench-papers-2000", help="run folders and index.html")
    p.add_argument("--results", default=str(RESULTS), help="the results JSON (resumed from); figures beside it")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every run")
    p.add_argument("--model", default="tiny-sft", help="the SFT model every arm starts from")
    p.add_argument("--test-size", type=int, help="a smaller test set (smoke tests only; its hash differs)")
    p.add_argument("--table", action="store_true", help="print the verdicts of the results JSON as markdown; run nothing")
    p.add_argument("--report", action="store_true", help="write the README's and docs/rl.md's papers tables from "
                   "the results JSON (tests/test_bench_papers.py checks they match it); run nothing")
    p.add_argument("--why", action="store_true", help="recompute the why figures (group shares, token weights, "
                   "subset diversity) from the run folders in --out into the results JSON, and print them; run nothing")
    a = p.parse_args()
    out, results_file = Path(a.out), Path(a.results)
    if a.why:
        results = json.loads(results_file.read_text())
        for name, record in results["comparisons"].items():
            record["why"] = why_figures(record, out / name)
        atomic_write_json(results_file, results)
        print(why_lines(results))
        return
    if a.report:
        changed = write_report(json.loads(results_file.read_text()), Path(__file__).resolve().parents[1])
        print("rewrote " + ", ".join(map(str, changed)) if changed else "the tables already match the JSON")
        return
    if a.table:
        results = json.loads(results_file.read_text())
        print(markdown_table(results))
        if diversity := diversity_table(results):
            print("\n" + diversity)
        return
    test, test_set = declared_test_set(out, a.test_size)
    results = load_results(results_file, origin_of(Path(resolve(a.model)), a.steps, a.set, test_set), a.seeds,
                           a.steps, test_set)
    figure_dir = results_file.with_suffix("")

    def save() -> None:
        atomic_write_json(results_file, results)

    for name in a.only or list(COMPARISONS):
        record = results["comparisons"].setdefault(name, {})
        run_comparison(name, COMPARISONS[name], a.seeds, a.steps, out, a.set, test, record, save, a.model)
        record["why"] = why_figures(record, out / name)
        save()
        figures = write_figures(results, figure_dir)
        write_page(results, out / "index.html", figures, figure_dir)
        for c in record["claims"]:
            print(f"{name}: {c['claim']}: test {c['test']['diff']['mean']:+.4f} "
                  f"[{c['test']['diff']['ci95'][0]:+.4f}, {c['test']['diff']['ci95'][1]:+.4f}] -> "
                  f"{c['test']['verdict']}", flush=True)
    print(f"-> {results_file}, {figure_dir}/, {out / 'index.html'}")


if __name__ == "__main__":
    main()
