"""``radrl pipeline``'s stages (an SFT recipe, ``stage: sft_pipeline``), in order: benchmark,
tiny-init, lm-pretrain, vision-pretrain, sft, evaluate; the demo runs the same ones. Benchmark,
tiny-init and vision-pretrain prepare files under the protocol of :mod:`radrl.stages.base`
(reused by their recorded fingerprint, an output of other settings refused); lm-pretrain, sft and
evaluate always run (the SFT trainer resumes from its newest checkpoint, or returns a finished
``final`` of the same model, data and settings as it is).

    RUN/data            the synthetic benchmark (``synthetic:``)
    RUN/tiny-init       the fresh tiny VLM (``tiny_model:``, tokenizer from the training reports)
    RUN/lm-pretrain     (``lm_pretrain:``) text-only SFT of its language model on the training reports
    RUN/vision-data     films of ``vision_pretrain.data_seed``; RUN/tiny-vision its pretrained tower
    RUN/sft/final       the SFT model; RUN/eval its predictions and metrics

Each model stage starts from the one before it that the recipe has: tiny-init, then the
text-pretrained model, then the pretrained tower.
"""

from __future__ import annotations

import hashlib
import os
import shutil

from radrl.config.fields import to_plain
from radrl.io import ConfigError
from radrl.stages.base import Stage, StageContext
from radrl.stages.rl import BenchmarkStage


def _train_samples(ctx: StageContext) -> list:
    if "train" not in ctx.values:
        from radrl.data.synthetic import load_synthetic

        ctx.values["train"] = load_synthetic(ctx.out / "data", "train")
    return ctx.values["train"]


class PipelineBenchmarkStage(BenchmarkStage):
    """The recipe's ``synthetic:`` benchmark in ``RUN/data``."""

    def applies(self, ctx):
        return True

    def where(self, ctx):
        return ctx.out / "data", ctx.recipe.synthetic


class TinyInitStage(Stage):
    """A fresh tiny VLM (with ``vision_tower``'s tower when the recipe names one), built whole in a
    scratch folder and moved into place, so an interrupted build leaves nothing to reuse."""

    name = "tiny-init"

    def applies(self, ctx):
        return True

    def output(self, ctx):
        return ctx.out / "tiny-init"

    def fingerprint(self, ctx):
        reports = "\n".join(s.report for s in _train_samples(ctx))
        return {"tiny_model": to_plain(ctx.recipe.tiny_model), "vision_tower": ctx.recipe.vision_tower,
                "reports": hashlib.sha256(reports.encode()).hexdigest()}

    def refusal(self, ctx):  # the SFT checkpoints in RUN/sft grew from that model: never swap it under them
        return ConfigError(f"{self.output(ctx)} was built with other tiny_model settings or reports; use another "
                           "run folder, or delete the run's tiny-init (and its .stage.json) and sft to start again")

    def run(self, ctx):
        from radrl.models.tiny import build_tiny_vlm

        out = self.output(ctx)
        scratch = out.with_name(out.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        build_tiny_vlm(scratch, [s.report for s in _train_samples(ctx)], ctx.recipe.tiny_model)
        if ctx.recipe.vision_tower:
            from radrl.assets import resolve_model_path
            from radrl.models.vision_pretrain import transplant_vision_tower

            transplant_vision_tower(resolve_model_path(ctx.recipe.vision_tower), scratch)
        os.replace(scratch, out)


def _latest_model(ctx: StageContext, before: str):
    """The model the stage ``before`` starts from: the last output of the model stages ahead of it
    that the recipe has (tiny-init, lm-pretrain, vision-pretrain, in that order)."""
    recipe, folder = ctx.recipe, ctx.out / "tiny-init"
    for name, present, output in (("lm-pretrain", recipe.lm_pretrain is not None, ctx.out / "lm-pretrain" / "final"),
                                  ("vision-pretrain", recipe.vision_pretrain is not None, ctx.out / "tiny-vision")):
        if name == before:
            break
        folder = output if present else folder
    return folder


class LMPretrainStage(Stage):
    """The language model trained on the training reports alone (their images dropped: TRL trains
    text-only SFT, the vision tower gets no gradient), so that an SFT with the language model
    frozen (DEER's) starts from one that writes reports."""

    name, prepares = "lm-pretrain", False

    def applies(self, ctx):
        return ctx.recipe.lm_pretrain is not None

    def output(self, ctx):
        return ctx.out / "lm-pretrain" / "final"

    def run(self, ctx):
        from dataclasses import replace

        from radrl.training.sft import run_sft

        text_only = [replace(s, images=[]) for s in _train_samples(ctx)]
        run_sft(str(_latest_model(ctx, self.name)), text_only, ctx.out / "lm-pretrain", ctx.recipe.lm_pretrain)


class VisionPretrainStage(Stage):
    """The tiny VLM's vision tower pretrained on films drawn with ``vision_pretrain.data_seed``
    (``RUN/vision-data``) into ``RUN/tiny-vision``; its card, written last, is the output."""

    name = "vision-pretrain"

    def applies(self, ctx):
        return ctx.recipe.vision_pretrain is not None

    def output(self, ctx):
        return ctx.out / "tiny-vision" / "vision_pretrain.json"

    def fingerprint(self, ctx):
        from dataclasses import asdict

        return {"vision_pretrain": asdict(ctx.recipe.vision_pretrain), "init": TinyInitStage().fingerprint(ctx),
                **({"lm_pretrain": to_plain(ctx.recipe.lm_pretrain)} if ctx.recipe.lm_pretrain is not None else {})}

    def refusal(self, ctx):
        return ConfigError(f"{self.output(ctx).parent} holds a tower pretrained with other vision_pretrain settings "
                           f"({self.output(ctx)}); use another run folder, or delete it to pretrain again")

    def run(self, ctx):
        from dataclasses import replace

        from radrl.data.synthetic import build_synthetic, load_synthetic
        from radrl.models.vision_pretrain import pretrain_vision_tower

        recipe, section = ctx.recipe, ctx.recipe.vision_pretrain
        films = build_synthetic(ctx.out / "vision-data", replace(recipe.synthetic, n_train=section.n_images,
                                                                 n_val=section.n_val, n_test=0, seed=section.data_seed))
        val = load_synthetic(films, "val") if section.n_val else None
        pretrain_vision_tower(_latest_model(ctx, self.name), load_synthetic(films, "train"), self.output(ctx).parent,
                              section, val_samples=val)


class SFTStage(Stage):
    """SFT from the initial (or vision-pretrained) model into ``RUN/sft/final``; the pretraining
    card goes with the checkpoint."""

    name, prepares = "sft", False

    def applies(self, ctx):
        return True

    def output(self, ctx):
        return ctx.out / "sft" / "final"

    def run(self, ctx):
        from radrl.training.sft import run_sft

        start = _latest_model(ctx, self.name)
        final = run_sft(str(start), _train_samples(ctx), ctx.out / "sft", ctx.recipe.sft)
        if (start / "vision_pretrain.json").is_file():  # the checkpoint carries how its tower was made
            shutil.copy2(start / "vision_pretrain.json", final / "vision_pretrain.json")
        ctx.values["model"] = final


class SFTEvaluateStage(Stage):
    """The SFT model's reports for the recipe's ``evaluate.split``, scored, in ``RUN/eval``."""

    name, prepares = "evaluate", False

    def applies(self, ctx):
        return True

    def output(self, ctx):
        return ctx.out / "eval"

    def run(self, ctx):
        from radrl.data.synthetic import load_synthetic
        from radrl.evaluation import evaluate_model

        recipe = ctx.recipe
        test = load_synthetic(ctx.out / "data", recipe.evaluate.split)
        ctx.values["metrics"], ctx.values["predictions"] = evaluate_model(
            ctx.values["model"], test, self.output(ctx), recipe.evaluate.generation,
            meteor=ctx.values.get("meteor", True) and recipe.evaluate.meteor)


SFT_STAGES: tuple[Stage, ...] = (PipelineBenchmarkStage(), TinyInitStage(), LMPretrainStage(), VisionPretrainStage(),
                                 SFTStage(), SFTEvaluateStage())


def check_pipeline(recipe) -> None:
    """What the sections say together, refused before anything is built."""
    if recipe.vision_pretrain is not None and recipe.vision_tower:
        raise ConfigError("vision_pretrain and vision_tower both give the tiny VLM a vision tower: keep one")
    if recipe.lm_pretrain is not None and recipe.lm_pretrain.freeze in ("lm", "all"):
        raise ConfigError(f"lm_pretrain.freeze = {recipe.lm_pretrain.freeze}: the text-only stage trains the language "
                          "model; use vision (or none: the tower gets no gradient from text)")
    if recipe.vision_pretrain is not None and recipe.vision_pretrain.data_seed == recipe.synthetic.seed:
        raise ConfigError(f"vision_pretrain.data_seed = synthetic.seed = {recipe.synthetic.seed}: the pretraining "
                          "films would be the benchmark's own train, val and test studies; choose another data_seed")


__all__ = ["SFT_STAGES", "PipelineBenchmarkStage", "check_pipeline"]
