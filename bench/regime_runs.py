"""bench-papers v2's runs: each comparison's arms trained from its paper's start (bench/regimes.py),
for one step budget chosen on validation, read once on a new declared test set (issue 36).

    python bench/regime_runs.py budget --comparison orapo          # validation only: the step budget
    git commit docs/results/bench-papers.json                       # the block, before any test read
    python bench/regime_runs.py run --comparison orapo --data 400 --seeds 0 1 2 3 4

Order of work, each step's output in ``regimes.<comparison>.paper`` of the results JSON:

1. ``python bench/regimes.py`` made the start and wrote the block's ``start`` (its SHA-256, its
   validation F1, its step-0 share of all-zero and zero-variance groups).
2. ``budget`` trains the comparison's GRPO arm (seed 0, the first data row) for ``max_steps``
   at each candidate learning rate (constant) and scores it every ``every`` steps on the
   **validation curve set** (:data:`CURVE_SET`, 500 studies of synthetic seed 5, never test). The
   rate is the one whose curve gets highest (:func:`choose_learning_rate`); the budget is the
   first step whose validation score is within ``tolerance`` of that curve's best
   (:func:`choose_budget`), or ``max_steps`` when no rate moved the curve from its start. A
   constant rate makes the run's first B steps the B-step run (a decaying one would differ), so
   the curve says what the budget buys.
3. ``run`` trains every arm and seed for that budget, with the same validation curve, and reads
   the **declared test set** (:data:`TEST_SET`: 2,000 studies of synthetic seed 4, declared here
   before it was first built or read) once per run. It refuses unless the block, with its start
   and budget, is in the results JSON *as committed* (``git show HEAD:...``) and the start on disk
   has the block's hash.

Each run records its test scores, its validation curve (example and macro F1, macro recall, each
label's F1), its per-step group shares, OraPO's lambda, its seconds per step and commit. Claims,
verdicts and cost ratios are :func:`papers.summarize`'s, on the comparison's headline metric.
Run alone: every run is a CPU training job.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from papers import COMPARISONS, RESULTS, Comparison, _commit, _curve, _mean, _run_dir, summarize  # noqa: E402
from regimes import REGIMES, accepted_hashes, require_block, weights_sha256  # noqa: E402

from radrl.io import InputError, atomic_write_json  # noqa: E402

TEST_SET = {"seed": 4, "n_train": 0, "n_val": 0, "n_test": 2000}
"""v2's declared test set, on the recipe's own synthetic distribution: synthetic seed 4 was never
built by radrl before this declaration (v1's test set, seed 3, was read while v1 was designed)."""
CURVE_SET = {"seed": 5, "n_train": 0, "n_val": 500, "n_test": 0}
"""The validation curve set (budget choice, curves, every choice v2 makes): seed 5, never test."""
METRICS = ("example_f1", "macro_f1", "macro_recall")
RARE = ("Pleural Other", "Fracture")
"""The testbed's two rarest classes (prevalence 3 % and 4 %, the recipes' ``synthetic.prevalence``)."""


@dataclass(frozen=True)
class V2Comparison:
    """A comparison in its paper's regime: v1's arms (``papers.COMPARISONS``), the paper's headline
    metric as the claims' metric, and the data rows the paper reports."""

    name: str
    headline: str
    data: dict[str, list[str]]
    """row -> overrides (the training pool); the first row is the one the budget is chosen on."""
    common: list[str] = field(default_factory=list)
    max_steps: int = 240
    every: int = 20
    tolerance: float = 0.01
    learning_rates: tuple[float, ...] = (1e-4, 1e-3)
    """Candidates for every arm's rate, chosen on the GRPO arm's validation curve: the recipe's, then 10x."""
    panels: tuple[tuple[str, str], ...] = (
        ("zero_reward_share", "all-zero-reward groups"), ("orapo_lambda_mean", "OraPO lambda (mean)"),
        ("orapo_lambda_above_min_share", "prompts with lambda above its floor"), ("rare", "validation F1"))
    """The mechanism figure's panels: a per-step curve of :func:`curves`, ``rare`` (the two rarest
    classes' validation F1) or ``val:<metric>`` (a validation curve)."""
    budget_from: str | None = None
    """The comparison whose budget this one takes (one budget per regime: the same start, the
    budget chosen on that comparison's GRPO arm); None: chosen on this one's baseline arm."""

    arm_overrides: dict[str, list[str]] | None = None
    """The arms, when they differ from v1's (``papers.COMPARISONS``)."""

    @property
    def v1(self) -> Comparison:
        return COMPARISONS[self.name]

    @property
    def arms(self) -> dict[str, list[str]]:
        return self.arm_overrides or self.v1.arms

    @property
    def metrics(self) -> tuple[str, ...]:
        """What every run's scores are summarized on: :data:`METRICS`, and the headline if it is another."""
        return tuple(dict.fromkeys((*METRICS, self.headline)))

    def comparison(self) -> Comparison:
        """v1's comparison with its claims on the headline metric (and example F1 beside it)."""
        claims = [(b, w, m) for b, w, _ in self.v1.claims for m in dict.fromkeys((self.headline, "example_f1"))]
        return Comparison(self.v1.title, self.v1.recipe, self.arms, claims, self.v1.baseline)


V2 = {
    "orapo": V2Comparison(
        "orapo", headline="macro_f1",  # OraPO Table 1 reports macro F1 (and recall)
        data={"400": ["select.size=400", "data.subset={out}/subset-balanced-400.json"],
              "1K": ["select.size=1000", "data.subset={out}/subset-balanced-1000.json"]}),
    "deer_weights": V2Comparison(
        "deer_weights", headline="example_f1",  # DEER Tables 1 and 5 report example-based CE-F1
        data={"2K": []},  # v1's common overrides: the recipe's whole 2,000-study pool, no DDSampling subset
        panels=(("zero_std_share", "zero-variance groups"), ("val:example_f1", "validation example F1"),
                ("val:macro_f1", "validation macro F1"))),
    "data_selection": V2Comparison(
        "data_selection", headline="example_f1",  # DEER Table 7 reports example-based CE-F1
        data={"2K": []},  # the 20 % subsets are drawn from the recipe's 2,000-study pool by its select stage
        budget_from="deer_weights",  # DEER's regime: its start, so its budget
        panels=(("zero_std_share", "zero-variance groups"), ("val:example_f1", "validation example F1"))),
    "capo": V2Comparison(
        "capo", headline="critical_example_f1",  # RadFlow: CAPO acts on critical cases; F1 on them decides
        data={"200": []},  # v1's common overrides: Target Exploration's bottom 10 % (200) of the 2,000-study pool
        common=["rl.num_iterations=4"],  # several updates per batch, so that a clip can act (regimes.py)
        # GRPO's clip is CAPO's at critical_factor 1 (eps on every case): the same update, with the
        # clipped-token share logged on critical and other cases alike
        arm_overrides={"CAPO": ["algorithm.clip.type=capo"],
                       "GRPO": ["algorithm.clip={type: capo, critical_factor: 1.0}"]},
        panels=(("clipped_critical", "clipped tokens, critical cases"), ("clipped_other", "clipped tokens, other cases"),
                ("val:example_f1", "validation example F1"))),
    "mrg_r1": V2Comparison(
        "mrg_r1", headline="example_f1",  # MRG-R1 Table II: CE-F1, uncertain_negative.example (docs/cli.md)
        data={"2K": []},
        panels=(("format_reward", "format reward (share of well-formed reports)"),
                ("val:example_f1", "validation CE (example F1)"), ("val:macro_f1", "validation macro F1"))),
}


def synthetic_set(recipe, config: dict, out: Path, split: str) -> tuple[list, dict]:
    """``config`` (seed and sizes) on the recipe's own synthetic distribution: its samples of
    ``split`` and a record with the SHA-256 of their ids, reports and labels."""
    import hashlib

    from radrl.config.fields import to_plain
    from radrl.config.synthetic import SyntheticConfig
    from radrl.data.synthetic import build_synthetic, load_synthetic

    full = {**to_plain(recipe.data.synthetic), "train_start": 0, **config}
    root = build_synthetic(out / f"{split}-seed{config['seed']}-{config['n_' + split]}", SyntheticConfig(**full),
                           progress=False)
    samples = load_synthetic(root, split)
    rows = [json.dumps([s.id, s.report, s.labels], sort_keys=True) for s in samples]
    return samples, {"config": full, "split": split, "n": len(samples),
                     "ids_reports_labels_sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest()}


def choose_budget(curve: list[dict], metric: str, tolerance: float) -> int:
    """The first step (after step 0) whose ``metric`` is within ``tolerance`` of the best on the
    curve: where the validation curve has flattened."""
    scored = [r for r in curve if r["step"] > 0]
    if not scored:
        raise ValueError("the validation curve has no step after 0")
    best = max(r[metric] for r in scored)
    return next(r["step"] for r in scored if r[metric] >= best - tolerance)


def committed_block(results_file: Path, comparison: str) -> dict | None:
    """``regimes.<comparison>.paper`` as the results JSON holds it in git's HEAD (of the repository
    the file is in), or None."""
    folder = results_file.resolve().parent
    shown = subprocess.run(["git", "show", f"HEAD:./{results_file.name}"], cwd=folder, capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    return json.loads(shown.stdout).get("regimes", {}).get(comparison, {}).get("paper")


def require_committed(results: dict, results_file: Path, comparison: str, model: Path) -> dict:
    """The block a test read needs: in the JSON, committed with the same start and budget, and
    naming exactly the start on disk."""
    block = results.get("regimes", {}).get(comparison, {}).get("paper")
    if not block or "budget" not in block:
        raise InputError(f"{comparison}: no regime block with a budget in {results_file}: run python "
                         f"bench/regime_runs.py budget --comparison {comparison} and commit it first")
    head = committed_block(results_file, comparison)
    if not head or head.get("start", {}).get("weights_sha256") != block["start"]["weights_sha256"] \
            or head.get("budget", {}).get("steps") != block["budget"]["steps"]:
        raise InputError(f"{comparison}: the regime block (start and budget) is not committed as it stands in "
                         f"{results_file}: commit it before the first test read")
    digest = weights_sha256(model)
    if digest not in accepted_hashes(block):
        raise InputError(f"{comparison}: {model} is not the start the regime block declares "
                         f"(SHA-256 {block['start']['weights_sha256'][:12]}...); if it was rebuilt by the same "
                         f"command on another machine, run python bench/regimes.py --comparison {comparison} "
                         "--rebuild and commit what it records")
    if digest not in accepted_hashes(head):
        raise InputError(f"{comparison}: the rebuild {digest[:12]}... is recorded but not committed: commit it "
                         "before the next test read")
    return block


def base_recipe(v2: V2Comparison, row: str, steps: int, folder: Path, model: Path, learning_rate: float):
    from radrl.recipe import load_recipe

    return load_recipe(v2.v1.recipe, tiny=True, overrides=[
        f"model.path={model}", f"rl.max_steps={steps}", f"rl.learning_rate={learning_rate}",
        "rl.lr_scheduler_type=constant", "evaluate.meteor=false",
        *(o.replace("{out}", str(folder)) for o in (*v2.v1.common, *v2.common, *v2.data[row]))])


def train_arm(base, arm_overrides: list[str], seed: int, run_dir: Path, curve_set: list, every: int):
    """One seed of one arm, with its validation curve; resumes a crashed run."""
    from radrl.recipe import with_overrides
    from radrl.stages import run_rl
    from radrl.training.validation_curve import ValidationCurveCallback

    recipe = with_overrides(base, *(o.replace("{out}", str(run_dir.parents[1])) for o in arm_overrides),
                            f"rl.seed={seed}")
    callback = ValidationCurveCallback(curve_set, run_dir, every, base.evaluate.generation)
    t0 = time.perf_counter()
    res = run_rl(recipe, run_dir, resume=(run_dir / "checkpoints").is_dir(), evaluate=False, callbacks=[callback])
    return res["model"], time.perf_counter() - t0


def curves(run_dir: Path) -> dict:
    """What a run keeps of its logs: the validation curve and the per-step figures."""
    from radrl.training.validation_curve import CURVE_FILE, read_curve

    val = [{k: r[k] for k in ("step", *METRICS)} | {"rare_f1": {c: r["per_label_f1"].get(c) for c in RARE}}
           for r in read_curve(run_dir / CURVE_FILE)]
    keys = {"zero_reward_share": "diagnostics/all_zero_share", "zero_std_share": "diagnostics/zero_std_share",
            "orapo_lambda_mean": "orapo/lambda_mean", "orapo_lambda_above_min_share": "orapo/lambda_above_min_share",
            "clipped_token_share": "clip_ratio/region_mean", "clipped_critical": "clip_ratio/region_mean/critical",
            "clipped_other": "clip_ratio/region_mean/other", "format_reward": "rewards/format/mean"}
    return {"val": val, **{name: c for name, key in keys.items() if (c := _curve(run_dir, key))}}


def critical_scores(read: Path, samples: list) -> dict:
    """Example and macro F1 on the critical cases of ``samples`` alone (a positive or uncertain
    finding in the ground truth, as CAPO's criticality stage marks them), from the predictions a
    read wrote (``read/predictions.jsonl``)."""
    from radrl.evaluation import evaluate_reports
    from radrl.training.criticality import is_critical

    by_id = {s.id: s for s in samples}
    rows = [json.loads(line) for line in (read / "predictions.jsonl").read_text().splitlines() if line.strip()]
    kept = [(r["prediction"], by_id[r["id"]]) for r in rows if is_critical(by_id[r["id"]].labels)]
    clinical = evaluate_reports([p for p, _ in kept], [s.report for _, s in kept], ref_labels=[s.labels for _, s in kept],
                                meteor=False)["clinical"]
    return {"critical_example_f1": clinical["example"]["f1"], "critical_macro_f1": clinical["macro"]["f1"],
            "critical_n": len(kept)}


def test_scores(metrics: dict) -> dict:
    clinical = metrics["clinical"]
    return {"example_f1": clinical["example"]["f1"], "macro_f1": clinical["macro"]["f1"],
            "macro_recall": clinical["macro"]["recall"], "bleu_4": metrics["nlg"]["bleu_4"],
            "rare_f1": {c: clinical["per_label"][c]["f1"] for c in RARE},
            "conventions_f1": {f"{u}.{k}": v["f1"] for u, block in clinical["conventions"].items()
                               for k, v in block.items()}}


def start_scores(model: Path, curve_set: list, test: list, run_dir: Path, generation) -> dict:
    """The start's scores on the validation curve set and the test set (each read once, and
    reused after a crash), as an arm's run records them."""
    from radrl.evaluation import evaluate_model

    scores = {}
    for split, samples in (("val", curve_set), ("test", test)):
        read = run_dir / f"eval-{split}" / "metrics.json"
        if read.is_file() and json.loads(read.read_text()).get("model") == str(model):
            metrics = json.loads(read.read_text())
        else:
            metrics, _ = evaluate_model(model, samples, run_dir / f"eval-{split}", generation, meteor=False)
        scores[split] = test_scores(metrics)
    return scores


def load(results_file: Path) -> dict:
    return json.loads(results_file.read_text())


def paper_block(results: dict, name: str) -> dict:
    block = results.get("regimes", {}).get(name, {}).get("paper")
    if not block:
        raise InputError(f"{name}: no regime block yet: run python bench/regimes.py --comparison {name}")
    return block


def finished(run_dir: Path, steps: int) -> bool:
    """Whether ``run_dir`` holds a finished run of ``steps`` steps with its curve up to the end."""
    from radrl.training.validation_curve import CURVE_FILE, read_curve

    rows = read_curve(run_dir / CURVE_FILE)
    return (run_dir / "final").is_dir() and bool(rows) and rows[-1]["step"] == steps


def choose_learning_rate(tried: list[dict], metric: str) -> dict:
    """The candidate whose validation curve reaches the highest ``metric`` after step 0 (the first
    on ties: the recipe's own rate comes first)."""
    return max(tried, key=lambda t: (max(r[metric] for r in t["curve"] if r["step"] > 0), -tried.index(t)))


def shared_budget(v2: V2Comparison, results: dict) -> dict:
    """``v2.budget_from``'s budget, for a comparison in the same regime (the same start, by hash)."""
    block, source = paper_block(results, v2.name), paper_block(results, v2.budget_from)
    if "budget" not in source:
        raise InputError(f"{v2.name} takes {v2.budget_from}'s budget, which is not chosen yet: run python "
                         f"bench/regime_runs.py budget --comparison {v2.budget_from} first")
    if source["start"]["weights_sha256"] != block["start"]["weights_sha256"]:
        raise InputError(f"{v2.name} and {v2.budget_from} start from different weights: one budget per regime "
                         "holds only for one start")
    block["budget"] = {**source["budget"], "shared_from": f"regimes.{v2.budget_from}.paper.budget",
                       "command": f"python bench/regime_runs.py budget --comparison {v2.name}"}
    return block["budget"]


def budget(v2: V2Comparison, out: Path, results_file: Path) -> dict:
    """Step 2 of the module doc: the GRPO arm's validation curve at each candidate learning rate,
    the rate and the budget chosen on them (a finished candidate is reused, not rerun); or, with
    ``budget_from``, that comparison's budget (:func:`shared_budget`)."""
    results = load(results_file)
    if v2.budget_from:
        shared = shared_budget(v2, results)
        atomic_write_json(results_file, results)
        print(f"{v2.name}: {v2.budget_from}'s budget (the same start): {shared['steps']} steps at "
              f"{shared['learning_rate']:g}", flush=True)
        return shared
    block = paper_block(results, v2.name)
    model = Path(block["start"]["model"])
    row, arm, metric = next(iter(v2.data)), v2.v1.baseline, "example_f1"
    tried = []
    for lr in v2.learning_rates:
        folder = out / v2.name / "budget" / f"lr-{lr:g}"
        base = base_recipe(v2, row, v2.max_steps, folder, model, lr)
        curve_set, curve_record = synthetic_set(base, CURVE_SET, out, "val")
        run_dir = _run_dir(folder, arm, 0)
        if not finished(run_dir, v2.max_steps):
            train_arm(base, v2.arms[arm], 0, run_dir, curve_set, v2.every)
        val = curves(run_dir)["val"]
        tried.append({"learning_rate": lr, "curve": val, "train_seconds": _mean(_curve(run_dir, "train_runtime")),
                      "best": max(r[metric] for r in val if r["step"] > 0), "start": val[0][metric]})
        print(f"{v2.name}: lr {lr:g}: validation {metric} " + ", ".join(f"{r['step']}: {r[metric]:.3f}" for r in val),
              flush=True)
    chosen = choose_learning_rate(tried, metric)
    moved = chosen["best"] > chosen["start"] + v2.tolerance
    steps = choose_budget(chosen["curve"], metric, v2.tolerance) if moved else v2.max_steps
    note = (f"the first step whose validation {metric} is within {v2.tolerance} of the best of the chosen curve"
            if moved else f"no candidate rate moved the {arm} arm's validation {metric} by more than {v2.tolerance} "
            f"from its start in {v2.max_steps} steps; the budget is the most steps tried")
    block["budget"] = {
        "steps": steps, "learning_rate": chosen["learning_rate"], "moved": moved, "rule": note,
        "arm": arm, "seed": 0, "data": row, "max_steps": v2.max_steps, "every": v2.every, "metric": metric,
        "tolerance": v2.tolerance, "learning_rate_schedule": "constant", "curve_set": curve_record,
        "candidates": tried, "commit": _commit(), "command": f"python bench/regime_runs.py budget --comparison {v2.name}"}
    atomic_write_json(results_file, results)
    print(f"{v2.name}: learning rate {chosen['learning_rate']:g}, budget {steps} steps ({note})", flush=True)
    return block["budget"]


def run(v2: V2Comparison, row: str, seeds: list[int], out: Path, results_file: Path) -> dict:
    """Step 3 of the module doc, resumed run by run from the results JSON."""
    from radrl.evaluation import evaluate_model

    results = load(results_file)
    block = paper_block(results, v2.name)
    model = Path(block["start"]["model"])
    require_committed(results, results_file, v2.name, model)
    steps, every = block["budget"]["steps"], block["budget"]["every"]
    folder = out / v2.name / row
    base = base_recipe(v2, row, steps, folder, model, block["budget"]["learning_rate"])
    curve_set, _ = synthetic_set(base, CURVE_SET, out, "val")
    test, test_record = synthetic_set(base, TEST_SET, out, "test")
    record = block.setdefault("results", {}).setdefault(row, {})
    if record.setdefault("test_set", test_record) != test_record:
        raise InputError(f"{v2.name} / {row}: the recorded runs were read on another test set")
    record.update(steps=steps, data=v2.data[row], headline=v2.headline)
    arms = record.setdefault("arms", {})
    comparison = v2.comparison()
    for arm, overrides in comparison.arms.items():  # every arm first: summaries wait for the seeds all arms have
        arms.setdefault(arm, {"overrides": overrides, "runs": {}})
    if v2.v1.with_sft:  # the start itself, decoded greedily: one read stands for every seed
        if "SFT" not in arms:
            arms["SFT"] = {"overrides": None, "runs": {},
                           "evaluation": start_scores(model, curve_set, test, folder / "SFT", base.evaluate.generation)}
        arms["SFT"]["runs"].update({str(s): arms["SFT"]["evaluation"] for s in seeds})
    for arm, overrides in comparison.arms.items():
        runs = arms[arm]["runs"]
        for seed in seeds:
            if str(seed) in runs:
                continue
            run_dir = _run_dir(folder, arm, seed)
            if finished(run_dir, steps):  # trained (and maybe read) before a crash: not trained again
                final, seconds = run_dir / "final", _mean(_curve(run_dir, "train_runtime"))
            else:
                final, seconds = train_arm(base, overrides, seed, run_dir, curve_set, every)
            require_committed(load(results_file), results_file, v2.name, model)  # nothing moved while it trained
            read = run_dir / "eval-test" / "metrics.json"
            if read.is_file() and json.loads(read.read_text()).get("model") == str(final):
                metrics = json.loads(read.read_text())  # the one test read, made before a crash
            else:
                metrics, _ = evaluate_model(final, test, run_dir / "eval-test", base.evaluate.generation, meteor=False)
            kept = curves(run_dir)
            step_times = _curve(run_dir, "step_time")
            scores = test_scores(metrics)
            if v2.headline.startswith("critical_"):
                scores.update(critical_scores(run_dir / "eval-test", test))
            runs[str(seed)] = {
                "test": scores, "val": kept["val"][-1], "curves": kept,
                "seconds_per_step": round(_mean(step_times) if step_times else seconds / steps, 3),
                "clipped_token_share": _mean(kept.get("clipped_token_share", [])),
                "rl_stage_seconds": round(seconds, 1), "commit": _commit(),
                "command": f"python bench/regime_runs.py run --comparison {v2.name} --data {row} --seeds {seed}"}
            record.update(summarize(comparison, arms, sorted(int(s) for s in runs), v2.metrics))
            atomic_write_json(results_file, results)
            print(f"{v2.name} / {row} / {arm} / seed {seed}: test macro F1 {runs[str(seed)]['test']['macro_f1']:.4f}, "
                  f"example F1 {runs[str(seed)]['test']['example_f1']:.4f} ({seconds / 60:.1f} min)", flush=True)
    all_seeds = sorted({int(s) for a in arms.values() for s in a["runs"]})
    record.update(summarize(comparison, arms, all_seeds, v2.metrics))
    atomic_write_json(results_file, results)
    return record


def select_commands(recipe, start: Path, model: Path, folder: Path) -> list[list[str]]:
    """The ``radrl select`` lines that make the two 20 % subsets of DEER Table 7 from the recipe's
    training pool (the start's copy of its benchmark), DDSampling scored with ``model``: the
    recipe's ``select:`` settings (K, temperature, top-p, new tokens), seed 0."""
    sel = recipe.select
    gen = sel.generation
    common = ["--data", f"synthetic:{start / 'data'}", "--fraction", f"{sel.fraction:g}", "--seed", "0"]
    return [["select", "ddsampling", *common, "--model", str(model), "--k", str(sel.k), "--temperature",
             f"{gen.temperature:g}", "--top-p", f"{gen.top_p:g}", "--max-new-tokens", str(gen.max_new_tokens),
             "-o", str(folder / "subset-ddsampling-20.json")],
            ["select", "random", *common, "-o", str(folder / "subset-random-20.json")]]


def start_diversity(out: Path, results_file: Path, name: str = "data_selection") -> dict:
    """DEER Table 7 at the regime's start: both 20 % subsets made by ``radrl select`` with the
    start, then each subset's reward diversity (8 rollouts at the recipe's temperature, example
    F1: ``papers.subset_diversity``) and DDSampling's diagnostic diversity D of every study, of
    each subset and of the top 20 % (``papers.why_figures``). Train pool only: no test read."""
    from papers import subset_diversity, why_figures

    from radrl.cli import main as radrl
    from radrl.recipe import load_recipe

    results = load(results_file)
    model = Path(paper_block(results, name)["start"]["model"])
    block = require_block(results, name, model)  # present, and made from exactly this start
    start = model.parents[1]  # RUN/sft/final -> RUN
    folder = out / name / "start"
    base = load_recipe(COMPARISONS[name].recipe, tiny=True, overrides=[
        f"model.path={model}", f"data.path={start / 'data'}", "evaluate.meteor=false"])
    commands = select_commands(base, start, model, folder)
    t0 = time.perf_counter()
    for command in commands:
        if not Path(command[-1]).is_file() and radrl(command) != 0:
            raise SystemExit(f"radrl {' '.join(command)} failed")
    selected = time.perf_counter() - t0
    table = subset_diversity(folder, base, model)
    block["start_diversity"] = {
        "reward_diversity": table, "diagnostic_diversity": why_figures({}, folder).get("diagnostic_diversity"),
        "select_commands": ["radrl " + " ".join(c) for c in commands], "select_seconds": round(selected, 1),
        "commit": _commit(), "command": "python bench/regime_runs.py start-diversity"}
    atomic_write_json(results_file, results)
    return block["start_diversity"]


def start_masking(results_file: Path, name: str = "deer_weights", n_prompts: int = 64) -> dict:
    """DEER Table 6 at the regime's start: the recipe's rollouts (8 per film at its temperature,
    on the first ``n_prompts`` validation studies), each weighting's top 10 % of tokens deleted,
    the share of reports whose labels change (``radrl analyze masking``'s table). The gradient
    weights need the recipe's CheXbert labeler (trained by its ``labeler`` stage when missing)."""
    from radrl.analysis.masking import rollout_masking
    from radrl.data.synthetic import load_synthetic
    from radrl.labelers import labeler_from_section
    from radrl.recipe import load_recipe

    results = load(results_file)
    model = Path(paper_block(results, name)["start"]["model"])
    block = require_block(results, name, model)
    recipe = load_recipe(COMPARISONS[name].recipe, tiny=True)
    if not Path(recipe.labeler.weights).is_dir():
        raise InputError(f"{recipe.labeler.weights}: no CheXbert labeler yet for the gradient weights: run radrl train "
                         f"--recipe {COMPARISONS[name].recipe} --tiny --only labeler (a DiTPO-gradient run trains it too)")
    samples = load_synthetic(model.parents[1] / "data", "val")
    temperature = recipe.to_dict()["rl"].get("temperature", 1.0)
    t0 = time.perf_counter()
    table = rollout_masking(str(model), samples, labeler_from_section(recipe.labeler), n_prompts=n_prompts,
                            temperature=temperature, progress=False)
    block["masking"] = {**table, "seconds": round(time.perf_counter() - t0, 1), "commit": _commit(),
                        "command": f"python bench/regime_runs.py masking --comparison {name}"}
    atomic_write_json(results_file, results)
    return block["masking"]


def masking_figure(results: dict, path: Path, name: str = "deer_weights") -> bool:
    """DEER Table 6: the label change rate when each weighting's top 10 % of tokens is deleted,
    per judging labeler; uniform-random weights are the floor a weighting must clear."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from papers import _save

    table = (results.get("regimes", {}).get(name, {}).get("paper") or {}).get("masking")
    if not table:
        return False
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    strategies = list(table["strategies"])
    for i, labeler in enumerate(table["labelers"]):
        ax.bar([j + 0.4 * i for j in range(len(strategies))],
               [table["strategies"][k][labeler]["label_change_rate"] for k in strategies], width=0.38,
               label=f"judged by {labeler}")
    ax.set_xticks([j + 0.2 for j in range(len(strategies))], strategies)
    ax.set_ylabel("reports whose labels change")
    ax.set_title(f"DEER Table 6 at the paper start: top 10 % of tokens deleted ({table['n_reports']} reports)",
                 fontsize=9)
    ax.legend(fontsize=7)
    _save(fig, path)
    return True


def diversity_figure(results: dict, path: Path) -> bool:
    """DDSampling's subset against a random one (DEER Table 7): zero-variance share and unique
    rewards per group, at the paper regime's start and at v1's converged start, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from papers import _save

    starts = {"paper start": (results.get("regimes", {}).get("data_selection", {}).get("paper") or {})
              .get("start_diversity", {}).get("reward_diversity"),
              "converged SFT (v1)": results["comparisons"].get("data_selection", {}).get("reward_diversity")}
    starts = {k: v for k, v in starts.items() if v}
    if not starts:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, (key, label) in zip(axes, (("zero_std_share", "zero-variance groups"),
                                       ("unique_per_group", "unique rewards per group (of 8)"))):
        for i, (start, table) in enumerate(starts.items()):
            subsets = [k for k in ("ddsampling", "random") if k in table]
            ax.bar([j + 0.4 * i for j in range(len(subsets))], [table[k][key] for k in subsets], width=0.38,
                   label=start)
            ax.set_xticks([j + 0.2 for j in range(len(subsets))], [f"{k} 20 %" for k in subsets])
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("DEER Table 7: reward diversity of the DDSampling and random 20 % subsets", fontsize=10)
    _save(fig, path)
    return True


def void_timing(v2: V2Comparison, row: str, seeds: list[int], why: str, results_file: Path) -> dict:
    """Mark the step times of ``seeds`` (every arm's run) as void, with ``why``; the cost ratio is
    then summarized from the other seeds. Scores stay: a shared core slows a run, it does not change it."""
    results = load(results_file)
    record = paper_block(results, v2.name).get("results", {}).get(row)
    if not record:
        raise InputError(f"{v2.name} / {row}: no runs recorded")
    for arm in record["arms"].values():
        for seed in seeds:
            if str(seed) not in arm["runs"]:
                raise InputError(f"{v2.name} / {row}: seed {seed} has no run in every arm")
            arm["runs"][str(seed)]["timing_void"] = why
    all_seeds = sorted({int(s) for a in record["arms"].values() for s in a["runs"]})
    record.update(summarize(v2.comparison(), record["arms"], all_seeds, v2.metrics))
    atomic_write_json(results_file, results)
    return record


def mechanism_figure(record: dict, title: str, path: Path, panels=V2["orapo"].panels) -> bool:
    """A mechanism at work, mean over each arm's seeds, one panel per ``panels`` entry (the
    comparison's :attr:`V2Comparison.panels`). OraPO's (Fig. 2): the all-zero-reward share per
    step, lambda per step and the share of prompts whose lambda is above its floor, and the
    validation F1 of the two rarest classes over steps. False when no run is there yet."""
    import statistics

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from papers import _save

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    drew = False
    for arm, entry in record.get("arms", {}).items():
        runs = list(entry["runs"].values())
        if not runs or "curves" not in runs[0]:
            continue  # the SFT start: no curves
        drew = True
        for ax, (key, label) in zip(axes, panels):
            if key == "rare":
                steps = [r["step"] for r in runs[0]["curves"]["val"]]
                for cls, style in zip(RARE, ("-", "--")):
                    ys = [statistics.mean(run["curves"]["val"][i]["rare_f1"][cls] or 0.0 for run in runs)
                          for i in range(len(steps))]
                    ax.plot(steps, ys, style, label=f"{arm}: {cls}")
            elif key.startswith("val:"):
                steps = [r["step"] for r in runs[0]["curves"]["val"]]
                ax.plot(steps, [statistics.mean(run["curves"]["val"][i][key[4:]] for run in runs)
                                for i in range(len(steps))], label=arm)
            elif all(key in run["curves"] for run in runs):
                n = min(len(run["curves"][key]) for run in runs)
                ax.plot(range(1, n + 1), [statistics.mean(run["curves"][key][i] for run in runs) for i in range(n)],
                        label=arm, alpha=0.8)
            ax.set_title(label, fontsize=9)
            ax.set_xlabel("RL step")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    if drew:
        _save(fig, path)
    plt.close(fig)
    return drew


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=("budget", "run", "void-timing", "start-diversity", "masking"),
                   help="void-timing: mark --seeds' step times void (--why), the cost from the other seeds; "
                   "start-diversity: DEER Table 7's subsets at data_selection's start (no --comparison); "
                   "masking: DEER Table 6 at deer_weights' start (no --comparison)")
    p.add_argument("--why", help="void-timing: what else used the cores")
    p.add_argument("--comparison", choices=list(V2))
    p.add_argument("--data", help="the data row (run): " + "; ".join(f"{k}: {', '.join(v.data)}" for k, v in V2.items()))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--out", default="runs/bench-papers-v2", help="the run folders")
    p.add_argument("--results", default=str(RESULTS))
    a = p.parse_args()
    out, results_file = Path(a.out), Path(a.results)
    if a.what == "start-diversity":
        d = start_diversity(out, results_file)
        for subset, row in d["reward_diversity"].items():
            print(f"{subset} 20 %: zero-variance groups {row['zero_std_share']:.1%}, unique rewards per group "
                  f"{row['unique_per_group']:.2f}, all-zero {row['all_zero_share']:.1%}")
        figure = results_file.with_suffix("") / "data_selection-paper-start.png"
        if diversity_figure(load(results_file), figure):
            print(f"-> {figure}")
        return
    if a.what == "masking":
        table = start_masking(results_file)
        for strategy, row in table["strategies"].items():
            print(f"{strategy}: " + ", ".join(f"labels change ({labeler}) {row[labeler]['label_change_rate']:.1%}"
                                              for labeler in table["labelers"]))
        figure = results_file.with_suffix("") / "deer_weights-paper-masking.png"
        if masking_figure(load(results_file), figure):
            print(f"-> {figure}")
        return
    if not a.comparison:
        p.error(f"{a.what} needs --comparison")
    v2 = V2[a.comparison]
    if a.comparison not in REGIMES:
        sys.exit(f"{a.comparison}: no regime declared in bench/regimes.py")
    if a.what == "budget":
        budget(v2, out, results_file)
        return
    row = a.data or next(iter(v2.data))
    if row not in v2.data:
        sys.exit(f"--data {row}: {a.comparison} has the rows {', '.join(v2.data)}")
    if a.what == "void-timing":
        if not a.why:
            sys.exit("void-timing needs --why: what else used the cores during those runs")
        cost = void_timing(v2, row, a.seeds, a.why, results_file)["cost"]
        for arm, c in cost.items():
            ratio = next(v for k, v in c.items() if k.startswith("ratio_to_"))
            print(f"{arm}: {c['seconds_per_step']:.3f} s/step, {ratio:.3f}x (seeds {c['timed_seeds']})")
        return
    record = run(v2, row, a.seeds, out, results_file)
    figure = results_file.with_suffix("") / f"{a.comparison}-paper-{row}.png"
    if mechanism_figure(record, f"{v2.v1.title}: paper regime, {row} studies, seeds "
                        f"{record.get('seeds_complete')}", figure, v2.panels):
        print(f"-> {figure}")
    for c in record.get("claims", []):
        print(f"{a.comparison} / {row}: {c['claim']}: test {c['test']['diff']['mean']:+.4f} "
              f"[{c['test']['diff']['ci95'][0]:+.4f}, {c['test']['diff']['ci95'][1]:+.4f}] -> {c['test']['verdict']}")


if __name__ == "__main__":
    main()
