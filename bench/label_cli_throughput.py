"""`radrl label` throughput on distinct reports, cold (a fresh process: nothing cached), with one
worker and with one per CPU, in one command.

    python bench/label_cli_throughput.py [--n 50000]

Two corpora of N distinct reports of 3-8 sentences, from the IU report sentences in
../shared/data:

* ``recombined``: the real sentences recombined. Every report is new (the report cache cannot
  help) but sentences recur, as they do in real and generated reports; the labeler caches
  mentions per sentence. The share of repeated sentences in the real IU reports is printed.
* ``distinct sentences``: every sentence made unique by a word of its own ("... on film kbdq"),
  so that no cache of any kind can help: the matcher's raw speed.

Wall time of the whole command, start-up and writing included. Target (issue 15): >= 10,000
reports/s on 2 cores. The outputs of the runs of one corpus are checked identical.
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


def _film_word(i: int) -> str:
    return "".join(chr(97 + (i // 26**j) % 26) for j in range(5))


def _run(name: str, texts: list[str], tmp: Path) -> None:
    src = tmp / f"{name}.jsonl"
    src.write_text("".join(json.dumps({"id": i, "report": t}) + "\n" for i, t in enumerate(texts)))
    results = {}
    for workers in (1, os.cpu_count() or 1):
        out = tmp / f"{name}-labels-{workers}.jsonl"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "radrl.cli", "label", str(src), "-o", str(out), "--workers",
                        str(workers)], check=True, capture_output=True)
        seconds = time.perf_counter() - t0
        results[workers] = (seconds, out.read_text())
        print(f"{name:20s} workers {workers}: {len(texts):,} distinct reports in {seconds:.2f} s = "
              f"{len(texts) / seconds:,.0f} reports/s (cold, whole command)")
    outputs = [r[1] for r in results.values()]
    assert all(o == outputs[0] for o in outputs), "labels differ between worker counts"
    one, many = results[1][0], results[max(results)][0]
    print(f"{name:20s} speed-up with {max(results)} workers: {one / many:.2f}x; labels identical")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    args = ap.parse_args()
    real = [s.strip() for r in iu_reports() for s in full_text(r).split(".") if s.strip()]
    sentences = sorted({s + "." for s in real})
    print(f"IU reports: {len(real):,} sentences, {1 - len(sentences) / len(real):.0%} of them repeats "
          "of an earlier one")
    rng = random.Random(0)
    texts: set[str] = set()
    while len(texts) < args.n:
        texts.add(" ".join(rng.sample(sentences, rng.randint(3, 8))))
    recombined = sorted(texts)
    counter = iter(range(10**9))
    unique = [" ".join(f"{s[:-1]} on film {_film_word(next(counter))}." for s in t.split(". ") if s.strip(". "))
              for t in recombined]
    with tempfile.TemporaryDirectory() as tmp:
        _run("recombined", recombined, Path(tmp))
        _run("distinct sentences", unique, Path(tmp))


if __name__ == "__main__":
    main()
