"""``radrl`` synth, prepare-images, data inspect and select: datasets and training subsets."""

from __future__ import annotations

import argparse
import sys
import time

from radrl.cli.common import (
    _data_arg,
    _data_option_arg,
    _data_options,
    _dataset,
    _load_split,
    _model_path,
)
from radrl.cli_options import add_command_options, add_dataclass_options, number_in, settings_from_args
from radrl.config.commands import DataToolOptions
from radrl.io import (
    InputError,
    check_output_path,
)

SELECT_GENERATION = ("temperature", "top_p", "max_new_tokens", "batch_size", "instruction")
"""The generation settings ``radrl select`` takes (the method sets the mode and the count)."""


def cmd_synth(args: argparse.Namespace) -> int:
    from radrl.data.synthetic import SyntheticConfig, build_synthetic

    cfg = settings_from_args(SyntheticConfig, args)
    root = build_synthetic(args.output, cfg)
    print(f"synthetic benchmark (seed {cfg.seed}: {cfg.n_train}/{cfg.n_val}/{cfg.n_test}) -> {root}")
    return 0


def cmd_prepare_images(args: argparse.Namespace) -> int:
    from radrl.data.prepare import prepare_images

    kind, path = _data_arg(args.data)
    splits = args.split or (["train", "val", "test"] if kind == "synthetic" else [None])
    samples = [s for split in splits for s in _dataset(args, split)]
    if not samples:
        raise InputError(f"{path}: no samples")
    t0 = time.perf_counter()
    manifest = prepare_images(samples, args.output, args.max_pixels, args.data, workers=args.workers)
    seconds = time.perf_counter() - t0
    print(f"{manifest['n_images'] - manifest['n_skipped']} images at <= {args.max_pixels:,} pixels in {seconds:.1f} s "
          f"-> {args.output} ({manifest['n_skipped']} skipped). Use it with data.options.image_root={args.output}",
          file=sys.stderr)
    return 0


def cmd_data_inspect(args: argparse.Namespace) -> int:
    import json
    import warnings as _warnings

    from radrl.data.inspect import format_inspection, inspect_samples
    from radrl.data.loaders import collect_load_reports

    with collect_load_reports() as reports, _warnings.catch_warnings():
        _warnings.simplefilter("ignore", UserWarning)  # the skips are in the summary
        samples = _dataset(args, args.split)
    summary = inspect_samples(samples, reports, show=args.show)
    print(json.dumps(summary, indent=2) if args.json else format_inspection(summary, f"{args.data} [{args.split}]"))
    return 0


def _format_selection(result: dict) -> str:
    pos = result["summary"]["label_positives"]
    lines = [f"{result['method']}: {len(result['ids'])} of {result['n_source']} samples",
             f"{'observation':28s} {'positive, all':>14s} {'in subset':>10s}"]
    for name in pos["before"]:
        lines.append(f"{name:28s} {pos['before'][name]:14.1%} {pos['after'][name]:10.1%}")
    for key, st in result["summary"]["scores"].items():
        if isinstance(st, float):
            lines.append(f"{key:28s} {st:.3f}")
        elif st:
            lines.append(f"{key:28s} mean {st['mean']:.3f} (std {st['std']:.3f}, {st['min']:.3f}..{st['max']:.3f})")
    return "\n".join(lines)


def cmd_select(args: argparse.Namespace) -> int:
    from radrl.cli_options import given_options
    from radrl.recipe import SelectionSettings, check_section
    from radrl.selection import select_subset

    generation = {k: v for k, v in given_options(args).items() if k in SELECT_GENERATION}
    settings = settings_from_args(SelectionSettings, args, {"method": args.method, "generation": generation},
                                  section="select")
    check_section(settings, ("select",))  # the method is registered
    if settings.fraction is None and settings.size is None:
        raise InputError("give --fraction F or --size N")
    settings.model = _model_path(settings.model or "tiny-sft")
    check_output_path(args.output)
    samples = _load_split(args)
    kind, path = _data_arg(args.data)
    shard, merge = None, None
    if args.shard:
        shard, merge = _shard_arg(args.shard), False
    elif args.merge:
        shard, merge = (-1, args.merge), True
    result = select_subset(settings, samples, args.output, source={"kind": kind, "path": path, "split": args.split},
                           shard=shard, merge=merge)
    if result is None:
        from radrl.selection.shards import shard_folder

        print(f"shard measured -> {shard_folder(args.output)} (merge with radrl select ... --merge N, or let rank 0 "
              "of the launch merge)", file=sys.stderr)
        return 0
    print(_format_selection(result))
    print(f"-> {args.output} (use it with data.subset={args.output})")
    return 0


def _shard_arg(spec: str) -> tuple[int, int]:
    index, sep, count = spec.partition("/")
    if not (sep and index.isdigit() and count.isdigit() and 0 <= int(index) < int(count)):
        raise InputError(f"--shard must be K/N with 0 <= K < N (e.g. 0/8); got {spec!r}")
    return int(index), int(count)

def add_parsers(sub) -> None:
    from radrl.config import GenerationSettings
    from radrl.data.synthetic import SyntheticConfig
    from radrl.recipe import SelectionSettings
    from radrl.selection.methods import SELECTION_METHODS

    sp = sub.add_parser("synth", help="write the synthetic chest X-ray benchmark")
    sp.add_argument("output", help="folder (annotation.json, images/, config.json)")
    add_dataclass_options(sp, SyntheticConfig, exclude=("prevalence",))
    sp.set_defaults(func="cmd_synth")

    sp = sub.add_parser("prepare-images", help="write a resized copy of a dataset's images (a cache loaders read)")
    sp.add_argument("--data", required=True, help="KIND:PATH of the dataset")
    _data_option_arg(sp)
    sp.add_argument("--split", action="append", help="a split to prepare (repeatable; default: every split the "
                    "loader reads without one)")
    sp.add_argument("--max-pixels", type=number_in(28 * 28), required=True, help="pixels per image at most (e.g. the recipe's "
                    "model.max_pixels, 200704 = 448 x 448)")
    add_command_options(sp, DataToolOptions, ("workers",))
    sp.add_argument("-o", "--output", required=True, help="cache folder; point data.options.image_root at it")
    sp.set_defaults(func="cmd_prepare_images")

    sp = sub.add_parser("data", help="look at a dataset as radrl reads it")
    dsub = sp.add_subparsers(dest="data_command", required=True)
    dp = dsub.add_parser("inspect", help="counts, skipped samples and why, label prevalence, views, sections, lengths")
    dp.add_argument("--data", required=True, help="KIND:PATH")
    _data_option_arg(dp)
    dp.add_argument("--split", default="train", help="split (default train; ignored by kinds without splits)")
    dp.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_command_options(dp, DataToolOptions, ("show",))
    dp.set_defaults(func="cmd_data_inspect")

    sp = sub.add_parser("select", help="choose the RL training subset (DDSampling, Target Exploration, balanced)",
                        epilog="--model defaults to tiny-sft (the committed tiny SFT checkpoint)")
    sp.add_argument("method", choices=SELECTION_METHODS.names())
    _data_options(sp, "train")
    sp.add_argument("-o", "--output", required=True, help="subset file (.json) for data.subset")
    sp.add_argument("--shard", metavar="K/N", help="measure only shard K of N (0-based; e.g. one job of an array) "
                    "into OUTPUT.shards/; `accelerate launch` shards by rank without this")
    sp.add_argument("--merge", type=number_in(1), metavar="N", help="measure nothing: merge the N finished shards and write OUTPUT")
    add_dataclass_options(sp, SelectionSettings, exclude=("method",))
    add_dataclass_options(sp, GenerationSettings, only=SELECT_GENERATION, title="select.generation: how the SFT model "
                          "writes the reports the method measures")
    sp.set_defaults(func="cmd_select")
