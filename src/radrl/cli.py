"""``radrl <command>``: the command-line entry point.

Commands and their file contracts (other tools rely on them; see docs/cli.md):

* ``radrl label INPUT -o OUTPUT [--labeler rule|chexbert] [--weights PATH]``
* ``radrl eval PREDICTIONS -o METRICS.json [--labeler ...] [--uncertain ...] [--empty-match ...]``
* ``radrl demo``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from radrl import __version__
from radrl.data.sections import join_sections
from radrl.io import InputError, atomic_write_json, atomic_write_jsonl, read_records

BATCH = 2048


def _report_text(row: dict, where: str) -> str:
    """The report of an input row: ``report``, else FINDINGS + IMPRESSION."""
    if "report" in row:
        value = row["report"]
    elif "findings" in row or "impression" in row:
        value = join_sections(*(None if row.get(k) is None else str(row[k]) for k in ("findings", "impression")))
    else:
        raise InputError(
            f"{where}: no 'report' (or 'findings'/'impression') field; found {sorted(row)}"
        )
    return "" if value is None else str(value)


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="report", disable=total < 5 * BATCH, file=sys.stderr)


def cmd_label(args: argparse.Namespace) -> int:
    from radrl.labelers import get_labeler

    ids: list = []
    texts: list[str] = []
    for lineno, row in read_records(args.input):
        where = f"{args.input}, line {lineno}"
        if "id" not in row or row["id"] in (None, ""):
            raise InputError(f"{where}: missing 'id'")
        ids.append(row["id"])
        texts.append(_report_text(row, where))
    labeler = get_labeler(args.labeler, args.weights)
    t0 = time.perf_counter()
    labels = []
    with _progress(len(texts), "labelling") as bar:
        for i in range(0, len(texts), BATCH):
            labels.extend(labeler.label_batch(texts[i : i + BATCH]))
            bar.update(min(BATCH, len(texts) - i))
    seconds = time.perf_counter() - t0
    atomic_write_jsonl(args.output, [{"id": i, "labels": lab} for i, lab in zip(ids, labels)])
    empty = sum(not t.strip() for t in texts)
    note = f" ({empty} empty reports labelled all blank)" if empty else ""
    print(f"labelled {len(texts)} reports with the {labeler.name} labeler in {seconds:.2f} s"
          f"{note} -> {args.output}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from radrl.labelers import get_labeler
    from radrl.metrics import clinical_metrics, nlg_metrics

    t0 = time.perf_counter()
    ids, preds, refs = [], [], []
    for lineno, row in read_records(args.predictions):
        where = f"{args.predictions}, line {lineno}"
        missing = [k for k in ("prediction", "reference") if k not in row]
        if missing:
            raise InputError(f"{where}: missing {', '.join(repr(m) for m in missing)}; "
                             "each line needs 'id', 'prediction' and 'reference'")
        ids.append(row.get("id", lineno))
        preds.append("" if row["prediction"] is None else str(row["prediction"]))
        refs.append("" if row["reference"] is None else str(row["reference"]))
    if not preds:
        raise InputError(f"{args.predictions}: no predictions in the file")
    labeler = get_labeler(args.labeler, args.weights)
    labels = labeler.label_batch(preds + refs)
    clinical = clinical_metrics(labels[: len(preds)], labels[len(preds) :],
                                uncertain=args.uncertain, empty_match=args.empty_match)
    nlg, nlg_errors = nlg_metrics(preds, refs, meteor=not args.no_meteor)
    for name, reason in nlg_errors.items():
        print(f"{name}: not computed ({reason})", file=sys.stderr)
    seconds = time.perf_counter() - t0
    metrics = {
        "n": len(preds),
        "labeler": labeler.name,
        "nlg": nlg,
        "clinical": clinical,
        "nlg_errors": nlg_errors,
        "seconds": round(seconds, 3),
        "radrl_version": __version__,
    }
    atomic_write_json(args.output, metrics)
    print(format_metrics(metrics))
    print(f"wall time {seconds:.2f} s -> {args.output}")
    return 0


def format_metrics(metrics: dict) -> str:
    """A short human-readable table of an eval result."""
    def f(v):
        return "  n/a " if v is None else f"{v:6.4f}"

    nlg, cl = metrics["nlg"], metrics["clinical"]
    lines = [f"n = {metrics['n']}, labeler = {metrics['labeler']}",
             "NLG       " + "  ".join(f"{k.upper().replace('_', '-')}={f(v)}" for k, v in nlg.items()),
             f"{'clinical':10s}{'P':>8s}{'R':>8s}{'F1':>8s}"]
    for block in ("example", "macro", "micro", "micro_5"):
        b = cl[block]
        lines.append(f"{block:10s}{b['precision']:8.4f}{b['recall']:8.4f}{b['f1']:8.4f}")
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    from radrl.demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    from radrl.labelers import LABELERS

    p = argparse.ArgumentParser(prog="radrl", description="RL on clinical rewards for chest X-ray report generation")
    p.add_argument("--version", action="version", version=f"radrl {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def labeler_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--labeler", choices=LABELERS, default="rule", help="default: rule (offline)")
        sp.add_argument("--weights", help="checkpoint of a model-backed labeler (chexbert.pth or a folder)")

    sp = sub.add_parser("label", help="label reports with the 14 CheXpert observations")
    sp.add_argument("input", help=".jsonl with 'id' and 'report' (or 'findings'/'impression'), or .csv with 'id','report'")
    sp.add_argument("-o", "--output", required=True, help="output .jsonl: one {'id', 'labels'} per input line")
    labeler_options(sp)
    sp.set_defaults(func=cmd_label)

    sp = sub.add_parser("eval", help="NLG and clinical-efficacy metrics of generated reports")
    sp.add_argument("predictions", help=".jsonl with 'id', 'prediction', 'reference'")
    sp.add_argument("-o", "--output", required=True, help="METRICS.json")
    labeler_options(sp)
    sp.add_argument("--uncertain", choices=["negative", "positive"], default="negative",
                    help="how uncertain labels count when binarised (default: negative)")
    sp.add_argument("--empty-match", choices=["zero", "one"], default="zero",
                    help="example-based score when neither report has a positive (default: zero)")
    sp.add_argument("--no-meteor", action="store_true", help="skip METEOR (it needs Java)")
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("demo", help="the main job on the embedded default")
    sp.add_argument("--out", default="runs/demo", help="run folder")
    sp.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"radrl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad option combinations, unknown labeler, ...
        print(f"radrl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
