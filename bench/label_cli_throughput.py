"""`radrl label` throughput on distinct reports, cold (a fresh process: nothing cached), with one
worker and with one per CPU, in one command.

    python bench/label_cli_throughput.py [--n 50000]

The texts: IU report sentences (../shared/data) recombined into N distinct reports of 3-8
sentences (distinct texts: the labeler's cache cannot help). Wall time of the whole command,
start-up and writing included. Target (issue 15): >= 10,000 reports/s on 2 cores. The outputs of
the two runs are checked identical.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shared import full_text, iu_reports


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    args = ap.parse_args()
    sentences = sorted({s.strip() + "." for r in iu_reports() for s in full_text(r).split(".") if s.strip()})
    rng = random.Random(0)
    texts: set[str] = set()
    while len(texts) < args.n:
        texts.add(" ".join(rng.sample(sentences, rng.randint(3, 8))))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "reports.jsonl"
        src.write_text("".join(json.dumps({"id": i, "report": t}) + "\n" for i, t in enumerate(sorted(texts))))
        results = {}
        for workers in (1, os.cpu_count() or 1):
            out = Path(tmp) / f"labels-{workers}.jsonl"
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "radrl.cli", "label", str(src), "-o", str(out), "--workers",
                            str(workers)], check=True, capture_output=True)
            seconds = time.perf_counter() - t0
            results[workers] = (seconds, out.read_text())
            print(f"workers {workers}: {args.n:,} distinct reports in {seconds:.2f} s = {args.n / seconds:,.0f} "
                  "reports/s (cold, whole command)")
        outputs = [r[1] for r in results.values()]
        assert all(o == outputs[0] for o in outputs), "labels differ between worker counts"
        one, many = results[1][0], results[max(results)][0]
        print(f"speed-up with {max(results)} workers: {one / many:.2f}x; labels identical")


if __name__ == "__main__":
    main()
