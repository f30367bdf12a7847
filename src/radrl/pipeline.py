"""The SFT pipeline of a recipe: synthetic benchmark → tiny VLM (→ vision pretraining) → SFT →
generate → evaluate.

``radrl pipeline tiny_sft -o RUN`` runs it (a :class:`PipelineRecipe`, ``stage: sft_pipeline``);
every stage reuses what an earlier, interrupted run left in ``RUN`` when it was made with the same
settings (the benchmark when its config matches, the initial model by its recorded fingerprint,
the last finished pretraining epoch, the newest SFT checkpoint), so running the command again
continues where it stopped; a part made with other settings is refused, not reused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from radrl.config.fields import to_plain
from radrl.io import ConfigError, atomic_write_json, output_record, output_state, write_output_record
from radrl.recipe import PipelineRecipe


def run_pipeline(recipe: PipelineRecipe, run_dir: str | Path, meteor: bool = True) -> dict:
    """Run the recipe's stages under ``run_dir``; returns {"data", "model", "metrics", "predictions"}.
    METEOR is computed when both ``meteor`` (the command line) and the recipe's ``evaluate.meteor`` ask for it."""
    from radrl.data.synthetic import build_synthetic, load_synthetic
    from radrl.evaluation import evaluate_model
    from radrl.models.tiny import build_tiny_vlm
    from radrl.training.sft import run_sft

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    data = build_synthetic(run / "data", recipe.synthetic)
    train = load_synthetic(data, "train")
    init = run / "tiny-init"
    if recipe.vision_pretrain is not None and recipe.vision_tower:
        raise ConfigError("vision_pretrain and vision_tower both give the tiny VLM a vision tower: keep one")
    reports = [s.report for s in train]
    fingerprint = {"tiny_model": to_plain(recipe.tiny_model), "vision_tower": recipe.vision_tower,
                   "reports": hashlib.sha256("\n".join(reports).encode()).hexdigest()}
    state = output_state(init, fingerprint)
    if state == "stale":  # the SFT checkpoints in RUN/sft grew from that model: never swap it under them
        raise ConfigError(f"{init} was built with other tiny_model settings or reports ({output_record(init)}); "
                          "use another run folder, or delete the run's tiny-init and sft to start again")
    if state == "missing":
        build_tiny_vlm(init, reports, recipe.tiny_model)
    if recipe.vision_tower:  # idempotent: a run interrupted after building init gets it too
        from radrl.assets import resolve_model_path
        from radrl.models.vision_pretrain import transplant_vision_tower

        transplant_vision_tower(resolve_model_path(recipe.vision_tower), init)
    if state == "missing":
        write_output_record(init, "tiny-init", fingerprint)
    start = init if recipe.vision_pretrain is None else pretrained_vision(recipe, init, run)
    final = run_sft(str(start), train, run / "sft", recipe.sft)
    if (start / "vision_pretrain.json").is_file():  # the checkpoint carries how its tower was made
        shutil.copy2(start / "vision_pretrain.json", final / "vision_pretrain.json")
    test = load_synthetic(data, recipe.evaluate.split)
    metrics, preds = evaluate_model(final, test, run / "eval", recipe.evaluate.generation,
                                    meteor=meteor and recipe.evaluate.meteor)
    atomic_write_json(run / "recipe.json", recipe.to_dict())
    return {"data": data, "model": final, "metrics": metrics, "predictions": preds}


def pretrained_vision(recipe: PipelineRecipe, init: Path, run: Path) -> Path:
    """``run/tiny-vision``: ``init`` with its vision tower pretrained on films drawn with the
    section's ``data_seed`` (``run/vision-data``); reused when a finished one is there."""
    from dataclasses import asdict, replace

    from radrl.data.synthetic import build_synthetic, load_synthetic
    from radrl.models.vision_pretrain import pretrain_vision_tower

    section = recipe.vision_pretrain
    out = run / "tiny-vision"
    if section.data_seed == recipe.synthetic.seed:
        raise ConfigError(f"vision_pretrain.data_seed = synthetic.seed = {section.data_seed}: the pretraining films "
                          "would be the benchmark's own train, val and test studies; choose another data_seed")
    card_file = out / "vision_pretrain.json"
    if card_file.is_file():
        if json.loads(card_file.read_text())["settings"] != asdict(section):
            raise ConfigError(f"{out} holds a tower pretrained with other vision_pretrain settings ({card_file}); "
                              "use another run folder, or delete it to pretrain again")
        return out
    films = build_synthetic(run / "vision-data", replace(recipe.synthetic, n_train=section.n_images,
                                                          n_val=section.n_val, n_test=0, seed=section.data_seed))
    val = load_synthetic(films, "val") if section.n_val else None
    pretrain_vision_tower(init, load_synthetic(films, "train"), out, section, val_samples=val)
    return out
