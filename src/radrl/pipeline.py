"""The SFT pipeline of a recipe: synthetic benchmark → tiny VLM → SFT → generate → evaluate.

``radrl pipeline tiny_sft -o RUN`` runs it (a :class:`PipelineRecipe`, ``stage: sft_pipeline``);
every stage reuses what an earlier, interrupted run left in ``RUN`` (the benchmark when its
config matches, the initial model, the newest SFT checkpoint), so running the command again
continues where it stopped.
"""

from __future__ import annotations

from pathlib import Path

from radrl.io import atomic_write_json
from radrl.recipe import PipelineRecipe


def run_pipeline(recipe: PipelineRecipe, run_dir: str | Path, meteor: bool = True) -> dict:
    """Run the recipe's stages under ``run_dir``; returns {"data", "model", "metrics", "predictions"}."""
    from radrl.data.synthetic import build_synthetic, load_synthetic
    from radrl.evaluation import evaluate_model
    from radrl.models.tiny import build_tiny_vlm
    from radrl.training.sft import run_sft

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    data = build_synthetic(run / "data", recipe.synthetic)
    train = load_synthetic(data, "train")
    init = run / "tiny-init"
    if not (init / "model.safetensors").is_file():
        build_tiny_vlm(init, [s.report for s in train], recipe.tiny_model)
    final = run_sft(str(init), train, run / "sft", recipe.sft)
    test = load_synthetic(data, recipe.evaluate.split)
    metrics, preds = evaluate_model(final, test, run / "eval", recipe.evaluate.generation, meteor=meteor)
    atomic_write_json(run / "recipe.json", recipe.to_dict())
    return {"data": data, "model": final, "metrics": metrics, "predictions": preds}
