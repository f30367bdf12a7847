"""``radrl demo`` / ``make demo``: the main job on the embedded default, in under 5 minutes on 2 CPU cores.

1. builds the synthetic benchmark (the ``demo`` recipe, ``radrl/recipes/demo.yaml``: 1,200 train / 100 val /
   1,000 test studies, reports in the committed checkpoint's ``comparison`` style) and scores the
   "most frequent report" baseline;
2. with an ``sft:`` section (the ``demo_full`` recipe): builds the tiny Qwen2.5-VL, trains it with SFT
   for a short while (TRL ``SFTTrainer``), generates reports for the test split and scores them;
3. scores, on the same split, the committed SFT checkpoint (``radrl/models/tiny-sft``, trained
   longer by the ``tiny_sft`` recipe);
4. RL from the committed checkpoint with the DEER/DiTPO recipe (TF-IDF token weights, example-F1
   reward; the ``deer_tfidf`` recipe, tiny variant), then scores the RL policy, and the RL - SFT
   example-F1 gain with ``radrl compare``'s paired bootstrap 95 % CI and p-value (the headline);
5. with a ``labeler:`` section (``demo_full``): trains a tiny CheXbert-architecture labeler on the
   rule labeler's labels of the training reports, reports its agreement on held-out reports, and
   runs DEER's token-masking table (random / TF-IDF / gradient weights) on rollouts of the
   committed checkpoint;
6. writes ``runs/demo``: ``metrics.json`` (the SFT vs RL comparison, ``headline``, the seconds each
   stage took in ``stage_seconds``, peak RSS), ``per_label_f1.png``, ``rl/rl_curves.png`` (reward
   and diagnostics), ``sft_loss.png`` (with the short SFT), ``report.html`` (images, references,
   generated reports; the RL reports shaded by their DiTPO token weights).

The demo is a sequence of the stages every command runs (:mod:`radrl.stages`): the pipeline's
(:mod:`radrl.stages.sft`; without ``sft:`` its benchmark stage alone), ``radrl train``'s for RL, and
its labeler stage. Each reuses what an interrupted run left in the folder by its recorded
fingerprint, never by the file being there.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from radrl.assets import TINY_SFT
from radrl.config.fields import to_plain
from radrl.data.synthetic.build import SyntheticConfig
from radrl.io import atomic_write_json
from radrl.recipe import DemoLabelerStage, DemoRecipe, DemoRLStage, RLRecipe
from radrl.stages.base import Stage, StageContext, run_stage, run_stages

COMPARED = (("P", "clinical", "example", "precision"), ("R", "clinical", "example", "recall"),
            ("F1", "clinical", "example", "f1"), ("macro F1", "clinical", "macro", "f1"),
            ("BLEU-4", "nlg", "bleu_4", None), ("ROUGE-L", "nlg", "rouge_l", None))


def comparison_table(systems: dict[str, dict]) -> tuple[str, dict]:
    """A text table of clinical P/R/F1 (example-based), macro F1, BLEU-4 and ROUGE-L, and its dict."""
    rows = {}
    for name, m in systems.items():
        rows[name] = {col: (m[a][b][c] if c else m[a][b]) for col, a, b, c in COMPARED}
    width = max(len(n) for n in rows) + 2
    lines = [" " * width + "".join(f"{col:>10}" for col, *_ in COMPARED)]
    for name, r in rows.items():
        lines.append(f"{name:<{width}}" + "".join(
            f"{r[col]:>10.3f}" if r[col] is not None else f"{'n/a':>10}" for col, *_ in COMPARED))
    return "\n".join(lines), rows


def run_rl_stage(stage: DemoRLStage, data_dir: Path, out: Path, meteor: bool,
                 synthetic: SyntheticConfig | None = None) -> tuple[RLRecipe, dict]:
    """The demo's RL: a recipe's tiny variant on the demo's benchmark, resumable. ``synthetic``
    is the config the demo built ``data_dir`` with: the RL recipe's own ``synthetic:`` block would
    otherwise rebuild the folder to its sizes, and RL would be scored on other studies than SFT."""
    from dataclasses import asdict

    from radrl.recipe import load_recipe, merge
    from radrl.stages import run_rl

    data = {"path": str(data_dir), **({"synthetic": asdict(synthetic)} if synthetic is not None else {})}
    overlay = merge(stage.overrides, {"data": data, "evaluate": {"meteor": meteor}})
    recipe = load_recipe(stage.recipe, tiny=True, overlay=overlay)
    return recipe, run_rl(recipe, out, resume=True)


def run_demo(out: str | Path, recipe: DemoRecipe, meteor: bool = True, skip_checkpoint: bool = False) -> int:
    """Run the demo recipe into ``out`` (resuming what an interrupted run left there)."""
    from radrl.data.synthetic import load_synthetic
    from radrl.evaluation import evaluate_model
    from radrl.labelers import get_labeler

    t0 = time.perf_counter()
    out = Path(out)
    meteor = meteor and recipe.evaluate.meteor  # the command line's --no-meteor, or the recipe's evaluate.meteor
    data, baseline_text, systems, outputs, sft_log = _benchmark_and_short_sft(recipe, out, meteor)
    stage_seconds = {("benchmark, short SFT, its evaluation" if recipe.sft else "benchmark"): time.perf_counter() - t0}
    lap = time.perf_counter()

    def stage_done(name: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        stage_seconds[name] = now - lap
        lap = now
    split = recipe.evaluate.split
    test = load_synthetic(data, split)
    if (TINY_SFT / "model.safetensors").is_file() and not skip_checkpoint:
        print(f"[4] committed SFT checkpoint {TINY_SFT}")
        name = "SFT, committed checkpoint"
        systems[name], outputs[name] = evaluate_model(TINY_SFT, test, out / "eval-checkpoint",
                                                      recipe.evaluate.generation, meteor=meteor)
        stage_done("committed checkpoint's evaluation")
    shaded, comparison, rl_figure, headline = {}, None, [], None
    if recipe.rl is not None and "SFT, committed checkpoint" in systems:
        shaded, comparison, rl_figure, headline = _rl_against_sft(recipe, data, out, meteor, test,
                                                                  systems, outputs, stage_done)
    labeler_summary = None
    if recipe.labeler is not None:
        print("[6] CheXbert-architecture labeler on silver labels; token-masking table")
        labeler_summary = run_labeler_stage(recipe.labeler, load_synthetic(data, "train"), test, out / "labeler")
        stage_done("labeler and masking table")
    labeler = get_labeler("rule")
    labels = {k: labeler.label_batch(list(v)) for k, v in outputs.items()}
    page = _write_figures_and_page(out, test, systems, outputs, labels, sft_log, rl_figure, shaded)
    stage_done("labels, figures, report page")
    summary = {"headline": headline, "seconds": round(time.perf_counter() - t0, 1),
               "stage_seconds": {k: round(v, 1) for k, v in stage_seconds.items()}, "split": split, "n": len(test),
               "baseline_report": baseline_text, "systems": systems, "sft_vs_rl": comparison,
               "labeler": labeler_summary, "peak_rss_mb": _peak_rss_mb()}
    atomic_write_json(out / "metrics.json", summary)

    _print_summary(summary, out, page, recipe)
    return 0


def _benchmark_and_short_sft(recipe: DemoRecipe, out: Path, meteor: bool
                             ) -> tuple[Path, str, dict, dict, list | None]:
    """The benchmark, the "most frequent report" baseline and, when the recipe has an ``sft:``
    section, the short SFT of a fresh tiny VLM and its evaluation: (data folder, the baseline's
    report, systems, their reports, the SFT's log history)."""
    from radrl.data.synthetic import load_synthetic
    from radrl.evaluation import evaluate_reports, most_frequent_report
    from radrl.pipeline import run_pipeline
    from radrl.stages.sft import PipelineBenchmarkStage

    if recipe.sft is not None:
        print(f"radrl demo -> {out}\n[1-3] synthetic benchmark, tiny VLM, short SFT, generation, evaluation")
        result = run_pipeline(recipe.pipeline(), out, meteor=meteor)
        data = result["data"]
    else:
        print(f"radrl demo -> {out}\n[1] synthetic benchmark")
        run_stages([PipelineBenchmarkStage()], StageContext(recipe, out), "radrl demo")  # the pipeline's first stage
        data, result = out / "data", None
    test, train = load_synthetic(data, recipe.evaluate.split), load_synthetic(data, "train")
    baseline_text = most_frequent_report([s.report for s in train], [s.labels for s in train])
    systems = {"most frequent report": evaluate_reports([baseline_text] * len(test), [s.report for s in test],
                                                        ref_labels=[s.labels for s in test], meteor=meteor)}
    outputs: dict[str, list[str]] = {}
    if result is None:
        return data, baseline_text, systems, outputs, None
    length = f"{recipe.sft.max_steps} steps" if recipe.sft.max_steps > 0 else f"{recipe.sft.epochs:g} epochs"
    systems[f"SFT, this run ({length})"] = result["metrics"]
    outputs[f"SFT, this run ({length})"] = result["predictions"]
    log = json.loads((result["model"] / "radrl_sft.json").read_text())["log_history"]
    return data, baseline_text, systems, outputs, log


def _write_figures_and_page(out: Path, test, systems: dict, outputs: dict, labels: dict, sft_log: list | None,
                            rl_figure: list, shaded: dict) -> Path:
    from radrl.reporting import plot_loss, plot_per_label_f1, write_html

    figures = [plot_per_label_f1(systems, out / "per_label_f1.png").name]
    if sft_log is not None:
        figures.append(plot_loss(sft_log, out / "sft_loss.png").name)
    note = ("RL reports are shaded by the weight DiTPO (TF-IDF over a group of 8 reports sampled for the same "
            "image) gives each token: white = boilerplate shared by the group (w = 1), red = distinctive.")
    return write_html(out / "report.html", "radrl demo: synthetic chest X-ray benchmark", test, outputs, labels,
                      list(systems.items()), figures=[*figures, *rl_figure], shaded=shaded,
                      note=note if shaded else "")


def _rl_against_sft(recipe: DemoRecipe, data, out: Path, meteor: bool, test, systems: dict, outputs: dict,
                    stage_done) -> tuple[dict, dict, list, dict]:
    """RL from the committed checkpoint, its evaluation (by the rule labeler, as every system's)
    and the paired RL - SFT gain: (shaded reports, comparison table, figures, headline)."""
    from radrl.evaluation import evaluate_reports

    gold, split = [s.labels for s in test], recipe.evaluate.split
    rl_recipe, rl_result = run_rl_stage(recipe.rl, data, out / "rl", meteor, recipe.synthetic)
    stage_done("RL and its evaluation")
    steps = rl_recipe.rl.get("max_steps", "?")
    name = f"RL: DiTPO-TF-IDF from the checkpoint ({steps} steps)"
    print(f"[5] {name}")
    systems[name], outputs[name] = rl_result["metrics"], rl_result["predictions"]
    if systems[name]["labeler"] != "rule":  # RL scored with its recipe's labeler: the table uses one for all
        systems[name] = {**systems[name], **evaluate_reports(outputs[name], [s.report for s in test],
                                                             ref_labels=gold, meteor=meteor)}
    text, comparison = comparison_table({k: systems[k] for k in ("SFT, committed checkpoint", name)})
    headline = {"sft_example_f1": systems["SFT, committed checkpoint"]["clinical"]["example"]["f1"],
                "rl_example_f1": systems[name]["clinical"]["example"]["f1"], "split": split, "n": len(test),
                **paired_gain(outputs[name], outputs["SFT, committed checkpoint"], test)}
    print("\nSFT vs RL on the synthetic test split (example-based clinical P/R/F1):\n" + text)
    print(f"RL - SFT example F1 {headline['gain']:+.4f}, paired bootstrap 95 % CI "
          f"[{headline['gain_ci95'][0]:+.4f}, {headline['gain_ci95'][1]:+.4f}], p {headline['p_value']:.3f}")
    shaded = {name: _shade(rl_result["model"], test[:24], outputs[name][:24])}
    rl_figure = ["rl/rl_curves.png"] if (out / "rl" / "rl_curves.png").is_file() else []
    stage_done("paired comparison, token-weight shading")
    return shaded, comparison, rl_figure, headline


def _print_summary(summary: dict, out: Path, page, recipe: DemoRecipe) -> None:
    from radrl.reporting import format_metrics

    print()
    for name, m in summary["systems"].items():
        print(f"== {name}")
        print(format_metrics(m))
    print(f"\nwrote {out / 'metrics.json'}, {out / 'per_label_f1.png'}, {page}")
    headline, split = summary["headline"], summary["split"]
    if headline:
        lo, hi = headline["gain_ci95"]
        print(f"headline: example F1 {headline['sft_example_f1']:.3f} (committed SFT checkpoint) -> "
              f"{headline['rl_example_f1']:.3f} (RL from it), {headline['gain']:+.3f} [95 % CI {lo:+.3f}, {hi:+.3f}], "
              f"{headline['n']} {split} studies")
    print(f"demo wall time {summary['seconds']:.0f} s ("
          + ", ".join(f"{k} {v:.0f} s" for k, v in summary["stage_seconds"].items())
          + f"), peak RSS {summary['peak_rss_mb']:.0f} MB")
    if recipe.sft is None or recipe.labeler is None:
        print("next: `radrl demo --recipe demo_full -o runs/demo-full` adds a short SFT of a fresh tiny VLM and "
              "the labeler table (about 2 more minutes); README \"What to run next\" lists the longer benchmarks")


def paired_gain(rl_reports: list[str], sft_reports: list[str], samples, resamples: int = 1000) -> dict:
    """RL minus SFT example F1 on the same studies, with ``radrl compare``'s paired bootstrap 95 %
    CI and randomisation p-value (rule labeler on the reports, the benchmark's labels on the
    references, as the demo's metrics are computed)."""
    from radrl.labelers import get_labeler
    from radrl.metrics.compare import compare_predictions

    labeler = get_labeler("rule")
    m = compare_predictions(rl_reports, sft_reports, [s.report for s in samples], labeler.label_batch(rl_reports),
                            labeler.label_batch(sft_reports), [s.labels for s in samples],
                            resamples=resamples, metrics=("example_f1",))["example_f1"]
    return {"gain": m["diff"], "gain_ci95": m["ci95"], "p_value": m["p_value"], "resamples": resamples}


class DemoLabelerTraining(Stage):
    """The demo's tiny labeler in ``OUT/labeler/labeler``, trained on the training reports with the
    ``labeler.train`` settings; the demo owns the folder, so other settings or reports train it again."""

    name, replaces_stale = "demo-labeler", True

    def applies(self, ctx):
        return True

    def output(self, ctx):
        return ctx.out / "labeler" / "model.safetensors"

    def fingerprint(self, ctx):
        reports = "\n".join(s.report for s in ctx.values["train"])
        return {"train": to_plain(ctx.recipe.train), "reports": hashlib.sha256(reports.encode()).hexdigest()}

    def run(self, ctx):
        from radrl.training.labeler import train_labeler

        train_labeler([s.report for s in ctx.values["train"]], ctx.out, ctx.recipe.train, progress=False)


def run_labeler_stage(stage: DemoLabelerStage, train, test, out: Path) -> dict:
    """Train (or reuse, by its fingerprint) the tiny labeler in ``out``, then the masking table on
    rollouts of the committed SFT checkpoint; both printed and returned."""
    from radrl.analysis.masking import format_masking_table, rollout_masking
    from radrl.labelers import get_labeler
    from radrl.metrics.agreement import format_agreement

    run_stage(DemoLabelerTraining(), StageContext(stage, out, progress=False, values={"train": train}))
    card = json.loads((out / "labeler" / "labeler_card.json").read_text())
    card["agreement"] = json.loads((out / "agreement.json").read_text())
    print(format_agreement(card["agreement"]))
    print(f"trained in {card['train_seconds']:.0f} s ({card['parameters']:,} parameters)")
    masking = None
    if stage.masking_prompts and (TINY_SFT / "model.safetensors").is_file():
        chexbert = get_labeler("chexbert", str(out))
        masking = rollout_masking(TINY_SFT, test, chexbert, n_prompts=stage.masking_prompts, progress=False)
        atomic_write_json(out / "masking.json", masking)
        print(format_masking_table(masking))
    return {"agreement_macro_f1": card["agreement"]["macro_f1"],
            "agreement_macro_positive_f1": card["agreement"]["macro_positive_f1"],
            "train_seconds": card["train_seconds"], "masking": masking}


def _shade(model_path, samples, reports):
    from radrl.models import load_policy
    from radrl.token_weight_view import ditpo_weights_for_reports

    model, processor = load_policy(str(model_path))
    return ditpo_weights_for_reports(model, processor, samples, reports)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
