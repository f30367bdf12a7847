"""The RL stage of a recipe: data -> policy -> rewards -> ``RadRLTrainer`` -> final model -> evaluation.

``radrl train --recipe deer [--tiny] [--resume] [-o OUT] [rl.learning_rate=1e-5 ...]``

A recipe (``recipes/*.yaml``) has the sections ``model``, ``data``, ``rewards``, ``rl``
(``RadRLConfig`` fields), ``evaluate``, optional ``labeler``, ``instruction``, ``critical``, and a
``tiny`` block merged over the rest by ``--tiny`` (the CPU-sized variant). Output folder:

    OUT/checkpoints/checkpoint-N   resumable (model, optimizer, scheduler, RNG, OraPO EMA)
    OUT/final                      the trained policy (written atomically)
    OUT/metrics.jsonl|csv          every logged step; OUT/rl_curves.png; TensorBoard in OUT/checkpoints/runs
    OUT/eval/                      predictions.jsonl, metrics.json on the evaluation split
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml

from radrl.assets import REPO_ROOT, tiny_sft_checkpoint
from radrl.io import atomic_write_json, read_yaml

RECIPES_DIR = REPO_ROOT / "recipes"
SECTIONS = {"description", "model", "data", "rewards", "rl", "evaluate", "labeler", "instruction", "critical",
            "select", "judge", "tiny"}


def merge_recipe(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_recipe(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_override(recipe: dict, override: str) -> dict:
    """``a.b.c=value`` (value parsed as YAML: numbers, booleans, lists) set in a copy of ``recipe``."""
    if "=" not in override:
        raise ValueError(f"override {override!r} must look like section.key=value")
    path, raw = override.split("=", 1)
    value = yaml.safe_load(raw)
    if isinstance(value, str):  # YAML 1.1 reads 3e-4 as a string
        try:
            value = float(value)
        except ValueError:
            pass
    keys = path.strip().split(".")
    out = copy.deepcopy(recipe)
    node = out
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"override {override!r}: {key!r} is not a section")
    node[keys[-1]] = value
    return out


def resolve_recipe_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"recipe {path} does not exist")
        return path
    candidate = RECIPES_DIR / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")) if RECIPES_DIR.is_dir() else []
        raise FileNotFoundError(f"no recipe named {name_or_path!r}; known: {', '.join(known) or 'none'}")
    return candidate


def load_recipe(name_or_path: str, tiny: bool = False, overrides: list[str] | None = None) -> dict:
    """Read a recipe, merge its ``tiny`` block when ``tiny``, then apply ``key=value`` overrides."""
    path = resolve_recipe_path(name_or_path)
    recipe = read_yaml(path)
    unknown = set(recipe) - SECTIONS
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)}; expected {sorted(SECTIONS)}")
    tiny_block = recipe.pop("tiny", None) or {}
    if tiny:
        recipe = merge_recipe(recipe, tiny_block)
    for override in overrides or []:
        recipe = apply_override(recipe, override)
    recipe["_source"] = str(path)
    return recipe


def resolve_model_path(path: str) -> str:
    """``tiny-sft`` names the committed tiny SFT checkpoint; anything else is a hub id or folder."""
    return str(tiny_sft_checkpoint()) if path == "tiny-sft" else str(path)


def load_split(data: dict, split: str, limit: int | None = None):
    """Samples of one split of the recipe's ``data``; builds the synthetic benchmark when missing."""
    from radrl.data.registry import load_dataset

    kind, path = data.get("kind", "synthetic"), data.get("path")
    if not path:
        raise ValueError("recipe data.path is missing")
    if kind == "synthetic" and ("synthetic" in data or not (Path(path) / "config.json").is_file()):
        # build (or reuse, when the config matches) the benchmark the recipe describes; a folder
        # given without a `synthetic:` block is read as it is
        from radrl.data.synthetic import SyntheticConfig, build_synthetic

        path = build_synthetic(path, SyntheticConfig(**data.get("synthetic", {})))
    options = dict(data.get("options", {}))
    return load_dataset(kind, path, split=split, limit=limit, **options)


def rl_config(section: dict[str, Any], out: Path):
    """``RadRLConfig`` from the recipe's ``rl`` section with radrl's defaults for the rest."""
    from radrl.training.rl_trainer import RadRLConfig

    cfg = dict(section)
    cuda = torch.cuda.is_available()
    defaults = dict(
        output_dir=str(out / "checkpoints"), report_to=["tensorboard"],  # TensorBoard: OUT/checkpoints/runs
        logging_steps=1, save_strategy="steps", save_steps=50, save_total_limit=3,
        gradient_checkpointing=False, bf16=cuda and torch.cuda.is_bf16_supported(),
        dataloader_pin_memory=cuda, disable_tqdm=False, seed=0,
    )
    for key, value in defaults.items():
        cfg.setdefault(key, value)
    if "reward_schedules" in cfg:
        raise ValueError("reward schedules belong to each reward (rewards[i].schedule), not to rl:")
    try:
        return RadRLConfig(**cfg)
    except TypeError as err:
        raise ValueError(f"recipe rl section: {err}") from None


def build_labeler(spec: str | dict, device=None, train_reports=None):
    """The recipe's ``labeler``: a name (``rule``) or ``{name: chexbert, weights: PATH, vocab: PATH}``.
    With ``train: {size: tiny, epochs: 30, ...}`` a chexbert labeler missing at ``weights`` is first
    trained there on ``train_reports`` (``radrl labeler train``). A model-backed labeler runs on
    the trainer's device."""
    from radrl.labelers import get_labeler

    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"recipe labeler must be a name or a mapping with 'name', got {spec!r}")
    train = spec.get("train")
    weights = spec.get("weights")
    if spec["name"] == "chexbert" and train is not None and weights and not Path(weights).exists():
        from radrl.labelers.chexbert_training import LabelerTrainSettings, train_labeler

        if not train_reports:
            raise ValueError("labeler.train needs the training reports")
        print(f"training the CheXbert-architecture labeler {weights} on {len(train_reports)} reports")
        card = train_labeler(train_reports, weights, LabelerTrainSettings(**train), progress=False)
        print(f"labeler agreement with the rule labeler (held-out): macro F1 {card['agreement']['macro_f1']:.3f}")
    options = {k: v for k, v in spec.items() if k not in ("name", "weights", "train")}
    if spec["name"] != "rule" and device is not None:
        options.setdefault("device", str(device))
    return get_labeler(spec["name"], spec.get("weights"), **options)


def apply_subset(recipe: dict, train: list) -> list:
    """The training samples listed in ``data.subset``; with a ``select:`` section the subset file
    is first written by ``radrl.selection.select_subset`` when it is missing."""
    from radrl.selection import read_subset, select_subset

    path = Path(recipe["data"]["subset"])
    select = recipe.get("select")
    if not path.is_file() and select:
        select = dict(select)
        method = select.pop("method", "ddsampling")
        model = select.pop("model", recipe.get("model", {}).get("path", "tiny-sft"))
        print(f"selecting the training subset ({method}) -> {path}")
        result = select_subset(method, train, path, model=resolve_model_path(model), **select)
        print(f"kept {len(result['ids'])} of {result['n_source']} training samples")
    ids = read_subset(path)
    kept = [s for s in train if str(s.id) in ids]
    if not kept:
        raise ValueError(f"{path}: none of its ids is in the training split; was it made for this dataset?")
    return kept


def build_trainer(recipe: dict, out: Path, callbacks: list | None = None):
    """Everything ``run_rl`` trains with, without training: (trainer, train samples)."""
    from radrl.judges import build_judge
    from radrl.models import load_policy
    from radrl.models.policy import LoraSettings
    from radrl.models.prompts import DEFAULT_INSTRUCTION
    from radrl.rewards import build_rewards
    from radrl.training.criticality import annotate_criticality
    from radrl.training.datasets import to_trl_dataset
    from radrl.training.diagnostics import MetricsLogCallback
    from radrl.training.rl_trainer import RadRLTrainer

    model_section = recipe.get("model", {})
    data = recipe.get("data", {})
    train = load_split(data, data.get("split", "train"), data.get("limit"))
    rl = dict(recipe.get("rl", {}))
    args = rl_config(rl, out)
    if data.get("subset"):
        with args.main_process_first(desc="subset"):
            train = apply_subset(recipe, train)
    with args.main_process_first(desc="labeler"):  # one process trains a missing labeler, the others load it
        labeler = build_labeler(recipe.get("labeler", "rule"), device=args.device,
                                train_reports=[s.report for s in train])
    judge = build_judge(recipe.get("judge"))
    rewards = build_rewards(recipe.get("rewards", []), labeler, judge)
    args.reward_weights = rewards.weights
    args.reward_schedules = rewards.schedules if any(rewards.schedules) else None
    lora = model_section.get("lora")
    model, processor = load_policy(resolve_model_path(model_section.get("path", "tiny-sft")),
                                   freeze=model_section.get("freeze", "none"),
                                   lora=LoraSettings(**lora) if isinstance(lora, dict) else None,
                                   trust_remote_code=bool(model_section.get("trust_remote_code", False)))
    dataset = to_trl_dataset(train, recipe.get("instruction") or DEFAULT_INSTRUCTION, with_completion=False)
    if args.capo:
        critical = dict(recipe.get("critical", {}))
        use_judge = critical.pop("judge", False)
        if use_judge and judge is None:
            raise ValueError("critical.judge: true needs the recipe's judge: section")
        # the judge's answers, else the ground-truth labels, else the rule labeler
        flags = annotate_criticality(train, judge=judge if use_judge else None, **critical)
        dataset = dataset.add_column("critical", flags)
    weigher = None
    if args.token_weighting == "gradient":
        from radrl.training.gradient_weights import GradientTokenWeigher

        weigher = GradientTokenWeigher(labeler, processor, beta=args.saliency_beta)
    trainer = RadRLTrainer(model=model, reward_funcs=rewards.functions, args=args, train_dataset=dataset,
                           processing_class=processor, token_weigher=weigher,
                           callbacks=[MetricsLogCallback(out), *(callbacks or [])])
    return trainer, train


def run_rl(recipe: dict, out_dir: str | Path, resume: bool = False, evaluate: bool = True,
           callbacks: list | None = None) -> dict:
    """Train (resuming from the newest complete checkpoint when ``resume``), save ``OUT/final``,
    evaluate on the recipe's evaluation split. Returns {"model", "metrics", "predictions"}."""
    from radrl.training.sft import latest_checkpoint

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = latest_checkpoint(out / "checkpoints") if resume else None
    if not resume and (out / "checkpoints").is_dir() and any((out / "checkpoints").glob("checkpoint-*")):
        raise FileExistsError(f"{out} holds checkpoints of an earlier run: pass --resume to continue it "
                              "or choose another output folder")
    atomic_write_json(out / "recipe.json", recipe)
    trainer, _ = build_trainer(recipe, out, callbacks)
    if checkpoint:
        print(f"resuming from {checkpoint}")
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)

    final, tmp = out / "final", out / "final.tmp"
    if trainer.accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        model = trainer.accelerator.unwrap_model(trainer.model)
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
        model.save_pretrained(tmp, safe_serialization=True)
        trainer.processing_class.save_pretrained(tmp)
        (tmp / "radrl_rl.json").write_text(json.dumps(
            {"recipe": recipe, "log_history": trainer.state.log_history, "zrr_ema": trainer.zrr_ema},
            indent=1, default=str))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    trainer.accelerator.wait_for_everyone()
    result = {"model": final, "metrics": None, "predictions": None}
    ev = recipe.get("evaluate")
    if evaluate and ev and trainer.accelerator.is_main_process:
        from radrl.pipeline import evaluate_model

        samples = load_split(recipe.get("data", {}), ev.get("split", "test"), ev.get("limit"))
        result["metrics"], result["predictions"] = evaluate_model(final, samples, out / "eval", ev.get("generation"),
                                                                  meteor=ev.get("meteor", True))
    return result
