"""Command-line options generated from the settings dataclasses (as TRL's ``HfArgumentParser``).

Each field of a settings class becomes ``--kebab-name`` with its help text from the field's
``metadata["help"]`` and its default shown from the class, so a default is written once (in
:mod:`radrl.recipe.sections`). Options a user does not give stay out of the namespace
(``argparse.SUPPRESS``); :func:`settings_from_args` builds the class from the given ones over a
base mapping and checks them exactly like a recipe section.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import yaml

from radrl.config.fields import build_checked, field_specs

PREFIX = "opt__"


def _yaml_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid YAML") from None


def _nullable(convert):
    def parse(text: str):
        return None if text.lower() in ("none", "null") else convert(text)

    parse.__name__ = convert.__name__
    return parse


def _converter(spec: dict):
    kind = spec.get("type")
    convert = {"int": int, "float": float, "str": str}.get(kind, _yaml_value)
    return _nullable(convert) if spec.get("nullable") else convert


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return "" if f.default is None else f" (default: {f.default})"
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return f" (default: {value})" if value not in ({}, [], None) else ""
    return " (required)"


def add_dataclass_options(parser: argparse.ArgumentParser, cls, only: tuple[str, ...] | None = None,
                          exclude: tuple[str, ...] = (), title: str | None = None) -> None:
    """``--name`` options for the fields of ``cls`` (``only`` these, or all but ``exclude``).
    A nested settings section (a dataclass field) is left to the recipe file."""
    group = parser.add_argument_group(title or f"{cls.__name__} (defaults from radrl.recipe)")
    specs = field_specs(cls)
    for f in dataclasses.fields(cls):
        if not f.init or f.name in exclude or (only is not None and f.name not in only):
            continue
        spec = specs[f.name]
        if spec.get("type") == "section":
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "") + _default_text(f)
        kwargs: dict = {"dest": PREFIX + f.name, "default": argparse.SUPPRESS, "help": help_text}
        if spec.get("type") == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _converter(spec)
            if spec.get("choices"):
                kwargs["choices"] = spec["choices"]
                kwargs["metavar"] = "{" + ",".join(map(str, spec["choices"])) + "}"
            else:
                kwargs["metavar"] = f.name.upper()
        group.add_argument(flag, **kwargs)


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The generated options the user gave, by field name."""
    return {k[len(PREFIX):]: v for k, v in vars(args).items() if k.startswith(PREFIX)}


def settings_from_args(cls, args: argparse.Namespace, base: dict | None = None, section: str = ""):
    """``cls`` from ``base`` (e.g. a recipe's section) with the given options over it, checked
    (``ConfigError`` on a bad value, naming ``--option``)."""
    given = {k: v for k, v in given_options(args).items() if k in {f.name for f in dataclasses.fields(cls)}}
    data = {**(base or {}), **given}
    return build_checked(cls, data, (section,) if section else ())



def add_command_options(parser: argparse.ArgumentParser, cls, only: tuple[str, ...], choices: dict | None = None) -> None:
    """``--name`` options for fields ``only`` of a command's settings class (``radrl.config.commands``):
    the default and help come from the class, the value lands in ``args.NAME``, and
    :func:`check_command_options` runs the class's range checks on what was given."""
    specs = field_specs(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    for name in only:
        f, spec = by_name[name], specs[name]
        kwargs: dict = {"dest": name, "default": _default_value(f), "help": f.metadata.get("help", "") + _default_text(f)}
        if spec.get("type") == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _converter(spec)
            allowed = (choices or {}).get(name) or spec.get("choices")
            if allowed:
                kwargs["choices"] = list(allowed)
        parser.add_argument("--" + name.replace("_", "-"), **kwargs)
    parser.set_defaults(_command_options=[*(parser.get_default("_command_options") or []), (cls, tuple(only))])


def _default_value(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def check_command_options(args: argparse.Namespace) -> str | None:
    """The first problem of the options a command took, as ``--name: message`` (``None``: fine)."""
    from radrl.io import FieldError

    for cls, names in getattr(args, "_command_options", None) or []:
        try:
            cls(**{name: getattr(args, name) for name in names})
        except FieldError as err:
            return f"--{err.field.replace('_', '-')}: {err}"
    return None


def number_in(low: float, high: float | None = None, kind=int, low_open: bool = False):
    """An argparse ``type`` that reads a ``kind`` number and refuses one outside [low, high] (or
    (low, high] with ``low_open``), with the message a recipe value gets: ``must be >= 1, got 0``."""
    import argparse

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse
