"""Helpers of the benchmark scripts: where the shared real data lies; a mean with its interval."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
IU_MESH = SHARED_DATA / "iu_xray" / "dev_reports_mesh.jsonl"
IU_ANNOTATION = SHARED_DATA / "iu_xray" / "annotation.json"


def need(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"{path} is missing: this benchmark reads the shared data folder ../shared/data")
    return path


def iu_reports() -> list[dict]:
    """The 2069 IU train studies with findings, impression and MeSH-derived positives."""
    with open(need(IU_MESH), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def full_text(row: dict) -> str:
    return " ".join(s for s in (row.get("findings", ""), row.get("impression", "")) if s)


def mean_ci(values: list[float]) -> dict:
    """Mean and 95 % t-interval of the mean over seeds (n - 1 degrees of freedom; a point for n = 1)."""
    from scipy import stats

    m = statistics.mean(values)
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5 \
        if len(values) > 1 else 0.0
    return {"mean": m, "ci95": [m - half, m + half], "n": len(values)}
