"""Training logs on disk: every logged step appended to ``metrics.jsonl`` (flushed at once, so
a crash loses nothing), ``metrics.csv`` and a plot of the curves at the end.

On resume, lines logged after the checkpoint's step (by the run that crashed) are dropped first,
so the file holds each step once.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from transformers import TrainerCallback

from radrl.io import atomic_write_text


def read_log(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash
            continue
    return rows


def write_csv(rows: list[dict], path: str | Path) -> None:
    columns = sorted({k for r in rows for k in r}, key=lambda k: (k != "step", k))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


class MetricsLogCallback(TrainerCallback):
    """Append each ``on_log`` to ``out/metrics.jsonl``; at the end write ``metrics.csv`` and
    ``rl_curves.png``."""

    def __init__(self, out_dir: str | Path, plot: bool = True):
        self.out = Path(out_dir)
        self.path = self.out / "metrics.jsonl"
        self.plot = plot

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_log(self.path) if r.get("step", 0) <= state.global_step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()

    def on_train_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        rows = [r for r in read_log(self.path) if "train_runtime" not in r]
        if rows:
            write_csv(rows, self.out / "metrics.csv")
            if self.plot:
                from radrl.reporting import plot_rl_curves

                plot_rl_curves(rows, self.out / "rl_curves.png")
