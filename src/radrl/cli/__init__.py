"""``radrl <command>``: the command-line entry point, one module per command group.

==============  ===================================================================
module          commands
==============  ===================================================================
``reports``     ``label``, ``eval``, ``compare``, ``reward``: score reports, no model
``data``        ``synth``, ``prepare-images``, ``data inspect``, ``select``
``models``      ``tiny-model``, ``sft``, ``generate``, ``pipeline``, ``labeler train``
``train``       ``train``, ``plan``, ``demo``
``recipes``     ``recipes list|show|new``, ``configs``
``analyze``     ``analyze masking|rewards``: DEER's Tables 6 and 7
``engines``     ``serve``, ``export``: rewards and data for verl, EasyR1, ms-swift, OpenRLHF
==============  ===================================================================

``radrl --help`` lists every command with one line; ``radrl COMMAND --help`` its options. The
file contracts other tools rely on are in docs/cli.md. Settings options (``radrl generate
--top-p``, ``radrl labeler train --epochs``, ...) are generated from the settings dataclasses of
:mod:`radrl.config` (:mod:`radrl.cli_options`), so each default is written once; every numeric
option is range-checked as a recipe value is. Error policy: a user mistake (``InputError``,
``ConfigError``) is one clear message and exit 2; anything else is a bug and shows its traceback
(exit 1).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from radrl import __version__
from radrl.cli import analyze, data, engines, models, recipes, reports, train
from radrl.cli.analyze import cmd_analyze_masking, cmd_analyze_rewards
from radrl.cli.data import cmd_data_inspect, cmd_prepare_images, cmd_select, cmd_synth
from radrl.cli.engines import cmd_export, cmd_serve
from radrl.cli.models import cmd_generate, cmd_labeler_train, cmd_pipeline, cmd_sft, cmd_tiny_model
from radrl.cli.recipes import cmd_configs, cmd_recipes_list, cmd_recipes_new, cmd_recipes_show
from radrl.cli.reports import cmd_compare, cmd_eval, cmd_label, cmd_reward
from radrl.cli.train import cmd_demo, cmd_plan, cmd_train
from radrl.cli_options import check_command_options
from radrl.io import InputError

GROUPS = (reports, data, models, train, recipes, analyze, engines)
"""One module per command group; each adds its commands with ``add_parsers(sub)``."""

__all__ = [
    "InputError", "build_parser", "cmd_analyze_masking", "cmd_analyze_rewards", "cmd_compare", "cmd_configs",
    "cmd_data_inspect", "cmd_demo", "cmd_eval", "cmd_export", "cmd_generate", "cmd_label", "cmd_labeler_train", "cmd_pipeline",
    "cmd_plan", "cmd_prepare_images", "cmd_recipes_list", "cmd_recipes_new", "cmd_recipes_show", "cmd_reward",
    "cmd_select", "cmd_serve", "cmd_sft", "cmd_synth", "cmd_tiny_model", "cmd_train", "main",
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="radrl", description="RL on clinical rewards for chest X-ray report generation",
                                formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=20, width=140))
    p.add_argument("--version", action="version", version=f"radrl {__version__}")
    p.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(sub)
    return p


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """radrl's own warnings as one readable line; library warnings as Python prints them."""
    if category is UserWarning and "radrl" in filename:
        return f"radrl: warning: {message}\n"
    return _PYTHON_FORMATWARNING(message, category, filename, lineno, line)


_PYTHON_FORMATWARNING = warnings.formatwarning


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # KEY=VALUE overrides after an option (`recipes show deer --tiny rl.beta=0`)
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = [*args.overrides, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    problem = check_command_options(args)  # a value out of its range, as a recipe value would be
    if problem:
        parser.error(problem)
    warnings.formatwarning = _format_warning
    try:
        command = args.func if callable(args.func) else getattr(sys.modules[__name__], args.func)
        return command(args)  # looked up here, so a test (or a plugin) can replace a command
    except (InputError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        # a user mistake (ConfigError is one; so is a path radrl may not write or that is the
        # wrong kind of thing): one message, exit 2
        if args.debug:
            raise
        if isinstance(exc, OSError):
            exc = f"{exc.filename}: {exc.strerror.lower()}" + (
                "; choose an output you can write" if isinstance(exc, PermissionError) else "")
        print(f"radrl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:  # under `accelerate launch`: close the process group before teardown can abort
        from radrl.distributed import shutdown_process_group

        shutdown_process_group()


if __name__ == "__main__":
    sys.exit(main())
