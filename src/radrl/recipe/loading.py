"""Finding, reading and resolving recipes: the only place a recipe dict becomes a typed recipe.

Resolution order: the file's sections -> its ``tiny:`` block merged over them (``--tiny``) ->
an ``overlay`` mapping (the demo's) -> ``key=value`` overrides -> checks. Every problem is
reported at once, each with where it is written: ``deer.yaml, line 31: rl.learning_rat:
unknown rl setting (did you mean learning_rate?)`` or ``override 'rl.learning_rat=1e-5': ...``.
Nothing heavy is imported: a recipe is refused in well under a second.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from radrl.config.fields import Problem, format_problems
from radrl.config.recipes import DemoRecipe, Recipe, build_recipe
from radrl.io import ConfigError, InputError, did_you_mean, yaml_error_message
from radrl.recipe.checks import recipe_problems

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
"""The recipes shipped in the package (``radrl/recipes/*.yaml``)."""


# ----------------------------------------------------------------------------------- finding
def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def find_recipe(name_or_path: str | Path) -> Path:
    """A shipped recipe by name (``deer``), or a YAML/JSON file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        if not path.is_file():
            raise ConfigError(f"recipe file {path} does not exist")
        return path
    candidate = RECIPES_DIR / f"{name_or_path}.yaml"
    if not candidate.is_file():
        raise ConfigError(f"no recipe named {str(name_or_path)!r}{did_you_mean(name_or_path, recipe_names())}; "
                          f"known: {', '.join(recipe_names())} (or give a .yaml path)")
    return candidate


def recipe_summaries() -> list[tuple[str, str, str]]:
    """(name, stage, description) of every shipped recipe."""
    out = []
    for name in recipe_names():
        data = _read(RECIPES_DIR / f"{name}.yaml")[0]
        out.append((name, data.get("stage", "rl"), str(data.get("description", ""))))
    return out


# ----------------------------------------------------------------------------------- reading
def _read(path: Path) -> tuple[dict, yaml.Node | None]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = yaml.safe_load(text) or {}
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(yaml_error_message(path, exc)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of sections, got {type(data).__name__}")
    return data, node


def _line_of(node: yaml.Node | None, path: tuple) -> int | None:
    """Line (1-based) of the deepest key of ``path`` that the YAML node tree holds."""
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


# ----------------------------------------------------------------------------------- merging
def merge(base: dict, extra: dict) -> dict:
    """``extra`` over ``base``: mappings merge key by key, anything else (lists too) replaces."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(override: str) -> tuple[tuple, Any]:
    """``a.b.c=value`` -> (("a", "b", "c"), value); the value is read as YAML (numbers, booleans,
    lists, null), a list index is a number: ``rewards.1.weight=0.5``."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} must look like section.key=value")
    dotted, raw = override.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(f"override {override!r}: the value is not valid YAML") from None
    if isinstance(value, str):  # YAML 1.1 reads 3e-4 as a string
        try:
            value = float(value)
        except ValueError:
            pass
    keys = tuple(int(k) if k.isdigit() else k for k in dotted.strip().split("."))
    if any(k == "" for k in keys):
        raise ConfigError(f"override {override!r}: empty key in {dotted!r}")
    return keys, value


def apply_override(recipe: dict, override: str) -> dict:
    """A copy of ``recipe`` with one ``key=value`` override set."""
    keys, value = parse_override(override)
    out = copy.deepcopy(recipe)
    node: Any = out
    for i, key in enumerate(keys[:-1]):
        if isinstance(node, list):
            if not isinstance(key, int) or key >= len(node):
                raise ConfigError(f"override {override!r}: {'.'.join(map(str, keys[:i + 1]))} is not an index "
                                  f"of a list of {len(node)}")
            node = node[key]
            continue
        if key == "labeler" and isinstance(node.get(key), str):
            node[key] = {"name": node[key]}  # `labeler: rule` shorthand
        nxt = node.setdefault(key, {})
        if nxt is None:
            nxt = node[key] = {}
        if not isinstance(nxt, (dict, list)):
            raise ConfigError(f"override {override!r}: {'.'.join(map(str, keys[:i + 1]))} is a value, not a section")
        node = nxt
    last = keys[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or last >= len(node):
            raise ConfigError(f"override {override!r}: no item {last} in a list of {len(node)}")
    node[last] = value
    return out


# ----------------------------------------------------------------------------------- resolving
@dataclass
class _Origins:
    """Where each part of the resolved dict was written, to point at it in an error."""

    file: Path | None = None
    node: yaml.Node | None = None
    tiny: bool = False
    tiny_keys: dict = field(default_factory=dict)
    overlay: dict = field(default_factory=dict)
    overrides: list[tuple[tuple, str]] = field(default_factory=list)

    def locate(self, problem: Problem) -> str:
        path = problem.path
        for keys, text in reversed(self.overrides):
            if path[:len(keys)] == keys or keys[:len(path)] == path:
                return f"override {text!r}"
        if _holds(self.overlay, path):
            return "the demo's rl.overrides"
        name = self.file.name if self.file else "recipe"
        if self.tiny and _holds(self.tiny_keys, path):
            line = _line_of(self.node, ("tiny", *path))
            return f"{name}, line {line} (tiny block)" if line else f"{name} (tiny block)"
        line = _line_of(self.node, path)
        return f"{name}, line {line}" if line else name


def _holds(data: Any, path: tuple) -> bool:
    """Does ``data`` write (part of) ``path``?"""
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return node is not data and not isinstance(node, (dict, list))
    return True


def _resolve(data: dict, origins: _Origins, tiny: bool, overlay: dict | None, overrides) -> Recipe:
    data = dict(data)
    tiny_block = data.pop("tiny", None) or {}
    if not isinstance(tiny_block, dict):
        raise ConfigError(format_problems([Problem(("tiny",), "must be a mapping of sections")], origins.locate))
    if tiny:
        data = merge(data, tiny_block)
        origins.tiny, origins.tiny_keys = True, tiny_block
    if overlay:
        data = merge(data, overlay)
        origins.overlay = overlay
    for text in overrides or ():
        keys, _ = parse_override(text)
        data = apply_override(data, text)
        origins.overrides.append((keys, text))
    problems: list[Problem] = []
    recipe = build_recipe(data, problems)
    if not problems:  # the registry checks, once the recipe is built
        problems = recipe_problems(recipe)
        if isinstance(recipe, DemoRecipe) and recipe.rl is not None:
            problems = overlay_problems(recipe.rl.recipe, recipe.rl.overrides, ("rl",))
    if problems:
        raise ProblemsError(format_problems(problems, origins.locate), problems, origins)
    return recipe


class ProblemsError(ConfigError):
    """A ``ConfigError`` that keeps its problems (an enclosing recipe re-locates them)."""

    def __init__(self, message: str, problems: list[Problem], origins: _Origins):
        super().__init__(message)
        self.problems, self.origins = problems, origins


def overlay_problems(name: str, overlay: dict, path: tuple) -> list[Problem]:
    """Problems of RL recipe ``name``'s tiny variant with ``overlay`` merged over it (the demo's
    ``rl:`` stage), as paths of the enclosing recipe: a key the overlay writes points at its line
    under ``path + ("overrides",)``; anything else at ``path + ("recipe",)``."""
    try:
        load_recipe(name, tiny=True, overlay=overlay)
    except ProblemsError as err:
        out = []
        for problem in err.problems:
            if _holds(overlay, problem.path):
                out.append(Problem(path + ("overrides", *problem.path), problem.message, problem.key_itself))
            else:
                where = err.origins.locate(problem)
                out.append(Problem(path + ("recipe",), f"{name}: {where}: {problem.dotted()}: {problem.message}"))
        return out
    except ConfigError as err:
        return [Problem(path + ("recipe",), str(err))]
    return []


def load_recipe(name_or_path: str | Path, tiny: bool = False, overrides: list[str] | tuple = (),
                overlay: dict | None = None) -> Recipe:
    """A typed, checked recipe: a shipped one by name or a file, its ``tiny`` block merged when
    ``tiny``, then ``overlay`` (a mapping merged like the tiny block) and ``key=value``
    ``overrides``. Raises ``ConfigError`` naming every problem and where it is written."""
    path = find_recipe(name_or_path)
    try:
        data, node = _read(path)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None
    if not tiny and data.get("tiny"):  # a mistake in the tiny block is found with the full recipe too
        _resolve(data, _Origins(path, node), True, None, ())
    recipe = _resolve(data, _Origins(path, node), tiny, overlay, overrides)
    if recipe.resolved_from is None:
        recipe.resolved_from = {"recipe": str(path), "tiny": tiny, "overrides": list(overrides or ())}
    return recipe


def load_rl_recipe(name_or_path: str | Path, tiny: bool = False, overrides: list[str] | tuple = (),
                   purpose: str = "this needs") -> Recipe:
    """:func:`load_recipe`, refusing a recipe that is not an RL one (whose rewards ``radrl reward``,
    ``radrl serve`` and the engine adapters score)."""
    from radrl.config.recipes import RLRecipe

    recipe = load_recipe(name_or_path, tiny=tiny, overrides=overrides)
    if not isinstance(recipe, RLRecipe):
        raise InputError(f"{name_or_path}: {purpose} an RL recipe's rewards; this one is stage: {recipe.stage}")
    return recipe


def recipe_from_dict(data: dict, tiny: bool = False, overrides: list[str] | tuple = (),
                     overlay: dict | None = None) -> Recipe:
    """A typed recipe from a Python mapping (tests, benchmarks, notebooks), checked the same way."""
    if not isinstance(data, dict):
        raise ConfigError(f"a recipe is a mapping of sections, got {type(data).__name__}")
    return _resolve(data, _Origins(), tiny, overlay, overrides)


def with_overrides(recipe: Recipe, *overrides: str) -> Recipe:
    """A copy of a resolved recipe with more ``key=value`` overrides (re-checked)."""
    data = recipe.to_dict()
    resolved = recipe_from_dict(data, overrides=list(overrides))
    resolved.resolved_from = {**(recipe.resolved_from or {}),
                              "overrides": [*(recipe.resolved_from or {}).get("overrides", []), *overrides]}
    return resolved


def recipe_yaml(recipe: Recipe) -> str:
    """The resolved recipe as YAML (``radrl recipes show``)."""
    return yaml.safe_dump(recipe.to_dict(), sort_keys=False, default_flow_style=None, width=100)
