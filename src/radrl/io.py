"""Reading user files with clear errors, and writing outputs atomically.

Errors name the file and the line and say what to do; they are ``InputError`` so the CLI can
print them without a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """A problem with a user's input file, worded for the user."""


class ConfigError(InputError):
    """A problem with a recipe, an override or an option, worded for the user (``radrl`` prints
    it as one line and exits 2)."""


class FieldError(ConfigError):
    """A setting's value is out of range (raised by a settings class's ``__post_init__``);
    ``field`` names the setting so the recipe loader can point at its line."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _open_text(path: Path):
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a .jsonl or .csv file")
    # errors="replace": a stray non-UTF-8 byte becomes U+FFFD instead of stopping the run.
    return open(path, encoding="utf-8", errors="replace", newline="")


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-empty line of a JSON Lines file."""
    path = Path(path)
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path}, line {lineno}: invalid JSON ({exc.msg} at column {exc.colno}); "
                    "each line must be one JSON object"
                ) from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}, line {lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_csv(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for each row of a CSV file with a header."""
    path = Path(path)
    csv.field_size_limit(16 * 1024 * 1024)
    with _open_text(path) as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise InputError(f"{path}: empty CSV file (a header line is needed)")
        try:
            for row in reader:
                yield reader.line_num, {k: (v if v is not None else "") for k, v in row.items() if k is not None}
        except csv.Error as exc:
            raise InputError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from None


def read_records(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """JSONL or CSV by extension (.jsonl/.json lines, .csv)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(path)
    if suffix == ".csv":
        return read_csv(path)
    raise InputError(f"{path}: unsupported file type {suffix or '(none)'}; use .jsonl or .csv")


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML mapping (recipes, configs); errors name the file and the line."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except yaml.YAMLError as exc:
        raise InputError(yaml_error_message(path, exc)) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level")
    return data


def yaml_error_message(path, exc) -> str:
    """``PATH, line N: invalid YAML (what)`` for a ``yaml.YAMLError``."""
    mark = getattr(exc, "problem_mark", None)
    where = f", line {mark.line + 1}" if mark else ""
    return f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a written file gets the usual mode
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_jsonl(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")



@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Write a folder under a temporary name, then swap it in: ``path`` is always either the
    old complete folder or the new complete one, never a half-written mix.

    ``with atomic_folder(out / "final") as tmp: model.save_pretrained(tmp)``. On success an
    existing ``path`` is renamed aside, the new folder renamed in, and the old one removed;
    on an exception the temporary folder is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
