"""Typed values from plain YAML data: the checks every recipe section goes through.

A field's Python annotation becomes a small JSON-able *spec* (``spec_of``), and ``check`` holds
a value against it: ``{"type": "float"}``, ``{"type": "str", "choices": [...]}``,
``{"type": "list", "item": spec}``, ``{"union": [spec, ...]}``, ``{"type": "section", ...}``
for a nested dataclass, each with ``"nullable"`` when ``None`` is allowed. Specs rather than
annotations because the ~190 fields of TRL's ``GRPOConfig`` are checked from a committed
snapshot of their specs (``rl_fields.py``): importing TRL takes seconds, and a misspelt key must
be refused before that.

``build(cls, data, path, problems)`` makes a dataclass from a mapping: unknown keys (with the
closest valid name), missing required keys, wrong types and the ``ValueError`` of the class's
own ``__post_init__`` each add a :class:`Problem` with the dotted key path, so the loader can
say which file line or override holds it.

Why not pydantic (issue 37, item 6: "pydantic v2 models or dataclasses with a small validator"):
the sections are dataclasses already and this module is their small validator. pydantic would
not remove it: TRL's fields would still be checked from the snapshot's specs (a pydantic model
built from them is the same code with another name), its ``ValidationError`` locations would
still have to be turned into ``Problem`` paths with a closest name, and its default (lax) mode
takes ``"true"`` and ``"yes"`` for a bool (``strict=True`` refuses them, as this module does).
The lines it would save are the ~120 of type checks below; the ones it would add are that
translation and the strict settings. Import cost is not the reason: on an idle 2-core machine ``import pydantic``
and one model take 0.25 s against 0.12 s for this module (``time python -c "import pydantic"``).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from radrl.io import ConfigError, did_you_mean

Spec = dict[str, Any]
Path = tuple[str | int, ...]


@dataclass
class Problem:
    path: Path          # where in the recipe, e.g. ("rl", "learning_rate") or ("rewards", 1, "margin")
    message: str        # what is wrong and what to do
    key_itself: bool = False  # the key is the problem (unknown), not its value

    def dotted(self) -> str:
        return dotted(self.path)


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ----------------------------------------------------------------------------------- specs
def spec_of(annotation: Any) -> Spec:
    """The spec of a (resolved) annotation."""
    origin = typing.get_origin(annotation)
    if annotation is Any or annotation is object:
        return {"type": "any"}
    if annotation is type(None):
        return {"type": "none"}
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        nullable = type(None) in args
        rest = [a for a in args if a is not type(None)]
        enums = [a for a in rest if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and all(a is str or a in enums for a in rest):
            # TrainingArguments' `SchedulerType | str`: a string that must name a member
            spec = {"type": "str", "choices": [m.value for e in enums for m in e]}
        elif len(rest) == 1:
            spec = spec_of(rest[0])
        else:
            literal_false = [a for a in rest if typing.get_origin(a) is typing.Literal]
            specs = [spec_of(a) for a in rest if a not in literal_false]
            for lit in literal_false:
                specs.append(spec_of(lit))
            spec = {"union": specs}
        return {**spec, "nullable": True} if nullable else spec
    if origin is typing.Literal:
        values = list(typing.get_args(annotation))
        kinds = {type(v) for v in values}
        return {"type": "str" if kinds == {str} else "any", "choices": values}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"type": "str", "choices": [m.value for m in annotation]}
    if dataclasses.is_dataclass(annotation):
        return {"type": "section", "class": annotation}
    if annotation in (bool, int, float, str):
        return {"type": annotation.__name__}
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        item = spec_of(args[0]) if args and args[0] is not Ellipsis else {"type": "any"}
        return {"type": "list", "item": item}
    if origin in (dict, typing.Mapping) or annotation is dict:
        return {"type": "dict"}
    return {"type": "any"}


def field_specs(cls) -> dict[str, Spec]:
    """Field name -> spec for a dataclass, with each field's ``metadata`` (help, choices)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        spec = spec_of(hints[f.name])
        if "choices" in f.metadata:
            spec = {**spec, "choices": list(f.metadata["choices"])}
        out[f.name] = spec
    return out


def describe(spec: Spec) -> str:
    """Human words for a spec: ``a number``, ``one of greedy, sample, beam``, ..."""
    if "choices" in spec:
        text = "one of " + ", ".join(str(c) for c in spec["choices"])
    elif "union" in spec:
        text = " or ".join(describe(s) for s in spec["union"])
    else:
        kind = spec["type"]
        text = {"float": "a number", "int": "a whole number", "bool": "true or false", "str": "a string",
                "dict": "a mapping", "section": "a mapping", "any": "anything", "none": "null"}.get(kind)
        if kind == "list":
            text = f"a list of {describe(spec['item'])}"
    return text + (" (or null)" if spec.get("nullable") else "")


# ----------------------------------------------------------------------------------- checks
class _Invalid(Exception):
    def __init__(self, message: str, path: Path = ()):
        super().__init__(message)
        self.message, self.path = message, path


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as a string
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def check(value: Any, spec: Spec, path: Path, problems: list[Problem]) -> Any:
    """``value`` converted to ``spec`` (int 1 -> 1.0 for a float, "3e-4" -> 3e-4, a mapping ->
    its dataclass), or a :class:`Problem` appended and ``value`` returned unchanged."""
    try:
        return _check(value, spec, path, problems)
    except _Invalid as bad:
        problems.append(Problem(path + bad.path, bad.message))
        return value


def _check(value: Any, spec: Spec, path: Path, problems: list[Problem]) -> Any:
    if value is None:
        if spec.get("nullable") or spec.get("type") in ("any", "none"):
            return None
        raise _Invalid(f"must not be null; expected {describe(spec)}")
    if "union" in spec:
        for option in spec["union"]:
            trial: list[Problem] = []
            out = check(value, option, path, trial)
            if not trial:
                return out
        raise _Invalid(f"{value!r} is not {describe(spec)}")
    kind = spec["type"]
    out = value
    if kind == "float":
        number = _number(value)
        if number is None or math.isnan(number):
            raise _Invalid(f"{value!r} is not a number")
        out = number
    elif kind == "int":
        number = _number(value) if not isinstance(value, str) else None
        if number is None or not float(number).is_integer():
            raise _Invalid(f"{value!r} is not a whole number")
        out = int(number)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _Invalid(f"{value!r} is not true or false")
    elif kind == "str":
        if not isinstance(value, str):
            raise _Invalid(f"{value!r} is not a string")
    elif kind == "list":
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise _Invalid(f"{value!r} is not a list; expected {describe(spec)}")
        out = [check(v, spec["item"], path + (i,), problems) for i, v in enumerate(value)]
    elif kind == "dict":
        if not isinstance(value, dict):
            raise _Invalid(f"{value!r} is not a mapping")
    elif kind == "section":
        cls = spec["class"]
        if dataclasses.is_dataclass(value) and isinstance(value, cls):
            return value
        return build(cls, value, path, problems)
    elif kind == "none":
        raise _Invalid(f"must be null, got {value!r}")
    if "choices" in spec and out not in spec["choices"]:
        raise _Invalid(f"{value!r} is not one of {', '.join(map(str, spec['choices']))}"
                       f"{did_you_mean(value, spec['choices'])}")
    return out


def check_keys(data: dict, specs: dict[str, Spec], path: Path, problems: list[Problem],
               what: str = "key") -> dict[str, Any]:
    """Each known key of ``data`` checked against its spec; an unknown key is a problem that
    names the closest valid one."""
    out = {}
    for key, value in data.items():
        if key not in specs:
            valid = f"; valid: {', '.join(sorted(specs))}" if len(specs) <= 30 else f" ({len(specs)} are valid)"
            problems.append(Problem(path + (key,), f"unknown {what}{did_you_mean(key, specs)}{valid}",
                                    key_itself=True))
            continue
        out[key] = check(value, specs[key], path + (key,), problems)
    return out


def build(cls, data: Any, path: Path, problems: list[Problem]):
    """A ``cls`` instance from a mapping (see module doc). Returns ``None`` when it cannot be
    built; the reasons are in ``problems``."""
    if dataclasses.is_dataclass(data) and isinstance(data, cls):
        return data
    from_yaml = getattr(cls, "from_yaml_value", None)
    if from_yaml is not None and not isinstance(data, dict):
        data = from_yaml(data)  # a shorthand, e.g. `labeler: rule`
    if not isinstance(data, dict):
        problems.append(Problem(path, f"expected a mapping of {cls.__name__} fields, got {data!r}"))
        return None
    before = len(problems)
    hook = getattr(cls, "from_yaml_mapping", None)
    if hook is not None:
        return hook(data, path, problems)
    values = check_keys(data, field_specs(cls), path, problems)
    required = [f.name for f in dataclasses.fields(cls) if f.init and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    for name in required:
        if name not in data:
            problems.append(Problem(path + (name,), "is required but missing"))
    if len(problems) > before:
        return None
    try:
        return cls(**values)
    except (ValueError, TypeError) as err:  # the class's own range checks (__post_init__)
        field = getattr(err, "field", None)
        problems.append(Problem(path + ((field,) if field else ()), str(err)))
        return None


def to_plain(value: Any) -> Any:
    """Dataclasses (recursively) as plain dicts, the way they are written in a recipe."""
    to_yaml = getattr(value, "to_yaml_value", None)
    if to_yaml is not None:
        return to_yaml()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    return value


def signature_specs(func, skip: tuple[str, ...] = ("self",)) -> dict[str, Spec]:
    """Parameter name -> spec for a function's keyword parameters (a reward's constructor, a
    loader's options): what a recipe may pass it."""
    import inspect

    hints = typing.get_type_hints(func)
    out = {}
    for name, param in inspect.signature(func).parameters.items():
        if name in skip or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        out[name] = spec_of(hints[name]) if name in hints else {"type": "any"}
    return out


def format_problems(problems: list[Problem], locate=None) -> str:
    """One line per problem: ``WHERE: KEY: MESSAGE`` (``locate(problem)`` says where)."""
    lines = []
    for p in problems:
        where = locate(p) if locate else None
        key = p.dotted()
        lines.append(f"{where + ': ' if where else ''}{key + ': ' if key else ''}{p.message}")
    return "\n".join(lines)


def build_checked(cls, data: Any, path: Path = ()):
    """:func:`build`, raising ``ConfigError`` with every problem (for settings that do not come
    from a recipe file: a Python dict, command-line options)."""
    problems: list[Problem] = []
    out = build(cls, data, path, problems)
    if problems:
        raise ConfigError(format_problems(problems))
    return out
