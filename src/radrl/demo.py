"""``radrl demo`` / ``make demo``: the main job on the embedded default.

Until the synthetic benchmark and the SFT/RL stages land (issues #3 and #4), the demo runs the
evaluation path end to end on a few embedded, hand-written report pairs: it labels them with the
rule labeler, scores "generated" reports against references (clinical + NLG), and writes a run
folder with ``predictions.jsonl``, ``labels.jsonl`` and ``metrics.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from radrl.io import atomic_write_json, atomic_write_jsonl

# Hand-written for radrl: (reference, generated) pairs with the typical errors of a generator.
EXAMPLE_PAIRS = [
    ("The heart is normal in size. The lungs are clear. No pleural effusion or pneumothorax.",
     "Heart size is normal. Lungs are clear without focal consolidation. No pneumothorax."),
    ("Moderate cardiomegaly. Small bilateral pleural effusions. Mild pulmonary edema.",
     "Mild cardiomegaly. No pleural effusion. No pulmonary edema."),
    ("Right lower lobe consolidation concerning for pneumonia. No pneumothorax.",
     "Right lower lobe airspace opacity, likely atelectasis. No pneumothorax."),
    ("Left PICC line with tip in the SVC. No focal airspace disease. Heart size normal.",
     "Left PICC with tip at the cavoatrial junction. No focal airspace disease."),
    ("Small right apical pneumothorax. Healed left rib fractures.",
     "No pneumothorax. Old healed left rib fractures."),
    ("Hyperexpanded lungs compatible with emphysema. No acute cardiopulmonary process.",
     "The lungs are hyperinflated. No acute cardiopulmonary abnormality."),
]


def run_demo(args: argparse.Namespace) -> int:
    from radrl.cli import format_metrics
    from radrl.labelers import get_labeler
    from radrl.metrics import clinical_metrics, nlg_metrics

    out = Path(getattr(args, "out", "runs/demo"))
    refs = [r for r, _ in EXAMPLE_PAIRS]
    preds = [p for _, p in EXAMPLE_PAIRS]
    labeler = get_labeler("rule")
    pred_labels = labeler.label_batch(preds)
    ref_labels = labeler.label_batch(refs)
    nlg, errors = nlg_metrics(preds, refs)
    metrics = {"n": len(preds), "labeler": labeler.name, "nlg": nlg,
               "clinical": clinical_metrics(pred_labels, ref_labels), "nlg_errors": errors}
    atomic_write_jsonl(out / "predictions.jsonl",
                       [{"id": f"example-{i}", "prediction": p, "reference": r}
                        for i, (r, p) in enumerate(EXAMPLE_PAIRS)])
    atomic_write_jsonl(out / "labels.jsonl",
                       [{"id": f"example-{i}", "prediction": pl, "reference": rl}
                        for i, (pl, rl) in enumerate(zip(pred_labels, ref_labels))])
    atomic_write_json(out / "metrics.json", metrics)
    print("radrl demo (evaluation path; SFT and RL stages are not yet in this version)\n")
    for i, (r, p) in enumerate(EXAMPLE_PAIRS):
        pos_r = [k for k, v in ref_labels[i].items() if v == "positive"]
        pos_p = [k for k, v in pred_labels[i].items() if v == "positive"]
        print(f"[{i}] reference: {r}\n    generated: {p}\n    positives ref={pos_r} gen={pos_p}")
    print()
    print(format_metrics(metrics))
    print(f"\nrun folder: {out}/ (predictions.jsonl, labels.jsonl, metrics.json)")
    return 0
