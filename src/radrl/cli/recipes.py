"""``radrl`` recipes list|show|new and configs."""

from __future__ import annotations

import argparse
from pathlib import Path

from radrl.cli.common import (
    _overrides,
)
from radrl.io import (
    InputError,
)


def cmd_configs(args: argparse.Namespace) -> int:
    from radrl.assets import package_config, package_configs

    if args.name is None:
        print("\n".join(package_configs()))
    else:
        print(package_config(args.name))
    return 0


def cmd_recipes_list(args: argparse.Namespace) -> int:
    from radrl.recipe import recipe_summaries

    rows = recipe_summaries()
    width = max(len(name) for name, *_ in rows) + 2
    for name, stage, description in rows:
        print(f"{name:<{width}}{stage:<14}{description}")
    return 0


def cmd_recipes_show(args: argparse.Namespace) -> int:
    from radrl.recipe import load_recipe, recipe_yaml

    print(recipe_yaml(load_recipe(args.name, tiny=args.tiny, overrides=args.overrides)), end="")
    return 0


def cmd_recipes_new(args: argparse.Namespace) -> int:
    from radrl.io import atomic_write_text
    from radrl.recipe import find_recipe, load_recipe

    source = find_recipe(args.source)
    load_recipe(source)  # a broken source is refused before anything is written
    out = Path(args.output or f"{args.name}.yaml")
    if out.exists() and not args.force:
        raise InputError(f"{out} exists; pass --force to overwrite it or choose another -o")
    text = source.read_text(encoding="utf-8")
    atomic_write_text(out, f"# {args.name}: copied from radrl recipe {source.stem} - edit freely, then\n"
                           f"#   radrl recipes show {out}    and    radrl train --recipe {out}\n{text}")
    print(f"{out} (from {source.name}); run it with: radrl train --recipe {out}")
    return 0

def add_parsers(sub) -> None:

    sp = sub.add_parser("recipes", help="list, show (resolved) or copy the shipped recipes")
    rsub = sp.add_subparsers(dest="recipes_command", required=True)
    rp = rsub.add_parser("list", help="names, stages and one-line descriptions")
    rp.set_defaults(func="cmd_recipes_list")
    rp = rsub.add_parser("show", help="print a recipe resolved (tiny block, overrides, defaults) as YAML")
    rp.add_argument("name", help="a shipped recipe or a YAML path")
    rp.add_argument("--tiny", action="store_true", help="with its tiny block merged")
    _overrides(rp)
    rp.set_defaults(func="cmd_recipes_show")
    rp = rsub.add_parser("new", help="write an editable copy of a recipe")
    rp.add_argument("name", help="name of the new recipe")
    rp.add_argument("--from", dest="source", required=True, help="the recipe to copy (e.g. deer)")
    rp.add_argument("-o", "--output", help="file to write (default NAME.yaml)")
    rp.add_argument("--force", action="store_true", help="overwrite an existing file")
    rp.set_defaults(func="cmd_recipes_new")

    sp = sub.add_parser("configs", help="the shipped accelerate and model configs: list them, or print one's path")
    sp.add_argument("name", nargs="?", help="e.g. zero3 or accelerate/fsdp.yaml: print its path "
                    "(accelerate launch --config_file $(radrl configs zero3) -m radrl.cli train ...)")
    sp.set_defaults(func="cmd_configs")
