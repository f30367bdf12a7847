"""What the command modules share: ``--data KIND:PATH`` with its loader options, overrides."""

from __future__ import annotations

import argparse

import yaml

from radrl.cli_options import number_in
from radrl.data.sections import join_sections
from radrl.io import InputError, text_field

BATCH = 2048


def _data_arg(spec: str) -> tuple[str, str]:
    from radrl.data.registry import DATASETS

    kind, sep, path = spec.partition(":")
    if not sep or kind not in DATASETS.names():
        raise InputError(f"--data must be KIND:PATH with KIND one of {', '.join(DATASETS.names())}; got {spec!r}")
    return kind, path


def _data_section(args: argparse.Namespace, split: str | None = None, **defaults):
    """``--data KIND:PATH`` with its ``--data-option KEY=VALUE``s, checked against that kind's
    loader the way a recipe's ``data.options`` are (``defaults``: options the command sets unless
    the user does)."""
    from radrl.config import DataSection
    from radrl.recipe import check_section

    kind, path = _data_arg(args.data)
    options = dict(defaults)
    for text in getattr(args, "data_option", None) or []:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--data-option {text!r} must look like KEY=VALUE (e.g. allow_outside_root=true)")
        options[key.strip()] = yaml.safe_load(raw)
    section = DataSection(kind=kind, path=path, split=split or "train", options=options)
    return check_section(section, ("--data-option",))


def _dataset(args: argparse.Namespace, split: str | None, limit: int | None = None, **defaults):
    from radrl.data.registry import load_dataset

    data = _data_section(args, split, **defaults)
    return load_dataset(data.kind, data.path, split=split, limit=limit, **data.options)


def _load_split(args: argparse.Namespace, split_attr: str = "split"):
    split = getattr(args, split_attr)
    samples = _dataset(args, split, getattr(args, "limit", None))
    if not samples:
        raise InputError(f"{args.data}: no samples in split {split!r}")
    return samples


def _data_options(sp: argparse.ArgumentParser, split: str, required: bool = True, default: str | None = None,
                  limit: bool = True) -> None:
    sp.add_argument("--data", required=required, default=default,
                    help="KIND:PATH, e.g. synthetic:runs/synthetic or r2gen:annotation.json"
                    + (f" (default: {default})" if default else ""))
    sp.add_argument("--split", default=split, help=f"split to read (default: {split})")
    _data_option_arg(sp)
    if limit:
        sp.add_argument("--limit", type=number_in(1), help="use the first N samples only")


def _data_option_arg(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--data-option", action="append", metavar="KEY=VALUE",
                    help="a loader option of --data's kind, e.g. allow_outside_root=true, views=frontal, "
                         "check_images=none (repeatable; radrl data inspect lists what was skipped and why)")


def _overrides(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                    help="recipe overrides, e.g. rl.learning_rate=1e-5 data.limit=500 rewards.1.weight=0.5")


def _model_path(name: str) -> str:
    from radrl.assets import resolve_model_path

    return resolve_model_path(name)


def _report_text(row: dict, where: str) -> str:
    """The report of an input row: ``report``, else FINDINGS + IMPRESSION. Values must be text
    or null."""
    if "report" in row:
        value = text_field(row, "report", where)
    elif "findings" in row or "impression" in row:
        value = join_sections(*(text_field(row, k, where) for k in ("findings", "impression")))
    else:
        raise InputError(
            f"{where}: no 'report' (or 'findings'/'impression') field; found {sorted(row)}"
        )
    return value or ""
