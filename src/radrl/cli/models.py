"""``radrl`` tiny-model, sft, generate, pipeline and labeler train: models and their training."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from radrl.cli.common import (
    _data_arg,
    _data_option_arg,
    _data_options,
    _dataset,
    _load_split,
    _model_path,
    _overrides,
    _report_text,
)
from radrl.cli_options import add_dataclass_options, settings_from_args
from radrl.config.fields import to_plain
from radrl.io import (
    InputError,
    atomic_write_jsonl,
    check_output_path,
    read_records,
)
from radrl.reporting import format_metrics


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from radrl.data.registry import load_dataset
    from radrl.models.tiny import build_tiny_vlm
    from radrl.recipe import TinyVLMConfig

    cfg = settings_from_args(TinyVLMConfig, args)
    kind, path = _data_arg(args.corpus)
    texts = [s.report for s in load_dataset(kind, path, split="train")]
    out = build_tiny_vlm(args.output, texts, cfg)
    print(f"tiny Qwen2.5-VL (tokenizer trained on {len(texts)} reports) -> {out}")
    return 0


def cmd_sft(args: argparse.Namespace) -> int:
    from radrl.recipe import SFTSettings, load_recipe
    from radrl.training.sft import run_sft

    base = {}
    if args.config:
        recipe = load_recipe(args.config)
        if not hasattr(recipe, "sft"):
            raise InputError(f"{args.config}: a {recipe.stage} recipe has no sft: section")
        base = to_plain(recipe.sft)
    settings = settings_from_args(SFTSettings, args, base, section="sft")  # checked before loading data
    train = _load_split(args)
    final = run_sft(_model_path(args.model), train, args.output, settings, resume=not args.no_resume,
                    trust_remote_code=args.trust_remote_code)
    print(f"SFT model -> {final}")
    return 0



def cmd_generate(args: argparse.Namespace) -> int:
    from radrl.data.images import SkippedImages
    from radrl.generation import generate_reports
    from radrl.models.policy import load_policy_for_inference
    from radrl.recipe import GenerationSettings

    settings = settings_from_args(GenerationSettings, args, section="generation")
    settings.generate_kwargs()  # mode and counts agree, before the model loads
    check_output_path(args.output)
    samples = _load_split(args)
    model, processor = load_policy_for_inference(_model_path(args.model), trust_remote_code=args.trust_remote_code)
    skipped = SkippedImages(str(args.data))
    t0 = time.perf_counter()
    outputs = generate_reports(model, processor, samples, settings, skipped=skipped)
    seconds = time.perf_counter() - t0
    rows = []
    for s, outs in zip(samples, outputs):
        if outs is None:  # its image could not be opened: counted in `skipped`
            continue
        row = {"id": s.id, "prediction": outs[0], "reference": s.report}
        if len(outs) > 1:
            row["predictions"] = outs
        rows.append(row)
    atomic_write_jsonl(args.output, rows)
    skipped.warn()
    print(f"{len(rows)} reports in {seconds:.1f} s ({len(rows) / seconds:.2f} reports/s, {settings.mode}) "
          f"-> {args.output}" + (f"; {skipped.count} sample(s) skipped for unreadable images" if skipped.count
                                 else ""), file=sys.stderr)
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from radrl.pipeline import run_pipeline
    from radrl.recipe import PipelineRecipe, load_recipe

    recipe = load_recipe(args.recipe, overrides=args.overrides)
    if not isinstance(recipe, PipelineRecipe):
        raise InputError(f"{args.recipe}: `radrl pipeline` runs a stage: sft_pipeline recipe (e.g. tiny_sft), "
                         f"not a stage: {recipe.stage} one")
    if recipe.stage != "sft_pipeline":
        recipe = recipe.pipeline()
    result = run_pipeline(recipe, args.output, meteor=not args.no_meteor)
    print(format_metrics(result["metrics"]))
    print(f"model -> {result['model']}; metrics -> {Path(args.output) / 'eval' / 'metrics.json'}")
    return 0


def _report_corpus(args: argparse.Namespace, spec: str, split: str | None) -> list[str]:
    """Report texts of ``KIND:PATH`` (``records`` files need no images)."""
    kind, path = _data_arg(spec)
    if kind == "records" and not getattr(args, "data_option", None):
        return [_report_text(row, f"{path}, line {n}") for n, row in read_records(path)]
    defaults = {} if kind == "synthetic" else {"check_images": "none"}
    return [s.report for s in _dataset(argparse.Namespace(data=spec, data_option=getattr(args, "data_option", None)),
                                       split, **defaults)]


def cmd_labeler_train(args: argparse.Namespace) -> int:
    from radrl.metrics.agreement import format_agreement
    from radrl.recipe import LabelerTrainSettings

    settings = settings_from_args(LabelerTrainSettings, args)
    from radrl.training.labeler import train_labeler

    reports = _report_corpus(args, args.data, args.split or None)
    card = train_labeler(reports, args.output, settings, resume=args.resume)
    print(format_agreement(card["agreement"]))
    print(f"{card['parameters']:,} parameters, {card['n_train_reports']} training / {card['n_heldout_reports']} "
          f"held-out reports, {card['train_seconds']:.0f} s -> {Path(args.output) / 'labeler'} "
          f"(use --labeler chexbert --weights {args.output})")
    return 0

def add_parsers(sub) -> None:
    from radrl.recipe import GenerationSettings, LabelerTrainSettings, SFTSettings, TinyVLMConfig

    sp = sub.add_parser("tiny-model", help="build the tiny offline Qwen2.5-VL (tokenizer trained on a corpus)")
    sp.add_argument("output", help="model folder")
    sp.add_argument("--corpus", required=True, help="KIND:PATH of the reports to train the tokenizer on")
    add_dataclass_options(sp, TinyVLMConfig)
    sp.set_defaults(func="cmd_tiny_model")

    sp = sub.add_parser("sft", help="supervised fine-tuning (TRL SFTTrainer), resumable")
    sp.add_argument("--model", required=True, help="hub id, local folder of an image-text-to-text model, or tiny-sft")
    sp.add_argument("-o", "--output", required=True, help="run folder: checkpoints/ and final/")
    _data_options(sp, "train")
    sp.add_argument("--config", help="a recipe (name or YAML) whose sft: section is the base; options go over it")
    sp.add_argument("--trust-remote-code", action="store_true", help="run the checkpoint's own code (off by default)")
    sp.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    add_dataclass_options(sp, SFTSettings, exclude=("extra", "instruction"))
    sp.set_defaults(func="cmd_sft")

    sp = sub.add_parser("generate", help="write reports for a dataset split (radrl eval format)")
    sp.add_argument("model", help="model folder, hub id or tiny-sft")
    sp.add_argument("-o", "--output", required=True, help="predictions .jsonl: id, prediction, reference")
    _data_options(sp, "test")
    sp.add_argument("--trust-remote-code", action="store_true", help="run the checkpoint's own code (off by default)")
    add_dataclass_options(sp, GenerationSettings)
    sp.set_defaults(func="cmd_generate")

    sp = sub.add_parser("pipeline", help="synthetic benchmark -> tiny VLM -> SFT -> generate -> eval, from a recipe")
    sp.add_argument("recipe", help="a stage: sft_pipeline recipe, by name (tiny_sft) or YAML path")
    sp.add_argument("-o", "--output", required=True, help="run folder (re-running resumes)")
    sp.add_argument("--no-meteor", action="store_true")
    _overrides(sp)
    sp.set_defaults(func="cmd_pipeline")

    sp = sub.add_parser("labeler", help="CheXbert-architecture labeler: train one on silver labels")
    lsub = sp.add_subparsers(dest="labeler_command", required=True)
    lp = lsub.add_parser("train", help="train on any report corpus with the rule labeler's labels; saves safetensors")
    lp.add_argument("--data", required=True, help="KIND:PATH, e.g. synthetic:runs/synthetic, r2gen:annotation.json, "
                    "records:reports.jsonl")
    lp.add_argument("--split", default="train", help="split of KIND:PATH to read ('' for all); default train")
    _data_option_arg(lp)
    lp.add_argument("-o", "--output", required=True, help="run folder: OUT/labeler, OUT/agreement.json")
    lp.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT/checkpoints")
    add_dataclass_options(lp, LabelerTrainSettings)
    lp.set_defaults(func="cmd_labeler_train")
