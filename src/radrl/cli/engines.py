"""``radrl serve`` and ``radrl export``: radrl's rewards and data for other RL engines."""

from __future__ import annotations

import argparse
import sys

from radrl.cli.common import _data_options, _dataset, _overrides
from radrl.cli_options import add_command_options
from radrl.config.commands import ExportOptions, ServeOptions
from radrl.io import InputError


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from radrl.integrations.serve import check_bind, serve
    except ImportError as err:
        raise InputError(f"radrl serve needs the server extra: pip install 'radrl[serve]' ({err})") from None
    from radrl.recipe import load_rl_recipe
    from radrl.rewards.offline import RewardScorer

    options = ServeOptions(**{k: getattr(args, k) for k in ServeOptions.__dataclass_fields__})
    token = check_bind(options.host, options.token_env)  # before anything loads
    recipe = load_rl_recipe(args.recipe, args.tiny, args.overrides, purpose="radrl serve serves")
    if options.score_in == "process":
        from radrl.integrations.serve.worker import ScoringProcess

        scorer = ScoringProcess(recipe)
    else:
        scorer = RewardScorer(recipe)
    print(f"radrl serve: {args.recipe} ({', '.join(scorer.names)}) on http://{options.host}:{options.port} "
          f"(POST /v1/rewards, POST /get_reward, GET /health, GET /v1/info)"
          + ("; bearer token required" if options.token_env else ""), file=sys.stderr)
    serve(scorer, options, token, recipe_name=args.recipe)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from radrl.config.sections import DEFAULT_INSTRUCTION
    from radrl.integrations.export import export_samples
    from radrl.recipe import load_rl_recipe
    from radrl.selection.subsets import subset_samples

    samples = _dataset(args, args.split, args.limit)
    if not samples:
        raise InputError(f"{args.data}: no samples in split {args.split!r}")
    kind, _, path = args.data.partition(":")
    if args.subset:
        samples = subset_samples(args.subset, samples, kind=kind, split=args.split)
    instruction = args.instruction
    if instruction is None and args.recipe:
        instruction = load_rl_recipe(args.recipe, purpose="--recipe takes the instruction of").instruction
    instruction = instruction or DEFAULT_INSTRUCTION
    record = {"data": args.data, "subset": args.subset, "recipe": args.recipe}
    out = export_samples(samples, args.engine, args.output, args.split, instruction, f"radrl/{kind}", record)
    print(f"{len(samples)} samples of {args.data} ({args.split}{', subset ' + args.subset if args.subset else ''}) "
          f"-> {out} ({args.engine}; docs/engines.md has the launch line)", file=sys.stderr)
    return 0


def add_parsers(sub) -> None:
    sp = sub.add_parser("serve", help="an HTTP reward server with a recipe's rewards, for verl, EasyR1, OpenRLHF, ...")
    sp.add_argument("--recipe", required=True, help="an RL recipe (name or YAML path) whose rewards to serve")
    sp.add_argument("--tiny", action="store_true", help="the recipe's tiny variant")
    add_command_options(sp, ServeOptions, tuple(ServeOptions.__dataclass_fields__))
    _overrides(sp)
    sp.set_defaults(func="cmd_serve")

    sp = sub.add_parser("export", help="a dataset (or a radrl select subset) in verl's, EasyR1's, ms-swift's or "
                        "OpenRLHF's format")
    add_command_options(sp, ExportOptions, ("engine",))
    _data_options(sp, split="train")
    sp.add_argument("--subset", help="a subset file from `radrl select` (DDSampling, Target Exploration, balanced)")
    sp.add_argument("--recipe", help="take the prompt's instruction from this recipe")
    add_command_options(sp, ExportOptions, ("instruction",))
    sp.add_argument("-o", "--output", required=True, help="output folder (SPLIT.parquet or SPLIT.jsonl in it)")
    sp.set_defaults(func="cmd_export")
