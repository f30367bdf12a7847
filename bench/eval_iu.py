"""`radrl eval` on the 590 IU X-Ray test reports vs direct pycocoevalcap calls.

    python bench/eval_iu.py

Pairs each test reference (R2Gen split of ../shared/data/iu_xray/annotation.json) with the
reference of another study (a fixed shuffle, seed 0), runs the `radrl eval` command in a
subprocess, and scores the same R2Gen-cleaned text with pycocoevalcap's scorers directly. The
NLG numbers must agree to 1e-9 (issue #2); the wall time of `radrl eval` is printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shared import IU_ANNOTATION, need

from radrl.metrics.nlg import java_available, literature_text


def direct_pycocoevalcap(preds: list[str], refs: list[str]) -> dict[str, float]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge

    res = {i: [literature_text(p)] for i, p in enumerate(preds)}
    gts = {i: [literature_text(r)] for i, r in enumerate(refs)}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    out = {f"bleu_{n + 1}": bleu[n] for n in range(4)}
    out["rouge_l"] = Rouge().compute_score(gts, res)[0]
    out["cider"] = Cider().compute_score(gts, res)[0]
    if java_available():
        out["meteor"] = Meteor().compute_score(gts, res)[0]
    return out


def main() -> None:
    test = json.loads(need(IU_ANNOTATION).read_text(encoding="utf-8"))["test"]
    refs = [s["report"] for s in test]
    rng = random.Random(0)
    order = list(range(len(refs)))
    rng.shuffle(order)
    preds = [refs[j] for j in order]
    with tempfile.TemporaryDirectory() as tmp:
        pred_file = Path(tmp) / "predictions.jsonl"
        pred_file.write_text("".join(json.dumps({"id": s["id"], "prediction": p, "reference": r}) + "\n"
                                     for s, p, r in zip(test, preds, refs)), encoding="utf-8")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "radrl.cli", "eval", str(pred_file), "-o", f"{tmp}/m.json"],
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        ours = json.loads(Path(f"{tmp}/m.json").read_text())
    t0 = time.perf_counter()
    theirs = direct_pycocoevalcap(preds, refs)
    direct_wall = time.perf_counter() - t0
    print(f"{len(refs)} IU test pairs (reference vs shuffled reference)")
    print(f"{'metric':10s} {'radrl eval':>12s} {'pycocoevalcap':>14s} {'|diff|':>9s}")
    worst = 0.0
    for k, v in theirs.items():
        diff = abs(ours["nlg"][k] - v)
        worst = max(worst, diff)
        print(f"{k:10s} {ours['nlg'][k]:12.9f} {v:14.9f} {diff:9.1e}")
    print(f"largest difference {worst:.1e} (must be <= 1e-9): {'OK' if worst <= 1e-9 else 'FAIL'}")
    print(f"clinical example F1 {ours['clinical']['example']['f1']:.4f}, macro F1 {ours['clinical']['macro']['f1']:.4f}")
    print(f"wall time: radrl eval (subprocess, incl. start-up, labelling, METEOR jar) {wall:.2f} s; "
          f"direct pycocoevalcap {direct_wall:.2f} s")
    sys.exit(0 if worst <= 1e-9 else 1)


if __name__ == "__main__":
    main()
