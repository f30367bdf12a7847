"""Hypothesis fuzz of what ``radrl label`` and ``radrl eval`` read (issue 16): random bytes and
random JSON/CSV rows give exit 0 or a clear error with exit 2, never a traceback, and the input
file is never modified."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radrl.cli import main

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)
keys = st.sampled_from(["id", "report", "findings", "impression", "prediction", "reference", "labels", "x"])
rows = st.dictionaries(keys, json_values | st.text(max_size=80), max_size=6)


def _run(command: str, suffix: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"input{suffix}"
        src.write_bytes(data)
        out = Path(tmp) / ("out.jsonl" if command == "label" else "metrics.json")
        args = [command, str(src), "-o", str(out)] + (["--no-meteor"] if command == "eval" else [])
        code = main(args)  # an exception other than a clear error fails the test with its traceback
        assert code in (0, 2)
        assert src.read_bytes() == data
        if code == 2:
            assert not out.exists()


@FUZZ
@given(command=st.sampled_from(["label", "eval"]), suffix=st.sampled_from([".jsonl", ".csv"]),
       data=st.binary(max_size=400))
def test_random_bytes(command, suffix, data):
    _run(command, suffix, data)


@FUZZ
@given(command=st.sampled_from(["label", "eval"]), lines=st.lists(rows, max_size=6))
def test_random_json_lines(command, lines):
    _run(command, ".jsonl", "".join(json.dumps(r) + "\n" for r in lines).encode())


csv_cells = st.text(alphabet=st.sampled_from(list('ab ,"\n\r;.1-')), max_size=12)


@FUZZ
@given(command=st.sampled_from(["label", "eval"]),
       header=st.lists(st.sampled_from(["id", "report", "prediction", "reference", "findings", "x"]),
                       min_size=1, max_size=4),
       cells=st.lists(st.lists(csv_cells, max_size=5), max_size=5))
def test_random_csv(command, header, cells):
    text = ",".join(header) + "\n" + "".join(",".join(row) + "\n" for row in cells)
    _run(command, ".csv", text.encode())
