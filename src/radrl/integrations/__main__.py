"""``python -m radrl.integrations path ENGINE``: the file an engine loads radrl's adapter from
(verl, EasyR1, ms-swift and OpenRLHF take a file path, not a module name)."""

from __future__ import annotations

import importlib
import sys

ENGINES = ("verl", "easyr1", "swift", "openrlhf", "trl")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "path" or argv[1] not in ENGINES:
        print(f"usage: python -m radrl.integrations path {{{','.join(ENGINES)}}}", file=sys.stderr)
        return 2
    print(importlib.import_module(f"radrl.integrations.{argv[1]}").__file__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
