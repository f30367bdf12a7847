"""``radrl train``'s stages, in order: benchmark, subset, labeler, criticality, rollout-model,
train, evaluate. The first five prepare files under the protocol of :mod:`radrl.stages.base`
(rank 0 works, the others wait on its file, no collective); ``train`` and ``evaluate`` run the
trainer itself. :func:`run_rl` prints the plan, runs what is missing, then trains.

    OUT/checkpoints/checkpoint-N   resumable (model, optimizer, scheduler, RNG, component state)
    OUT/final                      the trained policy (swapped in atomically)
    OUT/recipe.json                the resolved recipe (loadable again with --recipe)
    OUT/criticality.json           CAPO's critical flags per training id (criticality stage)
    OUT/metrics.jsonl|csv          every logged step; OUT/rl_curves.png; TensorBoard in OUT/checkpoints/runs
    OUT/eval/                      predictions.jsonl, metrics.json on the evaluation split
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from radrl.config import RLRecipe
from radrl.config.fields import to_plain
from radrl.distributed import is_main, node_local_folder
from radrl.io import InputError, atomic_write_json, run_lock
from radrl.stages.base import Stage, StageContext, run_stages


def _source(recipe: RLRecipe) -> dict:
    return {"kind": recipe.data.kind, "path": recipe.data.path, "split": recipe.data.split,
            "limit": recipe.data.limit, "subset": recipe.data.subset}


def training_samples(ctx: StageContext) -> list:
    """The training split, restricted to the subset when the recipe has one, images checked; loaded
    once per run and shared by the stages that need it."""
    if "train" not in ctx.values:
        from radrl.data.images import drop_unreadable
        from radrl.training.rl import apply_subset, load_split

        recipe = ctx.recipe
        train = load_split(recipe.data, recipe.data.split, recipe.data.limit)
        if recipe.data.subset:
            train = apply_subset(recipe, train)
        train, skipped = drop_unreadable(train, "training data", progress=ctx.progress)  # a bad film costs one sample
        if not train:
            raise InputError(f"{recipe.data.path}: no training sample has readable images")
        ctx.values["train"], ctx.values["skipped_images"] = train, skipped
    return ctx.values["train"]


class BenchmarkStage(Stage):
    """The synthetic benchmark a recipe describes (``data.synthetic``), built or reused."""

    name = "benchmark"

    def applies(self, ctx):
        from radrl.training.rl import describes_benchmark

        return describes_benchmark(ctx.recipe.data)

    def where(self, ctx):
        """(the benchmark's folder, its config): the recipe's ``data`` section."""
        from radrl.config import SyntheticConfig

        return Path(ctx.recipe.data.path), ctx.recipe.data.synthetic or SyntheticConfig()

    def output(self, ctx):
        return self.where(ctx)[0] / "config.json"

    def fingerprint(self, ctx):
        return self.where(ctx)[1].record()

    def current(self, ctx):
        from radrl.data.synthetic.build import synthetic_ready

        return synthetic_ready(*self.where(ctx))

    def run(self, ctx):
        from radrl.data.synthetic import build_synthetic

        build_synthetic(*self.where(ctx), progress=ctx.progress)


class SubsetStage(Stage):
    """``data.subset`` chosen by the recipe's ``select:`` method. Every rank measures its shard
    (the SFT model's samples); rank 0 merges them and writes the file."""

    name = "subset"
    all_ranks = True

    def applies(self, ctx):
        return bool(ctx.recipe.data.subset) and ctx.recipe.select is not None

    def output(self, ctx):
        return Path(ctx.recipe.data.subset)

    def fingerprint(self, ctx):
        data = ctx.recipe.data
        return {"select": to_plain(ctx.recipe.select), "model": ctx.recipe.select.model or ctx.recipe.model.path,
                "source": {"kind": data.kind, "path": data.path, "split": data.split, "limit": data.limit}}

    def run(self, ctx):
        from radrl.assets import resolve_model_path
        from radrl.selection import select_subset
        from radrl.training.rl import load_split

        recipe = ctx.recipe
        settings = replace(recipe.select, model=resolve_model_path(recipe.select.model or recipe.model.path),
                           model_kwargs={**recipe.model.inference_kwargs(), **recipe.select.model_kwargs})
        train = load_split(recipe.data, recipe.data.split, recipe.data.limit)
        result = select_subset(settings, train, self.output(ctx), progress=ctx.progress,
                               source={"kind": recipe.data.kind, "path": recipe.data.path, "split": recipe.data.split})
        if result is not None:
            print(f"kept {len(result['ids'])} of {result['n_source']} training samples")


class LabelerStage(Stage):
    """A CheXbert-architecture labeler trained on the training reports (``labeler.train``) into
    ``labeler.weights``; at MIMIC scale hours of one GPU, which is why no rank waits in a barrier."""

    name = "labeler"

    def applies(self, ctx):
        labeler = ctx.recipe.labeler
        return labeler.name == "chexbert" and labeler.train is not None

    def output(self, ctx):
        return Path(ctx.recipe.labeler.weights)

    def fingerprint(self, ctx):
        return {"train": to_plain(ctx.recipe.labeler.train), "reports": _source(ctx.recipe)}

    def run(self, ctx):
        from radrl.training.labeler import train_labeler

        reports = [s.report for s in training_samples(ctx)]
        print(f"training the CheXbert-architecture labeler {self.output(ctx)} on {len(reports)} reports")
        card = train_labeler(reports, self.output(ctx), ctx.recipe.labeler.train, progress=False)
        print(f"labeler agreement with the rule labeler (held-out): macro F1 {card['agreement']['macro_f1']:.3f}")


def _column_filler(recipe: RLRecipe, stage: str):
    """The recipe's component whose column ``stage`` writes (CAPO's ``critical``), as (entry, its
    class), or None: the stage runs only for a recipe with such a component."""
    from radrl.algorithms import COMPONENTS

    for entry in recipe.algorithm.entries().values():
        cls = COMPONENTS.get(entry.type)
        if stage in cls.column_stages.values():
            return entry, cls
    return None


def _needs_critical(recipe: RLRecipe) -> bool:
    return _column_filler(recipe, "criticality") is not None


class CriticalityStage(Stage):
    """Which training references are critical (the column CAPO reads), annotated once with the
    component's settings: the judge's answers (``judge: true``), else the ground-truth labels,
    else the rule labeler."""

    name = "criticality"

    def applies(self, ctx):
        return _needs_critical(ctx.recipe)

    def output(self, ctx):
        return ctx.out / "criticality.json"

    def _settings(self, ctx) -> tuple[bool, bool]:
        entry, cls = _column_filler(ctx.recipe, self.name)
        component = cls(**entry.params)  # its constructor's defaults decide the unset ones
        return bool(getattr(component, "judge", False)), bool(getattr(component, "count_uncertain", True))

    def fingerprint(self, ctx):
        recipe = ctx.recipe
        use_judge, count_uncertain = self._settings(ctx)
        judge = {"base_url": recipe.judge.base_url, "model": recipe.judge.model} if use_judge else None
        return {"critical": {"judge": use_judge, "count_uncertain": count_uncertain}, "judge": judge,
                "data": _source(recipe)}

    def run(self, ctx):
        from radrl.judges import JudgeClient
        from radrl.training.criticality import annotate_criticality

        recipe, train = ctx.recipe, training_samples(ctx)
        use_judge, count_uncertain = self._settings(ctx)
        judge = JudgeClient(recipe.judge) if use_judge else None
        flags = annotate_criticality(train, judge=judge, count_uncertain=count_uncertain)
        atomic_write_json(self.output(ctx), {"ids": [s.id for s in train], "critical": [bool(f) for f in flags]})
        print(f"{sum(flags)} of {len(flags)} training references are critical")


class RolloutModelStage(Stage):
    """``OUT/rollout-model`` for vLLM (``rl.use_vllm``): the policy folder with the training processor."""

    name = "rollout-model"

    def applies(self, ctx):
        return bool(ctx.recipe.rl.get("use_vllm", False))

    def output(self, ctx):
        return ctx.out / "rollout-model"

    def fingerprint(self, ctx):
        return {"model": ctx.recipe.model.path, "processor": ctx.recipe.model.processor_kwargs()}

    def run(self, ctx):
        from radrl.assets import resolve_model_path
        from radrl.models.processor import load_processor
        from radrl.training.vllm_rollouts import rollout_model_folder

        model = ctx.recipe.model
        processor = load_processor(resolve_model_path(model.path), trust_remote_code=model.trust_remote_code,
                                   **model.processor_kwargs())
        rollout_model_folder(resolve_model_path(model.path), processor, ctx.out)


class TrainStage(Stage):
    """The policy trained on the prepared samples into ``OUT/final`` (every process: the trainer
    is the distributed part). The run folder was checked once, before the plan."""

    name, prepares = "train", False

    def applies(self, ctx):
        return True

    def output(self, ctx):
        return ctx.out / "final"

    def run(self, ctx):
        from radrl.training.rl import train_policy

        recipe, train = ctx.recipe, training_samples(ctx)
        critical = critical_flags(ctx.out, train) if _needs_critical(recipe) else None
        ctx.values["trainer"] = train_policy(recipe, ctx.out, ctx.values.get("resume", False),
                                             ctx.values.get("callbacks"), train, ctx.values.get("skipped_images"),
                                             critical)


class EvaluateStage(Stage):
    """``OUT/final`` on the recipe's evaluation split (the main process), with the rewards' labeler."""

    name, prepares = "evaluate", False

    def applies(self, ctx):
        return ctx.values.get("evaluate", True) and ctx.recipe.evaluate is not None

    def output(self, ctx):
        return ctx.out / "eval"

    def run(self, ctx):
        from radrl.training.rl import evaluate_policy

        ctx.values["metrics"], ctx.values["predictions"] = evaluate_policy(ctx.recipe, ctx.out, ctx.values["trainer"])


RL_STAGES: tuple[Stage, ...] = (BenchmarkStage(), SubsetStage(), LabelerStage(), CriticalityStage(),
                                RolloutModelStage(), TrainStage(), EvaluateStage())
STAGE_NAMES = tuple(s.name for s in RL_STAGES)


def critical_flags(out: Path, train: list) -> list[bool]:
    """The criticality stage's flags in the order of ``train``."""
    saved = json.loads((out / "criticality.json").read_text())
    by_id = dict(zip(saved["ids"], saved["critical"]))
    missing = [s.id for s in train if s.id not in by_id]
    if missing:
        raise InputError(f"{out / 'criticality.json'} has no flag for {len(missing)} training ids (e.g. {missing[0]}): "
                         "delete it (and its .stage.json) to annotate again")
    return [bool(by_id[s.id]) for s in train]


def run_rl(recipe: RLRecipe, out_dir: str | Path, resume: bool = False, evaluate: bool = True,
           callbacks: list | None = None, only: str | None = None) -> dict:
    """Prepare (the stages that are missing), train (resuming from the newest complete checkpoint
    when ``resume``), save ``OUT/final``, evaluate. ``only``: run that one preparing stage and stop.
    Returns {"model", "metrics", "predictions"}."""
    if not isinstance(recipe, RLRecipe):
        raise TypeError(f"run_rl needs an RLRecipe (radrl.recipe.load_recipe), got {type(recipe).__name__}")
    if only is not None and only not in STAGE_NAMES[:-2]:
        raise InputError(f"--only {only}: choose one of the preparing stages {', '.join(STAGE_NAMES[:-2])}")
    out = Path(out_dir)
    # rl.save_on_each_node: every node has its own run folder, written by its local rank 0
    with node_local_folder(bool(recipe.rl.settings.get("save_on_each_node"))), run_lock(out, writer=is_main()):
        from radrl.training.rl import check_run_folder

        check_run_folder(recipe, out, resume)
        ctx = StageContext(recipe, out, values={"evaluate": evaluate, "resume": resume, "callbacks": callbacks})
        run_stages(RL_STAGES, ctx, "radrl train", only)  # exactly the plan
        trained = "trainer" in ctx.values
        return {"model": out / "final" if trained else None, "metrics": ctx.values.get("metrics"),
                "predictions": ctx.values.get("predictions")}


__all__ = ["RL_STAGES", "STAGE_NAMES", "run_rl", "training_samples"]
