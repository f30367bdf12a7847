"""``radrl`` analyze masking|rewards: the papers' analyses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radrl.cli.common import (
    _data_arg,
    _data_options,
    _load_split,
    _model_path,
)
from radrl.cli_options import add_command_options
from radrl.config.commands import MaskingOptions, RewardDiversityOptions
from radrl.io import (
    atomic_write_json,
)


def cmd_analyze_masking(args: argparse.Namespace) -> int:
    from radrl.analysis.masking import format_masking_table, rollout_masking
    from radrl.labelers import get_labeler

    samples = _load_split(args)
    chexbert = get_labeler("chexbert", args.labeler_weights) if args.labeler_weights else None
    if chexbert is None:
        print("no --labeler-weights: the gradient row is left out", file=sys.stderr)
    result = rollout_masking(_model_path(args.model), samples, chexbert, n_prompts=args.n_prompts,
                             group_size=args.group_size, fraction=args.fraction, temperature=args.temperature,
                             seed=args.seed)
    if args.output:
        atomic_write_json(args.output, result)
    print(format_masking_table(result))
    return 0


def cmd_analyze_rewards(args: argparse.Namespace) -> int:
    from radrl.analysis.reward_diversity import format_diversity_table, reward_diversity, sample_groups
    from radrl.rewards import build_rewards
    from radrl.selection.subsets import subset_samples

    samples = _load_split(args)
    kind, _ = _data_arg(args.data)
    subsets = {"all": samples} if args.all or not args.subset else {}
    for spec in args.subset or []:
        subsets[Path(spec).stem] = subset_samples(spec, samples, kind, args.split, args.allow_partial)
    reward = build_rewards([{"type": args.reward}]).functions[0]
    rows = {}
    for name, members in subsets.items():
        chosen = members[: args.n_prompts]
        groups = sample_groups(_model_path(args.model), chosen, args.group_size, args.temperature, seed=args.seed)
        rows[name] = reward_diversity(groups, [s.report for s in chosen], reward, [s.labels for s in chosen])
    if args.output:
        atomic_write_json(args.output, rows)
    print(f"reward {args.reward}, {args.group_size} rollouts per prompt (temperature {args.temperature})")
    print(format_diversity_table(rows))
    return 0

def add_parsers(sub) -> None:
    from radrl.rewards import REWARDS

    sp = sub.add_parser("analyze", help="the papers' analyses (token masking, reward diversity)")
    asub = sp.add_subparsers(dest="analysis", required=True)
    ap = asub.add_parser("masking", help="DEER Table 6: mask the top tokens of each DiTPO weighting, count label changes")
    ap.add_argument("--model", default="tiny-sft", help="policy that samples the rollouts (default tiny-sft)")
    _data_options(ap, "test", required=False, default="synthetic:runs/synthetic", limit=False)
    ap.add_argument("--labeler-weights", help="CheXbert labeler for the gradient weights (chexbert.pth or a folder)")
    add_command_options(ap, MaskingOptions, ("n_prompts", "group_size", "fraction", "temperature", "seed"))
    ap.add_argument("-o", "--output", help="write the table as JSON")
    ap.set_defaults(func="cmd_analyze_masking")
    ap = asub.add_parser("rewards", help="DEER Table 7: zero-variance groups, unique rewards, group std per subset")
    _data_options(ap, "train", required=False, default="synthetic:runs/synthetic", limit=False)
    ap.add_argument("--subset", action="append", help="a subset file (repeatable)")
    ap.add_argument("--allow-partial", action="store_true", help="accept a subset whose ids are only partly present")
    ap.add_argument("--all", action="store_true", help="also the whole split")
    ap.add_argument("--model", default="tiny-sft")
    add_command_options(ap, RewardDiversityOptions, ("reward", "group_size", "n_prompts", "temperature", "seed"),
                        choices={"reward": REWARDS.names()})
    ap.add_argument("-o", "--output", help="write the table as JSON")
    ap.set_defaults(func="cmd_analyze_rewards")
