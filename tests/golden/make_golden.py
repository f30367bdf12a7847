"""Rewrite ``tests/golden/recipes/NAME[-tiny].yaml``: what ``radrl recipes show NAME [--tiny]``
prints, for every shipped recipe (``make golden``). Review the diff before committing it: a
change there is a change in what a recipe trains."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent / "recipes"


def resolved_yaml(name: str, tiny: bool) -> str:
    import yaml

    from radrl.recipe import load_recipe

    plain = load_recipe(name, tiny=tiny).to_dict()
    plain.pop("resolved_from", None)  # where it came from: the machine's path
    return yaml.safe_dump(plain, sort_keys=False, default_flow_style=None, width=100)


def main() -> int:
    from radrl.recipe import recipe_names

    HERE.mkdir(parents=True, exist_ok=True)
    for old in HERE.glob("*.yaml"):
        old.unlink()
    for name in recipe_names():
        for tiny in (False, True):
            (HERE / f"{name}{'-tiny' if tiny else ''}.yaml").write_text(resolved_yaml(name, tiny))
    print(f"wrote {len(list(HERE.glob('*.yaml')))} snapshots in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
