"""DEER's data-efficiency claim on the synthetic benchmark: RL on a 20 % DDSampling subset vs on
100 % of the training data, same step budget; and the reward diversity (DEER Table 7) of the
DDSampling subset vs a random 20 %.

    python bench/ddsampling.py [--model runs/sft500/final] [--seeds 0 1 2] [--steps 150] [--out runs/bench-dds]

1. Subsets of the 2,000 training images: DDSampling (K = 10 nucleus samples per image from the
   SFT model, top-p 0.9, log-rank draw of 20 %) and a random 20 %.
2. Reward diversity of each subset: 8 rollouts per prompt at the RL temperature (0.7), example-F1
   reward: share of zero-variance groups, unique rewards per group, mean group std.
3. RL (DEER tiny recipe: example-F1 reward, TF-IDF DiTPO, KL 0.04, truncated reports masked) from
   the SFT model for ``--steps`` steps on the DDSampling subset and on all data, per seed; greedy
   evaluation on the 200 test studies.

``--pool N`` adds an ablation on the first N training images (K samples each): the paper's
soft log-rank draw against the deterministic top 20 % by diversity and a random 20 %, same
reward-diversity table (is it the diversity score or the soft draw that matters?).

Targets (issue 6): the DDSampling subset has fewer zero-variance groups and a higher mean group
std than the random one, and RL on it reaches >= 95 % of the F1 of RL on all data.
Everything resumes: subsets, rollouts and RL runs already in OUT are reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from radrl.analysis.reward_diversity import format_diversity_table, reward_diversity, sample_groups
from radrl.io import atomic_write_json
from radrl.recipe import GenerationSettings, SelectionSettings, load_recipe, with_overrides
from radrl.rewards import ExampleF1Reward
from radrl.selection import read_subset, select_subset
from radrl.stages import run_rl
from radrl.training.rl import load_split


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="runs/sft500/final", help="SFT model (bench/rl_gain.py --sft-steps 500 makes it)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--fraction", type=float, default=0.2)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--out", default="runs/bench-dds")
    p.add_argument("--skip-rl", action="store_true", help="only the subsets and the reward-diversity table")
    p.add_argument("--with-random", action="store_true", help="also RL on the random 20 %% subset (make bench-rl)")
    p.add_argument("--pool", type=int, default=0, help="ablation of the draw on the first N training images")
    a = p.parse_args()
    out = Path(a.out)
    base = load_recipe("deer_tfidf", tiny=True, overrides=[
        f"rl.max_steps={a.steps}", "rl.learning_rate=1e-4", "rl.save_steps=50", "rl.beta=0.04",
        "rl.mask_truncated_completions=true", "rewards=[{type: example_f1}]", "evaluate.meteor=false",
        f"model.path={a.model}", "data.subset=null", "select=null"])
    train = load_split(base.data, "train")

    subsets = {"ddsampling": out / "subset-ddsampling.json", "random": out / "subset-random.json"}
    for method, path in subsets.items():
        if not path.is_file():
            select_subset(_settings(method, a), train, path)
    previous = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else {}
    summary: dict = {**previous, "model": a.model, "fraction": a.fraction, "k": a.k,
                     "ddsampling_scores": json.loads(subsets["ddsampling"].read_text())["summary"]["scores"]}

    diversity_file = out / "reward_diversity.json"
    if diversity_file.is_file():
        diversity = json.loads(diversity_file.read_text())
    else:
        diversity = {}
        reward = ExampleF1Reward()
        for name, path in subsets.items():
            ids = read_subset(path)
            chosen = [s for s in train if str(s.id) in ids]
            groups = sample_groups(a.model, chosen, group_size=8, temperature=0.7, seed=0)
            diversity[f"{name} {a.fraction:.0%}"] = reward_diversity(groups, [s.report for s in chosen], reward,
                                                                     [s.labels for s in chosen])
        atomic_write_json(diversity_file, diversity)
    summary["reward_diversity"] = diversity
    print("reward diversity (example F1, 8 rollouts per prompt, temperature 0.7)")
    print(format_diversity_table(diversity))

    if a.pool:
        summary["draw_ablation"] = draw_ablation(train[: a.pool], a, out / f"pool{a.pool}")

    if not a.skip_rl:
        arms = {"ddsampling": str(subsets["ddsampling"]), "all data": None}
        if a.with_random:
            arms["random"] = str(subsets["random"])
        results: dict = {name: {} for name in arms}
        for name, subset in arms.items():
            for seed in a.seeds:
                run = out / f"{name.replace(' ', '-')}-seed{seed}"
                recipe = with_overrides(base, f"data.subset={subset or 'null'}", f"rl.seed={seed}")
                res = run_rl(recipe, run, resume=(run / "checkpoints").is_dir())
                results[name][seed] = res["metrics"]["clinical"]["example"]["f1"]
        means = {name: statistics.mean(r.values()) for name, r in results.items()}
        summary.update(rl_f1=results, rl_f1_mean=means, ratio=means["ddsampling"] / means["all data"])
        if "random" in means:
            summary["ratio_random"] = means["random"] / means["all data"]
        print(f"\nRL, {a.steps} steps from {a.model}, greedy example F1 on the test split")
        for name, r in results.items():
            spread = statistics.stdev(r.values()) if len(r) > 1 else 0.0
            runs = " ".join(f"{v:.3f}" for v in r.values())
            print(f"{name:12s} {runs}   mean {means[name]:.3f} +- {spread:.3f}")
        print(f"DDSampling {a.fraction:.0%} / all data: {summary['ratio']:.3f} (target >= 0.95)")
        if "ratio_random" in summary:
            print(f"random {a.fraction:.0%} / all data: {summary['ratio_random']:.3f}")
    atomic_write_json(out / "summary.json", summary)


def _settings(method: str, a) -> SelectionSettings:
    return SelectionSettings(method=method, model=a.model, fraction=a.fraction, k=a.k, seed=0,
                             generation=GenerationSettings(top_p=0.9, max_new_tokens=160, batch_size=32))


def draw_ablation(pool, a, out: Path) -> dict:
    """Reward diversity of log-rank, top and random 20 % of one pool (one round of sampling)."""
    first = out / "subset-log_rank.json"
    if not first.is_file():
        select_subset(_settings("ddsampling", a), pool, first)
    scores = json.loads(first.read_text())["per_sample_scores"]
    n = len(json.loads(first.read_text())["ids"])
    ranked = sorted(scores, key=lambda i: -scores[i])
    import random

    subsets = {"log_rank": set(json.loads(first.read_text())["ids"]), "top": set(ranked[:n]),
               "random": set(random.Random(0).sample(sorted(scores), n))}
    table_file = out / "reward_diversity.json"
    if table_file.is_file():
        table = json.loads(table_file.read_text())
    else:
        table = {}
        reward = ExampleF1Reward()
        for name, ids in subsets.items():
            chosen = [s for s in pool if str(s.id) in ids]
            groups = sample_groups(a.model, chosen, group_size=8, temperature=0.7, seed=0)
            table[f"{name} {a.fraction:.0%} of {len(pool)}"] = reward_diversity(
                groups, [s.report for s in chosen], reward, [s.labels for s in chosen])
            table[f"{name} {a.fraction:.0%} of {len(pool)}"]["mean_diversity"] = sum(scores[i] for i in ids) / n
        atomic_write_json(table_file, table)
    print(f"\ndraw ablation on {len(pool)} images (mean diversity D of each subset in the JSON)")
    print(format_diversity_table(table))
    for name, row in table.items():
        print(f"{name:28s} mean D {row['mean_diversity']:.3f}")
    return table


if __name__ == "__main__":
    main()
