"""``python -m radrl.integrations path ENGINE``: the file an engine loads radrl's reward from
(verl, EasyR1, ms-swift and OpenRLHF take a file path, not a module name). The files are in
``radrl/integrations/plugins/``, under names that shadow no package (ms-swift puts a plugin's
folder on ``sys.path``)."""

from __future__ import annotations

import sys
from pathlib import Path

PLUGINS = Path(__file__).resolve().parent / "plugins"
FILES = {"verl": "radrl_verl_reward.py", "easyr1": "radrl_easyr1_reward.py", "swift": "radrl_swift_plugin.py",
         "openrlhf": "radrl_openrlhf_reward.py"}


def plugin_path(engine: str) -> Path:
    return PLUGINS / FILES[engine]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "path" or argv[1] not in FILES:
        print(f"usage: python -m radrl.integrations path {{{','.join(FILES)}}}", file=sys.stderr)
        return 2
    print(plugin_path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
