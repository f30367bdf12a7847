"""Every `radrl ...` command that the README and docs/ print in a code block parses as the CLI
parses it (command, options, KEY=VALUE overrides, option ranges), and a recipe it names loads
with its overrides: a renamed flag, a removed recipe or a misspelt key fails here, not in a
user's terminal. Lines that are templates, not commands (``MODEL``, ``[--freeze lm]``,
``greedy|sample|beam``, ``...``), are left out."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from radrl.cli import build_parser
from radrl.cli_options import check_command_options

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # docs/experiments/ is history
TEMPLATE = re.compile(r"\[|\||\.\.\.|<|\$\(|\bMODEL\b")


def _code_lines(path: Path):
    """(line number, command) of each `radrl` line in the fenced code blocks of ``path``, with
    continuation lines joined and trailing comments cut."""
    fenced, pending, start = False, "", 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced, pending = not fenced, ""
            continue
        if not fenced:
            continue
        text = re.sub(r"\s+#\s.*$", "", line).strip()
        if pending:
            text, number = f"{pending} {text}", start
        if text.endswith("\\"):
            pending, start = text[:-1].strip(), number
            continue
        pending = ""
        if text.startswith("radrl ") and not re.match(r"radrl [\w-]+:", text):  # "radrl train: error": output
            yield number, text


COMMANDS = [(f"{p.relative_to(ROOT)}:{n}", c) for p in DOCS for n, c in _code_lines(p) if not TEMPLATE.search(c)]


def test_the_docs_print_commands_to_check():
    assert len(COMMANDS) > 40, COMMANDS  # the collector still finds them


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_a_command_the_docs_print_parses_and_its_recipe_loads(where, command):
    parser = build_parser()
    argv = shlex.split(command)[1:]
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `{command}` does not parse (radrl {' '.join(argv[:1])} --help lists its options)")
    assert all("=" in e and not e.startswith("-") for e in extra), f"{where}: unrecognized {extra}"
    assert check_command_options(args) is None, f"{where}: {check_command_options(args)}"
    recipe = getattr(args, "recipe", None) or (getattr(args, "name", None) if argv[:2] == ["recipes", "show"] else None)
    if recipe and not recipe.endswith((".yaml", ".yml")):
        from radrl.recipe import load_recipe

        load_recipe(recipe, getattr(args, "tiny", False), [*getattr(args, "overrides", []), *extra])


def test_every_source_path_and_module_the_docs_name_exists():
    """`radrl/...` paths and `python -m radrl....` modules named in the README and docs/ exist."""
    missing = []
    for doc in DOCS:
        text = doc.read_text()
        for path in re.findall(r"`(radrl/[\w/.]+)`", text):
            if not (ROOT / "src" / path.rstrip("/.")).exists():
                missing.append(f"{doc.name}: {path}")
        for module in re.findall(r"python -m (radrl[\w.]*)", text):
            parts = module.split(".")
            base = ROOT / "src" / Path(*parts)
            if not (base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()):
                missing.append(f"{doc.name}: python -m {module}")
    assert not missing, "; ".join(missing)
