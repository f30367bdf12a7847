"""Token character spans for gradient DiTPO weights: incremental decoding against the prefix
decoding radrl used before (every prefix decoded: quadratic), same process, same texts.

    python bench/token_spans.py [--reps 5]

Texts: IU reports (../shared/data) joined until each reaches the length, tokenized with the
committed tiny SFT checkpoint's byte-level BPE. Prints the median seconds per completion of both
methods and their ratio per length; the spans are checked equal on every text.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _shared import full_text, iu_reports  # noqa: E402
from test_token_spans import prefix_spans  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from radrl.algorithms.saliency import token_char_spans  # noqa: E402
from radrl.assets import tiny_sft_checkpoint  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lengths", type=int, nargs="+", default=[64, 160, 512, 1024])
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(tiny_sft_checkpoint())
    stream = tok(" ".join(full_text(r) for r in iu_reports()[:400]), add_special_tokens=False)["input_ids"]
    print(f"{'tokens':>7s} {'prefix s':>10s} {'incremental s':>14s} {'speed-up':>9s}")
    for n in args.lengths:
        ids = stream[:n]
        assert token_char_spans(tok, ids) == prefix_spans(tok, ids)
        times = {"prefix": [], "incremental": []}
        for _ in range(args.reps):  # turns alternate, so noise hits both alike
            for name, fn in (("prefix", prefix_spans), ("incremental", token_char_spans)):
                t0 = time.perf_counter()
                fn(tok, ids)
                times[name].append(time.perf_counter() - t0)
        a, b = statistics.median(times["prefix"]), statistics.median(times["incremental"])
        print(f"{n:7d} {a:10.4f} {b:14.4f} {a / b:8.1f}x")


if __name__ == "__main__":
    main()
