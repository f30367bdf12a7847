"""``radrl`` label, eval, compare and reward: score reports (no model)."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

from radrl.cli.common import (
    BATCH,
    _overrides,
    _report_text,  # noqa: F401
)
from radrl.cli_options import add_command_options
from radrl.config.commands import ScoringOptions
from radrl.io import (
    DuplicateIds,
    InputError,
    atomic_write_json,
    atomic_write_jsonl,
    check_output_path,
    read_records,
    record_id,
    text_field,
)
from radrl.reporting import format_metrics


def _capped(text: str, where: str, what: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a warning naming the line."""
    if limit and len(text) > limit:
        warnings.warn(f"{where}: {what} of {len(text):,} characters cut to the first {limit:,} "
                      "(--max-chars sets the cap)", stacklevel=2)
        return text[:limit]
    return text


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="report", disable=total < 5 * BATCH, file=sys.stderr)


def cmd_label(args: argparse.Namespace) -> int:
    from radrl.labelers import get_labeler

    check_output_path(args.output, args.input)
    ids: list = []
    texts: list[str] = []
    repeated = DuplicateIds(str(args.input))
    for lineno, row in read_records(args.input):
        where = f"{args.input}, line {lineno}"
        sample_id = record_id(row, where)
        text = _capped(_report_text(row, where), where, "report", args.max_chars)
        if repeated.keep(sample_id, lineno):
            ids.append(row["id"])
            texts.append(text)
    repeated.warn()
    labeler = get_labeler(args.labeler, args.weights)
    t0 = time.perf_counter()
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    with _progress(len(texts), "labelling") as bar:
        if labeler.name == "rule" and workers > 1 and len(texts) >= 4 * BATCH:
            from radrl.labelers.rule import label_in_processes

            labels = label_in_processes(texts, workers, BATCH, on_chunk=bar.update)
        else:
            labels = []
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
    from radrl.evaluation import evaluate_reports
    from radrl.labelers import get_labeler

    check_output_path(args.output, args.predictions)
    t0 = time.perf_counter()
    rows = _read_predictions(args.predictions, args.max_chars, need_id=False)
    preds, refs = [r[1] for r in rows], [r[2] for r in rows]
    labeler = get_labeler(args.labeler, args.weights)
    radeval_names = None
    if args.metrics:
        from radrl.metrics.radeval_adapter import parse_metrics

        radeval_names = parse_metrics(args.metrics)  # checked before the long part
    metrics = evaluate_reports(preds, refs, labeler, uncertain=args.uncertain, empty_match=args.empty_match,
                               meteor=not args.no_meteor)
    if radeval_names:
        from radrl.metrics.radeval_adapter import radeval_scores

        metrics["radeval"] = radeval_scores(radeval_names, preds, refs, allow_remote=args.allow_remote_metrics)
    for name, reason in metrics["nlg_errors"].items():
        print(f"{name}: not computed ({reason})", file=sys.stderr)
    seconds = time.perf_counter() - t0
    metrics["seconds"] = round(seconds, 3)
    atomic_write_json(args.output, metrics)
    print(format_metrics(metrics))
    print(f"wall time {seconds:.2f} s -> {args.output}")
    return 0


def _read_predictions(path, max_chars: int, need_id: bool) -> list[tuple[str | None, str, str]]:
    """(id, prediction, reference) per line of a predictions file: text values (capped at
    ``max_chars``), a repeated id kept once. ``need_id``: every line must have one (radrl compare
    pairs two files by it); otherwise a line without one is kept with id None."""
    rows: list[tuple[str | None, str, str]] = []
    repeated = DuplicateIds(str(path))
    needed = ("id", "prediction", "reference") if need_id else ("prediction", "reference")
    for lineno, row in read_records(path):
        where = f"{path}, line {lineno}"
        missing = [k for k in needed if k not in row]
        if missing:
            raise InputError(f"{where}: missing {', '.join(repr(m) for m in missing)}; "
                             f"each line needs 'id', 'prediction' and 'reference'")
        pred, ref = (_capped(text_field(row, k, where) or "", where, k, max_chars) for k in ("prediction", "reference"))
        sample_id = record_id(row, where) if "id" in row else None
        if sample_id is None or repeated.keep(sample_id, lineno):
            rows.append((sample_id, pred, ref))
    repeated.warn()
    if not rows:
        raise InputError(f"{path}: no predictions in the file")
    return rows


def cmd_compare(args: argparse.Namespace) -> int:
    from radrl.labelers import get_labeler
    from radrl.metrics.compare import compare_predictions, format_comparison

    if args.output:
        check_output_path(args.output, args.a, args.b)
    a, b = ({i: (p, r) for i, p, r in _read_predictions(path, args.max_chars, need_id=True)}
            for path in (args.a, args.b))
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        raise InputError(f"{args.a} and {args.b} must hold the same ids: {len(only_a)} only in A "
                         f"(first: {', '.join(only_a[:3])}), {len(only_b)} only in B (first: {', '.join(only_b[:3])})")
    ids = list(a)
    differ = [i for i in ids if a[i][1] != b[i][1]]
    if differ:
        raise InputError(f"the references of {len(differ)} ids differ between the files (first: {differ[0]!r}); "
                         "compare systems on the same references")
    refs = [a[i][1] for i in ids]
    labeler = get_labeler(args.labeler, args.weights)
    t0 = time.perf_counter()
    labels = labeler.label_batch([a[i][0] for i in ids] + [b[i][0] for i in ids] + refs)
    n = len(ids)
    metrics = compare_predictions([a[i][0] for i in ids], [b[i][0] for i in ids], refs, labels[:n], labels[n:2 * n],
                                  labels[2 * n:], resamples=args.resamples, seed=args.seed, uncertain=args.uncertain,
                                  empty_match=args.empty_match, progress=n * args.resamples > 200_000)
    result = {"n": n, "a": str(args.a), "b": str(args.b), "labeler": labeler.name, "resamples": args.resamples,
              "seed": args.seed, "settings": {"uncertain": args.uncertain, "empty_match": args.empty_match},
              "metrics": metrics, "seconds": round(time.perf_counter() - t0, 2)}
    print(format_comparison(result))
    if args.output:
        atomic_write_json(args.output, result)
        print(f"-> {args.output}")
    return 0


def cmd_reward(args: argparse.Namespace) -> int:
    from radrl.recipe import load_rl_recipe
    from radrl.rewards.offline import prediction_rows, score_rows

    check_output_path(args.output, args.predictions)
    recipe = load_rl_recipe(args.recipe, args.tiny, args.overrides, purpose="radrl reward scores with")
    rows = prediction_rows(args.predictions)
    scored = score_rows(recipe, rows, step=args.step)
    atomic_write_jsonl(args.output, scored)
    mean = sum(r["reward"] for r in scored) / len(scored)
    from radrl.rewards.schedule import weight_at

    # the weights applied at this step (a schedule's, as the trainer uses them), not the initial ones
    names = ", ".join(f"{e.params.get('name') or e.type} x {weight_at(args.step, e.weight, e.schedule):g}"
                      for e in recipe.rewards)
    print(f"{len(scored)} predictions, mean reward {mean:.4f} ({names}, step {args.step}) -> {args.output}",
          file=sys.stderr)
    return 0

def labeler_options(sp: argparse.ArgumentParser) -> None:
    from radrl.labelers import LABELERS

    add_command_options(sp, ScoringOptions, ("labeler", "weights", "max_chars"), choices={"labeler": LABELERS.names()})


def binarise_options(sp: argparse.ArgumentParser) -> None:
    """How labels become 0/1 for the clinical scores (``radrl eval`` and ``radrl compare`` alike)."""
    add_command_options(sp, ScoringOptions, ("uncertain", "empty_match"))


def add_parsers(sub) -> None:

    sp = sub.add_parser("label", help="label reports with the 14 CheXpert observations")
    sp.add_argument("input", help=".jsonl with 'id' and 'report' (or 'findings'/'impression'), or .csv with 'id','report'")
    sp.add_argument("-o", "--output", required=True, help="output .jsonl: one {'id', 'labels'} per input line")
    labeler_options(sp)
    add_command_options(sp, ScoringOptions, ("workers",))
    sp.set_defaults(func="cmd_label")

    sp = sub.add_parser("eval", help="NLG and clinical-efficacy metrics of generated reports")
    sp.add_argument("predictions", help=".jsonl with 'id', 'prediction', 'reference'")
    sp.add_argument("-o", "--output", required=True, help="METRICS.json")
    labeler_options(sp)
    binarise_options(sp)
    sp.add_argument("--no-meteor", action="store_true", help="skip METEOR (it needs Java)")
    sp.add_argument("--metrics", metavar="radeval:NAME,...", help="also RadEval's metrics (radrl[radeval]): "
                    "bertscore, radgraph, radcliq, green, ...")
    sp.add_argument("--allow-remote-metrics", action="store_true",
                    help="let RadEval's API-based metrics (crimson, radfact_ct, mammo_green) send the reports out")
    sp.set_defaults(func="cmd_eval")

    sp = sub.add_parser("compare", help="two systems' predictions: every metric, paired bootstrap CI, randomisation p")
    sp.add_argument("a", help="predictions .jsonl of system A (id, prediction, reference)")
    sp.add_argument("b", help="predictions .jsonl of system B, over the same ids and references")
    sp.add_argument("-o", "--output", help="COMPARISON.json")
    labeler_options(sp)
    binarise_options(sp)
    add_command_options(sp, ScoringOptions, ("resamples", "seed"))
    sp.set_defaults(func="cmd_compare")

    sp = sub.add_parser("reward", help="score predictions with a recipe's rewards exactly as training would (no model)")
    sp.add_argument("predictions", help=".jsonl: id, prediction, reference (or reference_findings + "
                    "reference_impression), optional labels")
    sp.add_argument("--recipe", required=True, help="an RL recipe (name or YAML path)")
    sp.add_argument("--tiny", action="store_true", help="the recipe's tiny variant")
    add_command_options(sp, ScoringOptions, ("step",))
    sp.add_argument("-o", "--output", required=True, help="output .jsonl: id, reward, components")
    _overrides(sp)
    sp.set_defaults(func="cmd_reward")
