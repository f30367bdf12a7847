"""The RL stage of a recipe: data -> policy -> rewards -> ``RadRLTrainer`` -> final model -> evaluation.

``radrl train --recipe deer [--tiny] [--resume] [-o OUT] [rl.learning_rate=1e-5 ...]``

A recipe is an :class:`radrl.recipe.RLRecipe` (``radrl/recipes/*.yaml``, checked before anything
loads; ``radrl recipes show NAME`` prints it resolved). A recipe with a ``select:`` section and a
missing ``data.subset`` file needs ``radrl select`` first (``radrl train`` runs it as its own stage
before training, never inside a collective). Output folder:

    OUT/checkpoints/checkpoint-N   resumable (model, optimizer, scheduler, RNG, OraPO EMA)
    OUT/final                      the trained policy (swapped in atomically)
    OUT/recipe.json                the resolved recipe (loadable again with --recipe)
    OUT/metrics.jsonl|csv          every logged step; OUT/rl_curves.png; TensorBoard in OUT/checkpoints/runs
    OUT/eval/                      predictions.jsonl, metrics.json on the evaluation split
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from radrl.assets import resolve_model_path
from radrl.io import ConfigError, InputError, atomic_write_json, run_lock
from radrl.recipe import DataSection, LabelerSection, RLRecipe


def load_split(data: DataSection, split: str, limit: int | None = None):
    """Samples of one split of the recipe's ``data``; builds the synthetic benchmark when the
    recipe describes one (a ``synthetic:`` block) or the folder has none yet."""
    from radrl.data.registry import load_dataset

    path = data.path
    if data.kind == "synthetic" and (data.synthetic is not None or not (Path(path) / "config.json").is_file()):
        # build (or reuse, when the config matches) the benchmark the recipe describes; a folder
        # given without a `synthetic:` block is read as it is
        from radrl.data.synthetic import SyntheticConfig, build_synthetic
        from radrl.data.synthetic.build import synthetic_ready
        from radrl.distributed import is_main, wait_for

        config = data.synthetic or SyntheticConfig()
        if is_main():  # one writer; the other ranks wait on the file, not in a collective
            path = build_synthetic(path, config)
        else:
            wait_for(lambda: synthetic_ready(path, config), f"the synthetic benchmark in {path} (rank 0 builds it)")
    return load_dataset(data.kind, path, split=split, limit=limit, **data.options)


def rl_config(recipe: RLRecipe, out: Path):
    """``RadRLConfig`` from the recipe's ``rl`` section with radrl's run-time defaults for the rest."""
    from radrl.training.rl_trainer import RadRLConfig

    cfg = dict(recipe.rl.settings)
    cuda = torch.cuda.is_available()
    defaults = dict(
        output_dir=str(out / "checkpoints"), report_to=["tensorboard"],  # TensorBoard: OUT/checkpoints/runs
        logging_steps=1, save_strategy="steps", save_steps=50, save_total_limit=3,
        gradient_checkpointing=False, bf16=cuda and torch.cuda.is_bf16_supported(),
        dataloader_pin_memory=cuda, disable_tqdm=False, seed=0,
        # images are decoded (and resized by the processor) as rows are read: worker processes
        # overlap that with the GPU; on CPUs the cores belong to the trainer itself
        dataloader_num_workers=4 if cuda else 0,
        # without CUDA, a multi-process launch needs use_cpu to join one gloo group; otherwise
        # every process trains alone as rank 0 of its own run (and they overwrite each other)
        use_cpu=not cuda,
    )
    for key, value in defaults.items():
        cfg.setdefault(key, value)
    schedules = [r.schedule for r in recipe.rewards]
    cfg["reward_weights"] = [r.weight for r in recipe.rewards]
    cfg["reward_schedules"] = schedules if any(schedules) else None
    try:
        return RadRLConfig(**cfg)
    except (TypeError, ValueError) as err:  # TRL's and transformers' own checks
        raise ConfigError(f"recipe rl section: {err}") from None


def build_labeler(spec: LabelerSection, device=None, train_reports=None):
    """The recipe's labeler. With ``train:`` a chexbert labeler missing at ``weights`` is first
    trained there on ``train_reports`` (``radrl labeler train``). A model-backed labeler runs on
    the trainer's device."""
    from radrl.labelers import get_labeler

    if spec.name == "chexbert" and spec.train is not None and not Path(spec.weights).exists():
        from radrl.labelers.chexbert_training import train_labeler

        if not train_reports:
            raise ConfigError("labeler.train needs the training reports")
        print(f"training the CheXbert-architecture labeler {spec.weights} on {len(train_reports)} reports")
        card = train_labeler(train_reports, spec.weights, spec.train, progress=False)
        print(f"labeler agreement with the rule labeler (held-out): macro F1 {card['agreement']['macro_f1']:.3f}")
    options = spec.options()
    if spec.name != "rule" and device is not None:
        options.setdefault("device", str(device))
    return get_labeler(spec.name, spec.weights, **options)


def ensure_subset(recipe: RLRecipe, train: list | None = None, progress: bool = True) -> Path | None:
    """Write ``data.subset`` with the recipe's ``select:`` method when the file is missing (run it
    before training, on one process: it generates with the SFT model). Returns the path."""
    from radrl.selection import select_subset

    if not recipe.data.subset:
        return None
    path = Path(recipe.data.subset)
    if path.is_file() or recipe.select is None:
        return path
    settings = replace(recipe.select, model=resolve_model_path(recipe.select.model or recipe.model.path),
                       model_kwargs={**recipe.model.inference_kwargs(), **recipe.select.model_kwargs})
    from radrl.distributed import wait_for

    train = train if train is not None else load_split(recipe.data, recipe.data.split, recipe.data.limit)
    print(f"selecting the training subset ({settings.method}) -> {path}")
    # every rank measures its shard; rank 0 merges and writes the file; no rank waits in a collective
    result = select_subset(settings, train, path, progress=progress,
                           source={"kind": recipe.data.kind, "path": recipe.data.path, "split": recipe.data.split})
    if result is None:
        wait_for(path.is_file, f"the subset file {path} (rank 0 merges the shards)")
    else:
        print(f"kept {len(result['ids'])} of {result['n_source']} training samples")
    return path


def apply_subset(recipe: RLRecipe, train: list) -> list:
    """The training samples listed in ``data.subset``, once the file is checked against them
    (:func:`radrl.selection.subsets.subset_samples`)."""
    from radrl.selection.subsets import subset_samples

    path = Path(recipe.data.subset)
    if not path.is_file():
        raise InputError(f"subset file {path} does not exist: write it with `radrl select` or give the "
                         "recipe a select: section")
    return subset_samples(path, train, recipe.data.kind, recipe.data.split, recipe.data.allow_partial_subset)


def build_trainer(recipe: RLRecipe, out: Path, callbacks: list | None = None):
    """Everything ``run_rl`` trains with, without training: (trainer, train samples)."""
    from radrl.data.images import drop_unreadable
    from radrl.judges import JudgeClient
    from radrl.models.policy import load_policy, low_precision_warning
    from radrl.models.prompts import DEFAULT_INSTRUCTION
    from radrl.rewards import build_rewards
    from radrl.training.criticality import annotate_criticality
    from radrl.training.datasets import to_trl_dataset
    from radrl.training.diagnostics import MetricsLogCallback
    from radrl.training.rl_trainer import RadRLTrainer
    from radrl.training.vllm_rollouts import check_vllm

    check_vllm(recipe.rl.settings)
    args = rl_config(recipe, out)  # TRL's own checks before any data or model loads
    train = load_split(recipe.data, recipe.data.split, recipe.data.limit)
    if recipe.data.subset:
        train = apply_subset(recipe, train)
    train, skipped_images = drop_unreadable(train, "training data", progress=True)  # a bad film costs one sample
    if not train:
        raise InputError(f"{recipe.data.path}: no training sample has readable images")
    with args.main_process_first(desc="labeler", local=False):  # one process trains a missing labeler
        labeler = build_labeler(recipe.labeler, device=args.device, train_reports=[s.report for s in train])
    judge = JudgeClient(recipe.judge) if recipe.judge is not None else None
    rewards = build_rewards(recipe.rewards, labeler, judge)
    model, processor = load_policy(resolve_model_path(recipe.model.path), freeze=recipe.model.freeze,
                                   lora=recipe.model.lora, **recipe.model.policy_kwargs())
    warning = low_precision_warning(model, args.learning_rate)
    if warning:
        warnings.warn(warning, stacklevel=2)
    if args.use_vllm:  # vLLM reads the model folder: give it one whose processor is the training one
        from radrl.distributed import is_main, wait_for
        from radrl.training.vllm_rollouts import rollout_model_folder

        view = out / "rollout-model"
        if is_main():
            rollout_model_folder(resolve_model_path(recipe.model.path), processor, out)
        else:
            wait_for(lambda: (view / "config.json").exists(), f"{view} (rank 0 writes it)")
        model.config._name_or_path = str(view)
    dataset = to_trl_dataset(train, recipe.instruction or DEFAULT_INSTRUCTION, with_completion=False)
    if args.capo:
        # the judge's answers, else the ground-truth labels, else the rule labeler
        flags = annotate_criticality(train, judge=judge if recipe.critical.judge else None,
                                     count_uncertain=recipe.critical.count_uncertain)
        dataset = dataset.add_column("critical", flags)
    weigher = None
    if args.token_weighting == "gradient":
        from radrl.training.gradient_weights import GradientTokenWeigher

        weigher = GradientTokenWeigher(labeler, processor, beta=args.saliency_beta)
    trainer = RadRLTrainer(model=model, reward_funcs=rewards.functions, args=args, train_dataset=dataset,
                           processing_class=processor, token_weigher=weigher,
                           callbacks=[MetricsLogCallback(out), *(callbacks or [])])
    trainer.skipped_images = skipped_images
    engine = engine_mismatch(trainer)
    if engine:
        warnings.warn(engine, stacklevel=2)
    return trainer, train


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


def run_rl(recipe: RLRecipe, out_dir: str | Path, resume: bool = False, evaluate: bool = True,
           callbacks: list | None = None) -> dict:
    """Train (resuming from the newest complete checkpoint when ``resume``), save ``OUT/final``,
    evaluate on the recipe's evaluation split. Returns {"model", "metrics", "predictions"}."""
    if not isinstance(recipe, RLRecipe):
        raise TypeError(f"run_rl needs an RLRecipe (radrl.recipe.load_recipe), got {type(recipe).__name__}")
    out = Path(out_dir)
    with run_lock(out):
        return _run_rl(recipe, out, resume, evaluate, callbacks)


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
    try:  # through today's classes: a setting added since, at its default, is not a change
        from radrl.recipe import recipe_from_dict

        before = recipe_from_dict(before).to_dict()
    except (InputError, TypeError, ValueError):
        pass  # written by another radrl: compared as it is
    changed = [k for k in recipe_changes(before, recipe.to_dict())
               if not any(k == s or k.startswith(s + ".") for s in SAFE_RESUME_CHANGES)]
    if changed:
        raise InputError(f"--resume with a different recipe: {', '.join(changed)} differ from {saved}. Resume with "
                         "the run's own recipe (radrl train --recipe " + str(saved) + " --resume), or start a new "
                         "output folder; only " + ", ".join(SAFE_RESUME_CHANGES[:5]) + " and evaluate may change")


def _run_rl(recipe: RLRecipe, out: Path, resume: bool, evaluate: bool, callbacks: list | None) -> dict:
    from radrl.training.checkpoints import latest_checkpoint
    from radrl.training.saving import save_final_model

    checkpoint = latest_checkpoint(out / "checkpoints") if resume else None
    if not resume and (out / "checkpoints").is_dir() and any((out / "checkpoints").glob("checkpoint-*")):
        raise InputError(f"{out} holds checkpoints of an earlier run: pass --resume to continue it "
                         "or choose another output folder")
    if resume:
        check_resume_recipe(out, recipe)
    ensure_subset(recipe)
    atomic_write_json(out / "recipe.json", recipe.to_dict())
    trainer, _ = build_trainer(recipe, out, callbacks)
    if checkpoint:
        print(f"resuming from {checkpoint}")
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)

    final = out / "final"
    save_final_model(trainer, final, recipe.model.save_dtype, "radrl_rl.json",
                     {"recipe": recipe.to_dict(), "log_history": trainer.state.log_history, "zrr_ema": trainer.zrr_ema,
                      "skipped_images": trainer.skipped_images.summary()})
    if trainer.skipped_images.count:  # the end-of-run summary (the warning was at the start)
        print(trainer.skipped_images.message())
    result = {"model": final, "metrics": None, "predictions": None}
    ev = recipe.evaluate
    if evaluate and ev is not None and trainer.accelerator.is_main_process:
        from radrl.evaluation import evaluate_model

        samples = load_split(recipe.data, ev.split, ev.limit)
        labeler = build_labeler(recipe.labeler, device=trainer.args.device)  # the recipe's, as the rewards used
        result["metrics"], result["predictions"] = evaluate_model(final, samples, out / "eval", ev.generation,
                                                                  meteor=ev.meteor, labeler=labeler,
                                                                  model_kwargs=recipe.model.inference_kwargs())
    return result
