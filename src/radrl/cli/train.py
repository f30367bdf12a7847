"""``radrl`` train, plan and demo: RL runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from radrl.cli.common import (
    _overrides,
)
from radrl.cli_options import add_command_options
from radrl.config.commands import PlanOptions
from radrl.io import (
    InputError,
)
from radrl.reporting import format_metrics


def cmd_train(args: argparse.Namespace) -> int:
    from radrl.recipe import RLRecipe, load_recipe

    overrides = [*args.overrides, *(["data.allow_partial_subset=true"] if args.allow_partial else [])]
    recipe = load_recipe(args.recipe, tiny=args.tiny, overrides=overrides)  # checked: nothing heavy yet
    if not isinstance(recipe, RLRecipe):
        raise InputError(f"{args.recipe}: `radrl train` runs an RL recipe; this one is stage: {recipe.stage} "
                         f"(run it with `radrl {'demo --recipe' if recipe.stage == 'demo' else 'pipeline'}`)")
    from radrl.stages import run_rl

    out = args.output or f"runs/{Path(recipe.resolved_from['recipe']).stem}{'-tiny' if args.tiny else ''}"
    result = run_rl(recipe, out, resume=args.resume, evaluate=not args.no_eval, only=args.only)
    if args.only:
        return 0
    print(f"RL model -> {result['model']}")
    if result["metrics"]:
        print(format_metrics(result["metrics"]))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    import json

    from radrl.planning import format_plan, plan_recipe
    from radrl.recipe import RLRecipe, load_recipe

    recipe = load_recipe(args.recipe, tiny=args.tiny, overrides=args.overrides)
    if not isinstance(recipe, RLRecipe):
        raise InputError(f"{args.recipe}: radrl plan sizes RL recipes; this one is stage: {recipe.stage}")
    width, sep, height = args.image_size.partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise InputError(f"--image-size must be WIDTHxHEIGHT in pixels, e.g. 3056x2544; got {args.image_size!r}")
    plan = plan_recipe(recipe, gpus=args.gpus, gpu_memory_gb=args.gpu_memory, image_size=(int(width), int(height)),
                       images_per_sample=args.images, architecture=args.architecture)
    print(json.dumps(plan.to_dict(), indent=2) if args.json else format_plan(plan))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from radrl.recipe import DemoRecipe, load_recipe

    recipe = load_recipe(args.recipe, overrides=args.overrides)
    if not isinstance(recipe, DemoRecipe):
        raise InputError(f"{args.recipe}: `radrl demo` runs a stage: demo recipe, not a stage: {recipe.stage} one")
    from radrl.demo import run_demo

    return run_demo(args.output, recipe, meteor=not args.no_meteor, skip_checkpoint=args.skip_checkpoint)

def add_parsers(sub) -> None:

    sp = sub.add_parser("train", help="RL (GRPO / DiTPO / CAPO / OraPO) from a recipe, resumable")
    sp.add_argument("--recipe", required=True, help="a shipped recipe (`radrl recipes list`) or a YAML path")
    sp.add_argument("--tiny", action="store_true", help="the recipe's CPU-sized variant (tiny model, synthetic data)")
    sp.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint in -o")
    sp.add_argument("-o", "--output", help="run folder (default runs/RECIPE[-tiny])")
    sp.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    sp.add_argument("--only", choices=("benchmark", "subset", "labeler", "criticality", "rollout-model"),
                    help="run this one preparing stage (if it is missing) and stop")
    sp.add_argument("--allow-partial", action="store_true",
                    help="train on the subset's ids that are present when some are not (data.allow_partial_subset)")
    _overrides(sp)
    sp.set_defaults(func="cmd_train")

    sp = sub.add_parser("plan", help="offline: parameters, visual tokens, memory per GPU of a recipe on ddp/zero2/zero3/fsdp")
    sp.add_argument("--recipe", required=True, help="an RL recipe (name or YAML path)")
    sp.add_argument("--tiny", action="store_true", help="the recipe's tiny variant")
    sp.add_argument("--json", action="store_true", help="print the plan as JSON")
    add_command_options(sp, PlanOptions, ("gpus", "gpu_memory", "image_size", "images", "architecture"))
    _overrides(sp)
    sp.set_defaults(func="cmd_plan")

    sp = sub.add_parser("demo", help="the main job on the embedded default")
    sp.add_argument("-o", "--output", default="runs/demo", help="run folder (re-running resumes; default runs/demo)")
    sp.add_argument("--recipe", default="demo", help="a stage: demo recipe (default: the shipped demo)")
    sp.add_argument("--no-meteor", action="store_true")
    sp.add_argument("--skip-checkpoint", action="store_true", help="do not evaluate the committed SFT checkpoint")
    _overrides(sp)
    sp.set_defaults(func="cmd_demo")
