"""The layout rules a newcomer relies on, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "radrl"


def test_no_function_in_src_is_longer_than_80_lines():
    long = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, "split these functions: " + "; ".join(long)


def test_the_config_package_imports_nothing_of_radrl_but_its_errors():
    """import-linter enforces it in make lint; this says so in the test suite too, by reading the imports."""
    for path in sorted((SRC / "config").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("radrl"):
                assert node.module.startswith(("radrl.config", "radrl.io")), f"{path.name} imports {node.module}"


def test_no_algorithm_reaches_into_the_trainer():
    """Components get a ComponentContext (radrl.algorithms.context), never the trainer: no module
    under algorithms/ may name a private member of one, take one as a parameter, or import
    radrl.training, where TRL's private members are touched."""
    import re

    found = []
    for path in sorted((SRC / "algorithms").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.name}: {m.group(0)}" for m in re.finditer(r"trainer\._\w*", text)]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.arg) and node.arg == "trainer":
                found.append(f"{path.name}:{node.lineno} takes a trainer argument")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("radrl.training"):
                found.append(f"{path.name}:{node.lineno} imports {node.module}")
    assert not found, "use the ComponentContext instead: " + "; ".join(found)
