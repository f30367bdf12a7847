"""``radrl <command>``: the command-line entry point.

Commands and their file contracts (other tools rely on them; see docs/cli.md):

* ``radrl label INPUT -o OUTPUT [--labeler rule|chexbert] [--weights PATH]``
* ``radrl eval PREDICTIONS -o METRICS.json [--labeler ...] [--uncertain ...] [--empty-match ...]``
* ``radrl synth OUT``, ``radrl tiny-model OUT --corpus KIND:PATH``
* ``radrl sft --model M --data KIND:PATH -o RUN``, ``radrl generate MODEL --data KIND:PATH -o PRED.jsonl``
* ``radrl labeler train --data KIND:PATH -o OUT [--size tiny|small|base]``: a CheXbert-architecture labeler
* ``radrl analyze masking --labeler-weights PATH``: DEER's token-masking table
* ``radrl select METHOD --data KIND:PATH -o SUBSET.json``: DDSampling, Target Exploration, balanced
* ``radrl analyze rewards --data KIND:PATH --subset SUBSET.json``: DEER's reward-diversity table
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
from radrl.io import InputError, atomic_write_json, atomic_write_jsonl, read_records, read_yaml

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
    from radrl.evaluation import evaluate_reports
    from radrl.labelers import get_labeler

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
    metrics = evaluate_reports(preds, refs, labeler, uncertain=args.uncertain, empty_match=args.empty_match,
                               meteor=not args.no_meteor)
    for name, reason in metrics["nlg_errors"].items():
        print(f"{name}: not computed ({reason})", file=sys.stderr)
    seconds = time.perf_counter() - t0
    metrics["seconds"] = round(seconds, 3)
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


def _data_arg(spec: str) -> tuple[str, str]:
    from radrl.data.registry import KINDS

    kind, sep, path = spec.partition(":")
    if not sep or kind not in KINDS:
        raise InputError(f"--data must be KIND:PATH with KIND one of {', '.join(KINDS)}; got {spec!r}")
    return kind, path


def cmd_synth(args: argparse.Namespace) -> int:
    from radrl.data.synthetic import SyntheticConfig, build_synthetic

    cfg = SyntheticConfig(n_train=args.n_train, n_val=args.n_val, n_test=args.n_test, seed=args.seed,
                          image_size=args.image_size, normal_fraction=args.normal_fraction)
    root = build_synthetic(args.output, cfg)
    print(f"synthetic benchmark (seed {cfg.seed}: {cfg.n_train}/{cfg.n_val}/{cfg.n_test}) -> {root}")
    return 0


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from radrl.data.registry import load_dataset
    from radrl.models.tiny import TinyVLMConfig, build_tiny_vlm

    kind, path = _data_arg(args.corpus)
    texts = [s.report for s in load_dataset(kind, path, split="train")]
    out = build_tiny_vlm(args.output, texts, TinyVLMConfig(seed=args.seed))
    print(f"tiny Qwen2.5-VL (tokenizer trained on {len(texts)} reports) -> {out}")
    return 0


def cmd_sft(args: argparse.Namespace) -> int:
    from radrl.data.registry import load_dataset
    from radrl.training.sft import SFTSettings, run_sft

    settings = SFTSettings.from_dict((read_yaml(args.config) if args.config else {}).get("sft", {}))
    for name in ("epochs", "max_steps", "batch_size", "learning_rate", "freeze", "seed"):
        value = getattr(args, name)
        if value is not None:
            setattr(settings, name, value)
    kind, path = _data_arg(args.data)
    train = load_dataset(kind, path, split=args.split, limit=args.limit)
    final = run_sft(args.model, train, args.output, settings, resume=not args.no_resume,
                    trust_remote_code=args.trust_remote_code)
    print(f"SFT model -> {final}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    import torch

    from radrl.data.registry import load_dataset
    from radrl.generation import GenerationSettings, generate_reports
    from radrl.models import load_policy

    kind, path = _data_arg(args.data)
    samples = load_dataset(kind, path, split=args.split, limit=args.limit)
    if not samples:
        raise InputError(f"{path}: no samples in split {args.split!r}")
    settings = GenerationSettings(mode=args.mode, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                                  temperature=args.temperature, top_p=args.top_p, num_beams=args.num_beams,
                                  num_return_sequences=args.num_return_sequences, seed=args.seed)
    settings.generate_kwargs()  # validate before loading the model
    model, processor = load_policy(args.model, trust_remote_code=args.trust_remote_code)
    if torch.cuda.is_available():
        model.to("cuda")
    t0 = time.perf_counter()
    outputs = generate_reports(model, processor, samples, settings)
    seconds = time.perf_counter() - t0
    rows = []
    for s, outs in zip(samples, outputs):
        row = {"id": s.id, "prediction": outs[0], "reference": s.report}
        if len(outs) > 1:
            row["predictions"] = outs
        rows.append(row)
    atomic_write_jsonl(args.output, rows)
    print(f"{len(rows)} reports in {seconds:.1f} s ({len(rows) / seconds:.2f} reports/s, {settings.mode}) "
          f"-> {args.output}", file=sys.stderr)
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from radrl.pipeline import run_pipeline

    result = run_pipeline(read_yaml(args.recipe), args.output, meteor=not args.no_meteor)
    print(format_metrics(result["metrics"]))
    print(f"model -> {result['model']}; metrics -> {Path(args.output) / 'eval' / 'metrics.json'}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from radrl.training.rl import load_recipe, run_rl

    recipe = load_recipe(args.recipe, tiny=args.tiny, overrides=args.overrides)
    out = args.output or f"runs/{Path(recipe['_source']).stem}{'-tiny' if args.tiny else ''}"
    result = run_rl(recipe, out, resume=args.resume, evaluate=not args.no_eval)
    print(f"RL model -> {result['model']}")
    if result["metrics"]:
        print(format_metrics(result["metrics"]))
    return 0


def _report_corpus(spec: str, split: str | None) -> list[str]:
    """Report texts of ``KIND:PATH`` (``records`` files need no images)."""
    from radrl.data.registry import load_dataset

    kind, path = _data_arg(spec)
    if kind == "records":
        return [_report_text(row, f"{path}, line {n}") for n, row in read_records(path)]
    options = {} if kind == "synthetic" else {"check_images": "none"}
    return [s.report for s in load_dataset(kind, path, split=split, **options)]


def cmd_labeler_train(args: argparse.Namespace) -> int:
    from radrl.labelers.chexbert_training import LabelerTrainSettings, train_labeler
    from radrl.metrics.agreement import format_agreement

    reports = _report_corpus(args.data, args.split or None)
    settings = LabelerTrainSettings(size=args.size, epochs=args.epochs, learning_rate=args.learning_rate,
                                    batch_size=args.batch_size, max_length=args.max_length,
                                    val_fraction=args.val_fraction, vocab_size=args.vocab_size, vocab=args.vocab,
                                    init=args.init, seed=args.seed)
    card = train_labeler(reports, args.output, settings, resume=args.resume)
    print(format_agreement(card["agreement"]))
    print(f"{card['parameters']:,} parameters, {card['n_train_reports']} training / {card['n_heldout_reports']} "
          f"held-out reports, {card['train_seconds']:.0f} s -> {Path(args.output) / 'labeler'} "
          f"(use --labeler chexbert --weights {args.output})")
    return 0


def cmd_analyze_masking(args: argparse.Namespace) -> int:
    from radrl.analysis.masking import format_masking_table, rollout_masking
    from radrl.data.registry import load_dataset
    from radrl.labelers import get_labeler
    from radrl.training.rl import resolve_model_path

    kind, path = _data_arg(args.data)
    samples = load_dataset(kind, path, split=args.split)
    chexbert = get_labeler("chexbert", args.labeler_weights) if args.labeler_weights else None
    if chexbert is None:
        print("no --labeler-weights: the gradient row is left out", file=sys.stderr)
    result = rollout_masking(resolve_model_path(args.model), samples, chexbert, n_prompts=args.n_prompts,
                             group_size=args.group_size, fraction=args.fraction, temperature=args.temperature,
                             seed=args.seed)
    if args.output:
        atomic_write_json(args.output, result)
    print(format_masking_table(result))
    return 0


def _format_selection(result: dict) -> str:
    pos = result["summary"]["label_positives"]
    lines = [f"{result['method']}: {len(result['ids'])} of {result['n_source']} samples",
             f"{'observation':28s} {'positive, all':>14s} {'in subset':>10s}"]
    for name in pos["before"]:
        lines.append(f"{name:28s} {pos['before'][name]:14.1%} {pos['after'][name]:10.1%}")
    for key, st in result["summary"]["scores"].items():
        if isinstance(st, float):
            lines.append(f"{key:28s} {st:.3f}")
        elif st:
            lines.append(f"{key:28s} mean {st['mean']:.3f} (std {st['std']:.3f}, {st['min']:.3f}..{st['max']:.3f})")
    return "\n".join(lines)


def cmd_select(args: argparse.Namespace) -> int:
    from radrl.data.registry import load_dataset
    from radrl.selection import select_subset
    from radrl.training.rl import resolve_model_path

    kind, path = _data_arg(args.data)
    samples = load_dataset(kind, path, split=args.split, limit=args.limit)
    if args.fraction is None and args.size is None:
        raise InputError("give --fraction F or --size N")
    model = resolve_model_path(args.model) if args.model else None
    result = select_subset(args.method, samples, args.output, model=model, fraction=args.fraction, size=args.size,
                           k=args.k, temperature=args.temperature, top_p=args.top_p, draw=args.draw, seed=args.seed)
    print(_format_selection(result))
    print(f"-> {args.output} (use it with data.subset={args.output})")
    return 0


def cmd_analyze_rewards(args: argparse.Namespace) -> int:
    from radrl.analysis.reward_diversity import (
        format_diversity_table,
        reward_diversity,
        sample_groups,
    )
    from radrl.data.registry import load_dataset
    from radrl.rewards import build_rewards
    from radrl.selection import read_subset
    from radrl.training.rl import resolve_model_path

    kind, path = _data_arg(args.data)
    samples = load_dataset(kind, path, split=args.split)
    subsets = {"all": None} if args.all or not args.subset else {}
    for spec in args.subset or []:
        subsets[Path(spec).stem] = read_subset(spec)
    reward = build_rewards([{"type": args.reward}]).functions[0]
    rows = {}
    for name, ids in subsets.items():
        chosen = [s for s in samples if ids is None or str(s.id) in ids][: args.n_prompts]
        if not chosen:
            raise InputError(f"subset {name}: none of its ids is in {path} ({args.split})")
        groups = sample_groups(resolve_model_path(args.model), chosen, args.group_size, args.temperature,
                               seed=args.seed)
        rows[name] = reward_diversity(groups, [s.report for s in chosen], reward, [s.labels for s in chosen])
    if args.output:
        atomic_write_json(args.output, rows)
    print(f"reward {args.reward}, {args.group_size} rollouts per prompt (temperature {args.temperature})")
    print(format_diversity_table(rows))
    return 0


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

    sp = sub.add_parser("synth", help="write the synthetic chest X-ray benchmark")
    sp.add_argument("output", help="folder (annotation.json, images/, config.json)")
    sp.add_argument("--n-train", type=int, default=2000)
    sp.add_argument("--n-val", type=int, default=100)
    sp.add_argument("--n-test", type=int, default=200)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--image-size", type=int, default=224)
    sp.add_argument("--normal-fraction", type=float, default=0.3)
    sp.set_defaults(func=cmd_synth)

    sp = sub.add_parser("tiny-model", help="build the tiny offline Qwen2.5-VL (tokenizer trained on a corpus)")
    sp.add_argument("output", help="model folder")
    sp.add_argument("--corpus", required=True, help="KIND:PATH of the reports to train the tokenizer on")
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=cmd_tiny_model)

    def data_options(sp: argparse.ArgumentParser, split: str) -> None:
        sp.add_argument("--data", required=True, help="KIND:PATH, e.g. synthetic:runs/demo/data or r2gen:annotation.json")
        sp.add_argument("--split", default=split)
        sp.add_argument("--limit", type=int, help="use the first N samples only")
        sp.add_argument("--trust-remote-code", action="store_true", help="run the checkpoint's own code (off by default)")

    sp = sub.add_parser("sft", help="supervised fine-tuning (TRL SFTTrainer), resumable")
    sp.add_argument("--model", required=True, help="hub id or local folder of an image-text-to-text model")
    sp.add_argument("-o", "--output", required=True, help="run folder: checkpoints/ and final/")
    data_options(sp, "train")
    sp.add_argument("--config", help="YAML recipe; its 'sft' section sets SFTSettings")
    sp.add_argument("--epochs", type=float)
    sp.add_argument("--max-steps", type=int)
    sp.add_argument("--batch-size", type=int)
    sp.add_argument("--learning-rate", type=float)
    sp.add_argument("--freeze", choices=["none", "lm", "vision", "all"])
    sp.add_argument("--seed", type=int)
    sp.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    sp.set_defaults(func=cmd_sft)

    sp = sub.add_parser("generate", help="write reports for a dataset split (radrl eval format)")
    sp.add_argument("model", help="model folder or hub id")
    sp.add_argument("-o", "--output", required=True, help="predictions .jsonl: id, prediction, reference")
    data_options(sp, "test")
    sp.add_argument("--mode", choices=["greedy", "sample", "beam"], default="greedy")
    sp.add_argument("--max-new-tokens", type=int, default=160)
    sp.add_argument("--batch-size", type=int, default=16)
    sp.add_argument("--temperature", type=float, default=1.0)
    sp.add_argument("--top-p", type=float, default=0.9)
    sp.add_argument("--num-beams", type=int, default=3)
    sp.add_argument("--num-return-sequences", type=int, default=1)
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=cmd_generate)

    sp = sub.add_parser("pipeline", help="synthetic benchmark -> tiny VLM -> SFT -> generate -> eval, from a recipe")
    sp.add_argument("recipe", help="YAML with sections synthetic, tiny_model, sft, evaluate (see recipes/)")
    sp.add_argument("-o", "--output", required=True, help="run folder (re-running resumes)")
    sp.add_argument("--no-meteor", action="store_true")
    sp.set_defaults(func=cmd_pipeline)

    sp = sub.add_parser("train", help="RL (GRPO / DiTPO / CAPO / OraPO) from a recipe, resumable")
    sp.add_argument("--recipe", required=True, help="a name in recipes/ (grpo, deer, mrg_r1, orapo, radflow) or a YAML")
    sp.add_argument("--tiny", action="store_true", help="the recipe's CPU-sized variant (tiny model, synthetic data)")
    sp.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint in -o")
    sp.add_argument("-o", "--output", help="run folder (default runs/RECIPE[-tiny])")
    sp.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    sp.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                    help="recipe overrides, e.g. rl.learning_rate=1e-5 rl.max_steps=100 data.limit=500")
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("labeler", help="CheXbert-architecture labeler: train one on silver labels")
    lsub = sp.add_subparsers(dest="labeler_command", required=True)
    lp = lsub.add_parser("train", help="train on any report corpus with the rule labeler's labels; saves safetensors")
    lp.add_argument("--data", required=True, help="KIND:PATH, e.g. synthetic:runs/synthetic, r2gen:annotation.json, "
                    "records:reports.jsonl")
    lp.add_argument("--split", default="train", help="split of KIND:PATH to read ('' for all); default train")
    lp.add_argument("-o", "--output", required=True, help="run folder: OUT/labeler, OUT/agreement.json")
    lp.add_argument("--size", default="tiny", help="tiny | small | base (bert-base); ignored with --init")
    lp.add_argument("--epochs", type=float, default=30.0)
    lp.add_argument("--learning-rate", type=float, default=3e-3, help="default 3e-3 (tiny); ~5e-5 for base/--init")
    lp.add_argument("--batch-size", type=int, default=32)
    lp.add_argument("--max-length", type=int, default=512, help="token cut while training (CheXbert: 512)")
    lp.add_argument("--val-fraction", type=float, default=0.1, help="held-out share of distinct reports")
    lp.add_argument("--vocab-size", type=int, default=4000, help="WordPiece vocabulary trained on the corpus")
    lp.add_argument("--vocab", help="use this vocab.txt instead of training one")
    lp.add_argument("--init", help="start from a local BERT folder (config.json, weights, vocab.txt)")
    lp.add_argument("--seed", type=int, default=0)
    lp.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT/checkpoints")
    lp.set_defaults(func=cmd_labeler_train)

    from radrl.selection import METHODS

    sp = sub.add_parser("select", help="choose the RL training subset (DDSampling, Target Exploration, balanced)")
    sp.add_argument("method", choices=METHODS)
    sp.add_argument("--data", required=True, help="KIND:PATH of the training data")
    sp.add_argument("--split", default="train")
    sp.add_argument("--limit", type=int, help="only the first N samples")
    sp.add_argument("-o", "--output", required=True, help="subset file (.json) for data.subset")
    sp.add_argument("--fraction", type=float, help="subset size as a share (DEER 0.2, RadFlow 0.1)")
    sp.add_argument("--size", type=int, help="subset size as a count (OraPO: 1000)")
    sp.add_argument("--model", default="tiny-sft", help="SFT model that samples reports (ddsampling, target_exploration)")
    sp.add_argument("--k", type=int, default=10, help="DDSampling: reports sampled per image (10)")
    sp.add_argument("--temperature", type=float, default=1.0)
    sp.add_argument("--top-p", type=float, default=0.9, help="DDSampling nucleus (0.9)")
    sp.add_argument("--draw", choices=("log_rank", "top"), default="log_rank",
                    help="DDSampling: the paper's log-rank draw, or the most diverse images (ablation)")
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=cmd_select)

    sp = sub.add_parser("analyze", help="the papers' analyses (token masking, reward diversity)")
    asub = sp.add_subparsers(dest="analysis", required=True)
    ap = asub.add_parser("masking", help="DEER Table 6: mask the top tokens of each DiTPO weighting, count label changes")
    ap.add_argument("--model", default="tiny-sft", help="policy that samples the rollouts (default tiny-sft)")
    ap.add_argument("--data", default="synthetic:runs/synthetic", help="KIND:PATH (default synthetic:runs/synthetic)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--labeler-weights", help="CheXbert labeler for the gradient weights (chexbert.pth or a folder)")
    ap.add_argument("--n-prompts", type=int, default=64)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--fraction", type=float, default=0.1, help="share of each report's tokens masked (0.1)")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", help="write the table as JSON")
    ap.set_defaults(func=cmd_analyze_masking)
    ap = asub.add_parser("rewards", help="DEER Table 7: zero-variance groups, unique rewards, group std per subset")
    ap.add_argument("--data", default="synthetic:runs/synthetic", help="KIND:PATH (default synthetic:runs/synthetic)")
    ap.add_argument("--split", default="train")
    ap.add_argument("--subset", action="append", help="a subset file (repeatable)")
    ap.add_argument("--all", action="store_true", help="also the whole split")
    ap.add_argument("--model", default="tiny-sft")
    ap.add_argument("--reward", default="example_f1", help="a reward type (example_f1, facts, radflow, mccs, ...)")
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--n-prompts", type=int, default=200, help="prompts per subset (its first N)")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", help="write the table as JSON")
    ap.set_defaults(func=cmd_analyze_rewards)

    sp = sub.add_parser("demo", help="the main job on the embedded default")
    sp.add_argument("--out", default="runs/demo", help="run folder (re-running resumes)")
    sp.add_argument("--recipe", help="YAML recipe (default: recipes/demo.yaml)")
    sp.add_argument("--no-meteor", action="store_true")
    sp.add_argument("--skip-checkpoint", action="store_true", help="do not evaluate the committed SFT checkpoint")
    sp.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"radrl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, FileExistsError) as exc:  # bad options, unknown recipe, ...
        print(f"radrl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
