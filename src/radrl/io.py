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


def did_you_mean(name: str, choices) -> str:
    """`` (did you mean X?)`` for the closest of ``choices``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _open_text(path: Path):
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a .jsonl or .csv file")
    # errors="replace": a stray non-UTF-8 byte becomes U+FFFD instead of stopping the run;
    # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is dropped, not read into the first field.
    if path.name.endswith(".gz"):  # MIMIC ships its CSVs gzipped
        import gzip

        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


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


_MISSING = object()


def read_csv(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for each row of a CSV file with a header.

    Strict: an unbalanced quote (which would swallow every later row into one field), a stray
    quote inside an unquoted field, or a row whose number of fields differs from the header's
    is refused with the line it starts on, instead of being read as fewer, merged rows.
    """
    path = Path(path)
    csv.field_size_limit(16 * 1024 * 1024)
    with _open_text(path) as f:
        reader = csv.DictReader(f, strict=True, restkey=_MISSING, restval=_MISSING)
        try:
            header = reader.fieldnames
        except csv.Error as exc:
            raise InputError(f"{path}, line 1: malformed CSV header ({exc})") from None
        if not header:
            raise InputError(f"{path}: empty CSV file (a header line is needed)")
        start = 2  # the line the next row starts on
        try:
            for row in reader:
                if _MISSING in row or _MISSING in row.values():
                    n = len(header) + len(row.get(_MISSING, ())) - sum(v is _MISSING for v in row.values())
                    raise InputError(f"{path}, line {start}: {n} fields, but the header has {len(header)}; "
                                     "quote fields that contain commas")
                yield start, row
                start = reader.line_num + 1
        except csv.Error as exc:
            raise InputError(f"{path}, line {start}: malformed CSV ({exc}); a quote opened on this line is "
                             "probably never closed") from None


def text_field(row: dict[str, Any], key: str, where: str) -> str | None:
    """``row[key]`` when it is text or null (missing -> None). A number, list or object is
    refused: stringifying it would label ``"[1, 2]"`` as if it were a report."""
    value = row.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"{where}: '{key}' must be a string or null, got {type(value).__name__} "
                     f"({json.dumps(value)[:40]})")


def record_id(row: dict[str, Any], where: str) -> str:
    """A row's ``id`` as text: a string or an integer, never empty."""
    value = row.get("id")
    if value is None or value == "":
        raise InputError(f"{where}: missing 'id'")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{where}: 'id' must be a string or an integer, got {type(value).__name__}")
    return str(value)


class DuplicateIds:
    """One policy for repeated ids, in every command that reads rows with ids: the first row of
    an id is kept, later ones are dropped, and one warning names them (``warn``)."""

    def __init__(self, source: str):
        self.source, self.first, self.dropped = source, {}, []

    def keep(self, sample_id: str, lineno: int | None = None) -> bool:
        if sample_id in self.first:
            self.dropped.append((sample_id, lineno))
            return False
        self.first[sample_id] = lineno
        return True

    def warn(self) -> None:
        if not self.dropped:
            return
        import warnings

        shown = ", ".join(f"{i!r}" + (f" (line {n}, first on line {self.first[i]})" if n else "")
                          for i, n in self.dropped[:3])
        warnings.warn(f"{self.source}: {len(self.dropped)} repeated id(s) dropped, the first row of each is "
                      f"kept: {shown}", stacklevel=2)


def read_records(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """JSONL or CSV by extension (.jsonl/.json lines, .csv)."""
    suffix = Path(path).suffix.lower()
    if Path(path).is_dir():
        raise InputError(f"{path}: is a folder, expected a .jsonl or .csv file")
    if suffix in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(path)
    if suffix == ".csv" or Path(path).name.lower().endswith(".csv.gz"):
        return read_csv(path)
    raise InputError(f"{path}: unsupported file type {suffix or '(none)'}; use .jsonl or .csv")


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML mapping (recipes, configs); errors name the file and the line."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig")) or {}
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


def check_output_path(output: str | os.PathLike, *inputs: str | os.PathLike) -> Path:
    """Refuse an output that is one of the inputs (``radrl label X -o X`` would replace the
    reports with their labels) or a folder; returns the output path."""
    out = Path(output)
    if out.is_dir():
        raise InputError(f"{out} is a folder; -o needs a file name")
    parent = next((p for p in (out.absolute().parent, *out.absolute().parents) if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(f"-o {out}: {parent} is a file, not a folder")
    if parent is not None and not os.access(parent, os.W_OK):  # the file is written beside, then renamed
        raise InputError(f"-o {out}: the folder {parent} is not writable; choose an output you can write")
    for source in inputs:
        source = Path(source)
        if out.exists() and source.exists() and os.path.samefile(out, source):
            raise InputError(f"-o {out} is the input file {source}: radrl never writes over its input; "
                             "choose another output name")
    return out


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, writer: bool | None = None) -> Iterator[Path]:
    """Hold ``FOLDER/.radrl.lock`` while a run writes into the folder. A second run into the
    same folder is refused with the holder's PID; a lock left by a process that no longer runs
    (a crash, SIGKILL) is taken over. Only the folder's writer locks: ``writer`` (the caller's
    :func:`radrl.distributed.is_main`), by default global rank 0 under ``accelerate launch``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".radrl.lock"
    if not (os.environ.get("RANK", "0") == "0" if writer is None else writer):
        yield lock
        return
    host = os.uname().nodename
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text())
            except (OSError, json.JSONDecodeError):
                holder = {}
            pid, holder_host = holder.get("pid"), holder.get("host")
            if holder_host == host and isinstance(pid, int) and not _alive(pid):
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            raise InputError(f"{folder} is in use by another radrl run (pid {pid} on {holder_host}); wait for "
                             f"it, choose another output folder, or delete {lock} if that run is gone") from None
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "host": host}, f)
        break
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


# ------------------------------------------------------------------ reuse by fingerprint
def output_record(output: str | os.PathLike) -> Path:
    """Where the record of how ``output`` was made lives: ``OUTPUT.stage.json`` beside it."""
    return Path(str(output) + ".stage.json")


def _plain_json(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def output_state(output: str | os.PathLike, fingerprint: Any) -> str:
    """Whether ``output`` can be reused: ``done`` (it exists and its record has this fingerprint),
    ``stale`` (a record of other settings), ``present`` (an output radrl did not record: used as
    it is), or ``missing``. Every reuse decision (the stages of ``radrl train``, the pipeline's,
    the demo's) is this one, never the file's existence alone."""
    output, record = Path(output), output_record(output)
    if record.is_file():
        try:
            saved = json.loads(record.read_text())
        except (json.JSONDecodeError, OSError):
            return "stale"
        return "done" if saved.get("fingerprint") == _plain_json(fingerprint) and output.exists() else "stale"
    return "present" if output.exists() else "missing"


def write_output_record(output: str | os.PathLike, stage: str, fingerprint: Any, **extra: Any) -> None:
    """Record (atomically, last) that ``output`` was made by ``stage`` with ``fingerprint``."""
    atomic_write_json(output_record(output), {"stage": stage, "fingerprint": _plain_json(fingerprint), **extra})
