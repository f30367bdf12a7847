"""What a recipe's ``rl:`` section may hold: the fields of TRL's ``GRPOConfig``, no more.

Importing TRL takes seconds, so the GRPOConfig field specs come from a committed snapshot
(``grpo_fields.json``), made from the pinned TRL and transformers with
``python -m radrl.config.rl_fields``; ``tests/test_recipes.py`` checks it against the live
classes. With other versions installed the live classes are read instead (slower, still right).
"""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from radrl.config.fields import Spec, field_specs

SNAPSHOT = Path(__file__).with_name("grpo_fields.json")
VERSIONED = ("trl", "transformers")


def _jsonable(spec: Spec) -> Spec:
    if spec.get("type") == "section":  # e.g. accelerate's ParallelismConfig: TRL takes it as it comes
        return {"type": "any", **({"nullable": True} if spec.get("nullable") else {})}
    out = dict(spec)
    if "item" in out:
        out["item"] = _jsonable(out["item"])
    if "union" in out:
        out["union"] = [_jsonable(s) for s in out["union"]]
    return out


def live_grpo_specs() -> dict[str, Spec]:
    """Specs of ``GRPOConfig``'s fields, read from the installed TRL (slow import)."""
    from trl import GRPOConfig

    return {name: _jsonable(spec) for name, spec in field_specs(GRPOConfig).items()}


def installed_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in VERSIONED}


@cache
def grpo_specs() -> dict[str, Spec]:
    """The snapshot when it was made from the installed versions, else the live classes."""
    if SNAPSHOT.is_file():
        snap = json.loads(SNAPSHOT.read_text())
        try:
            if snap["versions"] == installed_versions():
                return snap["fields"]
        except metadata.PackageNotFoundError:
            pass
    return live_grpo_specs()


def rl_specs() -> dict[str, Spec]:
    """What ``rl:`` may hold: ``GRPOConfig``'s fields (radrl's own settings are in ``algorithm:``)."""
    return grpo_specs()


def write_snapshot(path: Path = SNAPSHOT) -> None:
    from radrl.io import atomic_write_json

    atomic_write_json(path, {"versions": installed_versions(), "fields": live_grpo_specs()})


if __name__ == "__main__":
    write_snapshot(Path(sys.argv[1]) if len(sys.argv) > 1 else SNAPSHOT)
    print(f"wrote {SNAPSHOT}")
