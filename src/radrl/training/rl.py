"""The RL stage of a recipe: policy -> rewards -> ``RadRLTrainer`` -> final model -> evaluation.

``radrl train --recipe deer [--tiny] [--resume] [--only STAGE] [-o OUT] [rl.learning_rate=1e-5 ...]``
runs :func:`radrl.stages.run_rl`: the preparing stages first (benchmark, subset, labeler,
criticality, rollout-model; :mod:`radrl.stages.rl`), then the train stage (:func:`train_policy`
here, which builds the trainer from what they wrote and trains) and the evaluate stage
(:func:`evaluate_policy`). Nothing here waits in a barrier: the
process group only comes to life when the trainer's config is built, after the stages.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from radrl.assets import resolve_model_path
from radrl.config import DEFAULT_INSTRUCTION, DataSection, LabelerSection, RLRecipe
from radrl.io import ConfigError, InputError, atomic_write_json


def describes_benchmark(data: DataSection) -> bool:
    """The recipe's data is a synthetic benchmark to build (or reuse): a ``synthetic:`` block, or
    a folder without one yet; a folder given without a block is read as it is."""
    return data.kind == "synthetic" and (data.synthetic is not None or not (Path(data.path) / "config.json").is_file())


def load_split(data: DataSection, split: str, limit: int | None = None):
    """Samples of one split of the recipe's ``data``, read as they are: a synthetic benchmark that
    the recipe describes is the benchmark stage's to build, and is refused here until it is."""
    from radrl.data.registry import load_dataset

    if describes_benchmark(data):
        from radrl.config import SyntheticConfig
        from radrl.data.synthetic.build import synthetic_ready

        if not synthetic_ready(data.path, data.synthetic or SyntheticConfig()):
            raise InputError(f"the synthetic benchmark in {data.path} is not built (or was built with other "
                             "settings): the benchmark stage builds it (radrl train --recipe ... --only benchmark, "
                             "or a run without --only)")
    return load_dataset(data.kind, data.path, split=split, limit=limit, **data.options)


def rl_config(recipe: RLRecipe, out: Path):
    """``RadRLConfig`` from the recipe's ``rl`` section with radrl's run-time defaults for the rest."""
    from radrl.training.rl_trainer import RadRLConfig

    cfg = dict(recipe.rl.settings)
    cuda = torch.cuda.is_available()
    defaults = dict(
        output_dir=str(out / "checkpoints"), report_to=["tensorboard"],  # TensorBoard: OUT/checkpoints/runs
        logging_steps=1, save_strategy="steps", save_steps=50, save_total_limit=3,
        activation_checkpointing=False, bf16=cuda and torch.cuda.is_bf16_supported(),
        dataloader_pin_memory=cuda, disable_tqdm=False, seed=0,
        # images are decoded (and resized by the processor) as rows are read: worker processes
        # overlap that with the GPU; on CPUs the cores belong to the trainer itself
        dataloader_num_workers=4 if cuda else 0,
        # without CUDA, a multi-process launch needs use_cpu to join one gloo group; otherwise
        # every process trains alone as rank 0 of its own run (and they overwrite each other)
        use_cpu=not cuda,
    )
    if "gradient_checkpointing" in cfg:  # the recipe writes transformers' old name: it decides
        defaults.pop("activation_checkpointing")
    for key, value in defaults.items():
        cfg.setdefault(key, value)
    schedules = [r.schedule for r in recipe.rewards]
    cfg["reward_weights"] = [r.weight for r in recipe.rewards]
    cfg["reward_schedules"] = schedules if any(schedules) else None
    try:
        return RadRLConfig(**cfg)
    except (TypeError, ValueError) as err:  # TRL's and transformers' own checks
        raise ConfigError(f"recipe rl section: {err}") from None


def build_labeler(spec: LabelerSection, device=None):
    """The recipe's labeler (the labeler stage has trained it when the recipe asks), on the
    trainer's device when it is model-backed."""
    from radrl.labelers import labeler_from_section

    if spec.train is not None and not Path(spec.weights).exists():
        raise InputError(f"labeler weights {spec.weights} are missing: the labeler stage trains them "
                         "(radrl train --only labeler)")
    return labeler_from_section(spec, device)



def apply_subset(recipe: RLRecipe, train: list) -> list:
    """The training samples listed in ``data.subset``, once the file is checked against them
    (:func:`radrl.selection.subsets.subset_samples`)."""
    from radrl.selection.subsets import subset_samples

    path = Path(recipe.data.subset)
    if not path.is_file():
        raise InputError(f"subset file {path} does not exist: write it with `radrl select` or give the "
                         "recipe a select: section")
    return subset_samples(path, train, recipe.data.kind, recipe.data.split, recipe.data.allow_partial_subset)


def build_trainer(recipe: RLRecipe, out: Path, train: list, callbacks: list | None = None,
                  critical: list[bool] | None = None, skipped_images=None):
    """The trainer for ``train`` (the training samples the stages prepared), with ``critical``
    (the criticality stage's flags) as a column when a component reads it."""
    from radrl.algorithms import build_components
    from radrl.data.images import SkippedImages
    from radrl.judges import JudgeClient
    from radrl.models.policy import load_policy, low_precision_warning
    from radrl.rewards import build_rewards
    from radrl.training.datasets import to_trl_dataset
    from radrl.training.diagnostics import MetricsLogCallback
    from radrl.training.rl_trainer import RadRLTrainer
    from radrl.training.vllm_rollouts import check_vllm

    check_vllm(recipe.rl.settings)
    args = rl_config(recipe, out)  # TRL's own checks before any model loads; the process group starts here
    labeler = build_labeler(recipe.labeler, device=args.device)
    judge = JudgeClient(recipe.judge) if recipe.judge is not None else None
    rewards = build_rewards(recipe.rewards, labeler, judge)
    model, processor = load_policy(resolve_model_path(recipe.model.path), freeze=recipe.model.freeze,
                                   lora=recipe.model.lora, seed=args.seed, **recipe.model.policy_kwargs())
    warning = low_precision_warning(model, args.learning_rate)
    if warning:
        warnings.warn(warning, stacklevel=2)
    if args.use_vllm:  # vLLM reads the model folder the rollout-model stage wrote
        model.config._name_or_path = str(out / "rollout-model")
    dataset = to_trl_dataset(train, recipe.instruction or DEFAULT_INSTRUCTION, with_completion=False)
    components = build_components(recipe.algorithm.entries(), labeler=labeler, tokenizer=processor)
    if critical is not None:
        dataset = dataset.add_column("critical", critical)
    algorithm = recipe.algorithm
    chosen = {name: (entry.type, entry.params) for name in ("policy_loss", "advantage")
              if (entry := getattr(algorithm, name)) is not None}
    trainer = RadRLTrainer(model=model, reward_funcs=rewards.functions, args=args, train_dataset=dataset,
                           processing_class=processor, components=components, **chosen,
                           skip_failed_rewards=algorithm.skip_failed_rewards,
                           callbacks=[MetricsLogCallback(out), *(callbacks or [])])
    trainer.skipped_images = skipped_images if skipped_images is not None else SkippedImages("training data")
    trainer.labeler = labeler  # the evaluate stage scores with the same one
    engine = engine_mismatch(trainer)
    if engine:
        warnings.warn(engine, stacklevel=2)
    return trainer


def engine_mismatch(trainer) -> str | None:
    """A warning when the launch asked for FSDP or DeepSpeed and the trainer does not run it:
    accelerate enables both on accelerators only, so a CPU launch trains as plain DDP (gloo)."""
    import os

    flags = {"FSDP": "ACCELERATE_USE_FSDP", "DeepSpeed": "ACCELERATE_USE_DEEPSPEED"}
    wanted = [name for name, var in flags.items() if os.environ.get(var, "false").lower() == "true"]
    if wanted and not (trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled):
        return (f"the launch asks for {wanted[0]}, but accelerate runs {wanted[0]} on GPUs only; these "
                f"{trainer.accelerator.num_processes} process(es) train as plain DDP, each holding the whole model")
    return None


SAFE_RESUME_CHANGES = ("rl.max_steps", "rl.num_train_epochs", "rl.save_steps", "rl.save_total_limit",
                       "rl.logging_steps", "rl.report_to", "rl.disable_tqdm", "rl.dataloader_num_workers",
                       "rl.dataloader_pin_memory", "evaluate", "description", "resolved_from")
"""Recipe keys (and sections) that may differ when a run is resumed: how long, how often it
saves and logs, and the evaluation after training. Anything else is another experiment."""


def recipe_changes(before: dict, after: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two resolved recipes."""
    changed = []
    for key in sorted(set(before) | set(after), key=str):
        dotted = f"{prefix}{key}"
        a, b = before.get(key), after.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed.extend(recipe_changes(a, b, dotted + "."))
        elif a != b:
            changed.append(dotted)
    return changed


def check_resume_recipe(out: Path, recipe: RLRecipe) -> None:
    """Refuse ``--resume`` with a recipe that differs from the run's own ``recipe.json`` in
    anything but :data:`SAFE_RESUME_CHANGES` (the record of what was trained must stay true)."""
    saved = out / "recipe.json"
    if not saved.is_file():
        return
    try:
        before = json.loads(saved.read_text())
    except json.JSONDecodeError:
        raise InputError(f"{saved} is not valid JSON; it records what this run trained - restore it") from None
    before = _normalised(before)
    changed = [k for k in recipe_changes(before, recipe.to_dict())
               if not any(k == s or k.startswith(s + ".") for s in SAFE_RESUME_CHANGES)]
    if changed:
        raise InputError(f"--resume with a different recipe: {', '.join(changed)} differ from {saved}. Resume with "
                         "the run's own recipe (radrl train --recipe " + str(saved) + " --resume), or start a new "
                         "output folder; only " + ", ".join(SAFE_RESUME_CHANGES[:5]) + " and evaluate may change")


def _normalised(recorded: dict) -> dict:
    """A recorded recipe through today's classes: a setting added since, at its default, is not a
    change."""
    from radrl.config import build_recipe

    problems: list = []
    recipe = build_recipe(recorded, problems)
    return recorded if problems or recipe is None else recipe.to_dict()  # another radrl's: as it is


def check_run_folder(recipe: RLRecipe, out: Path, resume: bool) -> None:
    """Refuse to mix two runs in one folder, or to resume with another recipe."""
    if not resume and (out / "checkpoints").is_dir() and any((out / "checkpoints").glob("checkpoint-*")):
        raise InputError(f"{out} holds checkpoints of an earlier run: pass --resume to continue it "
                         "or choose another output folder")
    if resume:
        check_resume_recipe(out, recipe)


def train_policy(recipe: RLRecipe, out: Path, resume: bool, callbacks: list | None, train: list,
                 skipped_images=None, critical: list[bool] | None = None):
    """The train stage: build the trainer, train (resuming from the newest complete checkpoint
    when ``resume``), save ``OUT/final``. Returns the trainer (its ``labeler`` is the rewards')."""
    from radrl.training.checkpoints import latest_checkpoint
    from radrl.training.saving import save_final_model

    checkpoint = latest_checkpoint(out / "checkpoints") if resume else None
    atomic_write_json(out / "recipe.json", recipe.to_dict())
    trainer = build_trainer(recipe, out, train, callbacks, critical, skipped_images)
    if checkpoint:
        print(f"resuming from {checkpoint}")
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    save_final_model(trainer, out / "final", recipe.model.save_dtype, "radrl_rl.json",
                     {"recipe": recipe.to_dict(), "log_history": trainer.state.log_history,
                      "components": trainer.component_state(),
                      "skipped_images": trainer.skipped_images.summary()})
    if trainer.skipped_images.count:  # the end-of-run summary (the warning was at the start)
        print(trainer.skipped_images.message())
    return trainer


def evaluate_policy(recipe: RLRecipe, out: Path, trainer) -> tuple[dict | None, Path | None]:
    """The evaluate stage, on the main process: ``OUT/final`` on the recipe's evaluation split,
    scored with the labeler the rewards used (built once, by the trainer's build)."""
    ev = recipe.evaluate
    if ev is None or not trainer.accelerator.is_main_process:
        return None, None
    from radrl.evaluation import evaluate_model

    samples = load_split(recipe.data, ev.split, ev.limit)
    return evaluate_model(out / "final", samples, out / "eval", ev.generation, meteor=ev.meteor,
                          labeler=trainer.labeler, model_kwargs=recipe.model.inference_kwargs())
