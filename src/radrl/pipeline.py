"""The SFT pipeline of a recipe: synthetic benchmark → tiny VLM (→ vision pretraining) → SFT →
generate → evaluate.

``radrl pipeline tiny_sft -o RUN`` runs it (a :class:`PipelineRecipe`, ``stage: sft_pipeline``)
as the stages of :mod:`radrl.stages.sft`, under the protocol every command shares: the plan is
printed first, and each part an earlier, interrupted run left in ``RUN`` is reused when its
recorded fingerprint matches the recipe (the benchmark by its config, the initial model and the
pretrained tower by their records, the newest SFT checkpoint), so running the command again
continues where it stopped; a part made with other settings is refused, not reused.
"""

from __future__ import annotations

from pathlib import Path

from radrl.io import atomic_write_json
from radrl.recipe import PipelineRecipe
from radrl.stages.base import StageContext, run_stages
from radrl.stages.sft import SFT_STAGES, check_pipeline


def run_pipeline(recipe: PipelineRecipe, run_dir: str | Path, meteor: bool = True) -> dict:
    """Run the recipe's stages under ``run_dir``; returns {"data", "model", "metrics", "predictions"}.
    METEOR is computed when both ``meteor`` (the command line) and the recipe's ``evaluate.meteor`` ask for it."""
    check_pipeline(recipe)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    ctx = StageContext(recipe, run, values={"meteor": meteor})
    run_stages(SFT_STAGES, ctx, "radrl pipeline")
    atomic_write_json(run / "recipe.json", recipe.to_dict())
    return {"data": run / "data", "model": ctx.values["model"], "metrics": ctx.values["metrics"],
            "predictions": ctx.values["predictions"]}
