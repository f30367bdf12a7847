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
* ``radrl train --recipe NAME [--tiny] [key=value ...]``, ``radrl pipeline RECIPE -o RUN``
* ``radrl recipes list | show NAME [--tiny] [key=value ...] | new NAME --from deer``
* ``radrl demo [-o RUN]``

Settings options (``radrl generate --top-p``, ``radrl labeler train --epochs``, ...) are generated
from the settings dataclasses of :mod:`radrl.recipe.sections` (:mod:`radrl.cli_options`), so
each default is written once. Error policy: a user mistake (``InputError``, ``ConfigError``) is
one clear message and exit 2; anything else is a bug and shows its traceback (exit 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import yaml

from radrl import __version__
from radrl.cli_options import add_dataclass_options, number_in, settings_from_args
from radrl.config.fields import to_plain
from radrl.data.sections import join_sections
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

BATCH = 2048


MAX_REPORT_CHARS = 20_000  # a radiology report is a few hundred words; ROUGE and the labelers stay bounded


def _report_text(row: dict, where: str) -> str:
    """The report of an input row: ``report``, else FINDINGS + IMPRESSION. Values must be text
    or null."""
    if "report" in row:
        value = text_field(row, "report", where)
    elif "findings" in row or "impression" in row:
        value = join_sections(*(text_field(row, k, where) for k in ("findings", "impression")))
    else:
        raise InputError(
            f"{where}: no 'report' (or 'findings'/'impression') field; found {sorted(row)}"
        )
    return value or ""


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


def _data_arg(spec: str) -> tuple[str, str]:
    from radrl.data.registry import DATASETS

    kind, sep, path = spec.partition(":")
    if not sep or kind not in DATASETS.names():
        raise InputError(f"--data must be KIND:PATH with KIND one of {', '.join(DATASETS.names())}; got {spec!r}")
    return kind, path


def _data_section(args: argparse.Namespace, split: str | None = None, **defaults):
    """``--data KIND:PATH`` with its ``--data-option KEY=VALUE``s, checked against that kind's
    loader the way a recipe's ``data.options`` are (``defaults``: options the command sets unless
    the user does)."""
    from radrl.config import DataSection
    from radrl.recipe import check_section

    kind, path = _data_arg(args.data)
    options = dict(defaults)
    for text in getattr(args, "data_option", None) or []:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--data-option {text!r} must look like KEY=VALUE (e.g. allow_outside_root=true)")
        options[key.strip()] = yaml.safe_load(raw)
    section = DataSection(kind=kind, path=path, split=split or "train", options=options)
    return check_section(section, ("--data-option",))


def _dataset(args: argparse.Namespace, split: str | None, limit: int | None = None, **defaults):
    from radrl.data.registry import load_dataset

    data = _data_section(args, split, **defaults)
    return load_dataset(data.kind, data.path, split=split, limit=limit, **data.options)


def _load_split(args: argparse.Namespace, split_attr: str = "split"):
    split = getattr(args, split_attr)
    samples = _dataset(args, split, getattr(args, "limit", None))
    if not samples:
        raise InputError(f"{args.data}: no samples in split {split!r}")
    return samples


def cmd_synth(args: argparse.Namespace) -> int:
    from radrl.data.synthetic import SyntheticConfig, build_synthetic

    cfg = settings_from_args(SyntheticConfig, args)
    root = build_synthetic(args.output, cfg)
    print(f"synthetic benchmark (seed {cfg.seed}: {cfg.n_train}/{cfg.n_val}/{cfg.n_test}) -> {root}")
    return 0


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from radrl.data.registry import load_dataset
    from radrl.models.tiny import build_tiny_vlm
    from radrl.recipe import TinyVLMConfig

    cfg = settings_from_args(TinyVLMConfig, args)
    kind, path = _data_arg(args.corpus)
    texts = [s.report for s in load_dataset(kind, path, split="train")]
    out = build_tiny_vlm(args.output, texts, cfg)
    print(f"tiny Qwen2.5-VL (tokenizer trained on {len(texts)} reports) -> {out}")
    return 0


def cmd_sft(args: argparse.Namespace) -> int:
    from radrl.recipe import SFTSettings, load_recipe
    from radrl.training.sft import run_sft

    base = {}
    if args.config:
        recipe = load_recipe(args.config)
        if not hasattr(recipe, "sft"):
            raise InputError(f"{args.config}: a {recipe.stage} recipe has no sft: section")
        base = to_plain(recipe.sft)
    settings = settings_from_args(SFTSettings, args, base, section="sft")  # checked before loading data
    train = _load_split(args)
    final = run_sft(_model_path(args.model), train, args.output, settings, resume=not args.no_resume,
                    trust_remote_code=args.trust_remote_code)
    print(f"SFT model -> {final}")
    return 0


def _model_path(name: str) -> str:
    from radrl.assets import resolve_model_path

    return resolve_model_path(name)


def cmd_generate(args: argparse.Namespace) -> int:
    from radrl.data.images import SkippedImages
    from radrl.generation import generate_reports
    from radrl.models.policy import load_policy_for_inference
    from radrl.recipe import GenerationSettings

    settings = settings_from_args(GenerationSettings, args, section="generation")
    settings.generate_kwargs()  # mode and counts agree, before the model loads
    check_output_path(args.output)
    samples = _load_split(args)
    model, processor = load_policy_for_inference(_model_path(args.model), trust_remote_code=args.trust_remote_code)
    skipped = SkippedImages(str(args.data))
    t0 = time.perf_counter()
    outputs = generate_reports(model, processor, samples, settings, skipped=skipped)
    seconds = time.perf_counter() - t0
    rows = []
    for s, outs in zip(samples, outputs):
        if outs is None:  # its image could not be opened: counted in `skipped`
            continue
        row = {"id": s.id, "prediction": outs[0], "reference": s.report}
        if len(outs) > 1:
            row["predictions"] = outs
        rows.append(row)
    atomic_write_jsonl(args.output, rows)
    skipped.warn()
    print(f"{len(rows)} reports in {seconds:.1f} s ({len(rows) / seconds:.2f} reports/s, {settings.mode}) "
          f"-> {args.output}" + (f"; {skipped.count} sample(s) skipped for unreadable images" if skipped.count
                                 else ""), file=sys.stderr)
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from radrl.pipeline import run_pipeline
    from radrl.recipe import PipelineRecipe, load_recipe

    recipe = load_recipe(args.recipe, overrides=args.overrides)
    if not isinstance(recipe, PipelineRecipe):
        raise InputError(f"{args.recipe}: `radrl pipeline` runs a stage: sft_pipeline recipe (e.g. tiny_sft), "
                         f"not a stage: {recipe.stage} one")
    if recipe.stage != "sft_pipeline":
        recipe = recipe.pipeline()
    result = run_pipeline(recipe, args.output, meteor=not args.no_meteor)
    print(format_metrics(result["metrics"]))
    print(f"model -> {result['model']}; metrics -> {Path(args.output) / 'eval' / 'metrics.json'}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from radrl.recipe import RLRecipe, load_recipe

    overrides = [*args.overrides, *(["data.allow_partial_subset=true"] if args.allow_partial else [])]
    recipe = load_recipe(args.recipe, tiny=args.tiny, overrides=overrides)  # checked: nothing heavy yet
    if not isinstance(recipe, RLRecipe):
        raise InputError(f"{args.recipe}: `radrl train` runs an RL recipe; this one is stage: {recipe.stage} "
                         f"(run it with `radrl {'demo --recipe' if recipe.stage == 'demo' else 'pipeline'}`)")
    from radrl.stages import run_rl

    out = args.output or f"runs/{Path(recipe.resolved_from['recipe']).stem}{'-tiny' if args.tiny else ''}"
    result = run_rl(recipe, out, resume=args.resume, evaluate=not args.no_eval, only=args.only)
    if args.only:
        return 0
    print(f"RL model -> {result['model']}")
    if result["metrics"]:
        print(format_metrics(result["metrics"]))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    import json

    from radrl.planning import format_plan, plan_recipe
    from radrl.recipe import RLRecipe, load_recipe

    recipe = load_recipe(args.recipe, tiny=args.tiny, overrides=args.overrides)
    if not isinstance(recipe, RLRecipe):
        raise InputError(f"{args.recipe}: radrl plan sizes RL recipes; this one is stage: {recipe.stage}")
    width, sep, height = args.image_size.partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise InputError(f"--image-size must be WIDTHxHEIGHT in pixels, e.g. 3056x2544; got {args.image_size!r}")
    plan = plan_recipe(recipe, gpus=args.gpus, gpu_memory_gb=args.gpu_memory, image_size=(int(width), int(height)),
                       images_per_sample=args.images, architecture=args.architecture)
    print(json.dumps(plan.to_dict(), indent=2) if args.json else format_plan(plan))
    return 0


def cmd_prepare_images(args: argparse.Namespace) -> int:
    from radrl.data.prepare import prepare_images

    kind, path = _data_arg(args.data)
    splits = args.split or (["train", "val", "test"] if kind == "synthetic" else [None])
    samples = [s for split in splits for s in _dataset(args, split)]
    if not samples:
        raise InputError(f"{path}: no samples")
    t0 = time.perf_counter()
    manifest = prepare_images(samples, args.output, args.max_pixels, args.data, workers=args.workers)
    seconds = time.perf_counter() - t0
    print(f"{manifest['n_images'] - manifest['n_skipped']} images at <= {args.max_pixels:,} pixels in {seconds:.1f} s "
          f"-> {args.output} ({manifest['n_skipped']} skipped). Use it with data.options.image_root={args.output}",
          file=sys.stderr)
    return 0


def cmd_data_inspect(args: argparse.Namespace) -> int:
    import json
    import warnings as _warnings

    from radrl.data.inspect import format_inspection, inspect_samples
    from radrl.data.loaders import collect_load_reports

    with collect_load_reports() as reports, _warnings.catch_warnings():
        _warnings.simplefilter("ignore", UserWarning)  # the skips are in the summary
        samples = _dataset(args, args.split)
    summary = inspect_samples(samples, reports, show=args.show)
    print(json.dumps(summary, indent=2) if args.json else format_inspection(summary, f"{args.data} [{args.split}]"))
    return 0


def cmd_reward(args: argparse.Namespace) -> int:
    from radrl.recipe import RLRecipe, load_recipe
    from radrl.rewards.offline import prediction_rows, score_rows

    check_output_path(args.output, args.predictions)
    recipe = load_recipe(args.recipe, tiny=args.tiny, overrides=args.overrides)
    if not isinstance(recipe, RLRecipe):
        raise InputError(f"{args.recipe}: radrl reward scores with an RL recipe's rewards; this one is stage: "
                         f"{recipe.stage}")
    rows = prediction_rows(args.predictions)
    scored = score_rows(recipe, rows, step=args.step)
    atomic_write_jsonl(args.output, scored)
    mean = sum(r["reward"] for r in scored) / len(scored)
    names = ", ".join(f"{e.params.get('name') or e.type} x {e.weight:g}" for e in recipe.rewards)
    print(f"{len(scored)} predictions, mean reward {mean:.4f} ({names}, step {args.step}) -> {args.output}",
          file=sys.stderr)
    return 0


def cmd_configs(args: argparse.Namespace) -> int:
    from radrl.assets import package_config, package_configs

    if args.name is None:
        print("\n".join(package_configs()))
    else:
        print(package_config(args.name))
    return 0


def cmd_recipes_list(args: argparse.Namespace) -> int:
    from radrl.recipe import recipe_summaries

    rows = recipe_summaries()
    width = max(len(name) for name, *_ in rows) + 2
    for name, stage, description in rows:
        print(f"{name:<{width}}{stage:<14}{description}")
    return 0


def cmd_recipes_show(args: argparse.Namespace) -> int:
    from radrl.recipe import load_recipe, recipe_yaml

    print(recipe_yaml(load_recipe(args.name, tiny=args.tiny, overrides=args.overrides)), end="")
    return 0


def cmd_recipes_new(args: argparse.Namespace) -> int:
    from radrl.io import atomic_write_text
    from radrl.recipe import find_recipe, load_recipe

    source = find_recipe(args.source)
    load_recipe(source)  # a broken source is refused before anything is written
    out = Path(args.output or f"{args.name}.yaml")
    if out.exists() and not args.force:
        raise InputError(f"{out} exists; pass --force to overwrite it or choose another -o")
    text = source.read_text(encoding="utf-8")
    atomic_write_text(out, f"# {args.name}: copied from radrl recipe {source.stem} - edit freely, then\n"
                           f"#   radrl recipes show {out}    and    radrl train --recipe {out}\n{text}")
    print(f"{out} (from {source.name}); run it with: radrl train --recipe {out}")
    return 0


def _report_corpus(args: argparse.Namespace, spec: str, split: str | None) -> list[str]:
    """Report texts of ``KIND:PATH`` (``records`` files need no images)."""
    kind, path = _data_arg(spec)
    if kind == "records" and not getattr(args, "data_option", None):
        return [_report_text(row, f"{path}, line {n}") for n, row in read_records(path)]
    defaults = {} if kind == "synthetic" else {"check_images": "none"}
    return [s.report for s in _dataset(argparse.Namespace(data=spec, data_option=getattr(args, "data_option", None)),
                                       split, **defaults)]


def cmd_labeler_train(args: argparse.Namespace) -> int:
    from radrl.metrics.agreement import format_agreement
    from radrl.recipe import LabelerTrainSettings

    settings = settings_from_args(LabelerTrainSettings, args)
    from radrl.training.labeler import train_labeler

    reports = _report_corpus(args, args.data, args.split or None)
    card = train_labeler(reports, args.output, settings, resume=args.resume)
    print(format_agreement(card["agreement"]))
    print(f"{card['parameters']:,} parameters, {card['n_train_reports']} training / {card['n_heldout_reports']} "
          f"held-out reports, {card['train_seconds']:.0f} s -> {Path(args.output) / 'labeler'} "
          f"(use --labeler chexbert --weights {args.output})")
    return 0


def cmd_analyze_masking(args: argparse.Namespace) -> int:
    from radrl.analysis.masking import format_masking_table, rollout_masking
    from radrl.labelers import get_labeler

    samples = _load_split(args)
    chexbert = get_labeler("chexbert", args.labeler_weights) if args.labeler_weights else None
    if chexbert is None:
        print("no --labeler-weights: the gradient row is left out", file=sys.stderr)
    result = rollout_masking(_model_path(args.model), samples, chexbert, n_prompts=args.n_prompts,
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
    from radrl.recipe import SelectionSettings
    from radrl.selection import select_subset

    settings = settings_from_args(SelectionSettings, args, {"method": args.method}, section="select")
    from radrl.recipe import check_section

    check_section(settings, ("select",))  # the method is registered
    if settings.fraction is None and settings.size is None:
        raise InputError("give --fraction F or --size N")
    settings.model = _model_path(settings.model or "tiny-sft")
    check_output_path(args.output)
    samples = _load_split(args)
    kind, path = _data_arg(args.data)
    shard, merge = None, None
    if args.shard:
        shard, merge = _shard_arg(args.shard), False
    elif args.merge:
        shard, merge = (-1, args.merge), True
    result = select_subset(settings, samples, args.output, source={"kind": kind, "path": path, "split": args.split},
                           shard=shard, merge=merge)
    if result is None:
        from radrl.selection.shards import shard_folder

        print(f"shard measured -> {shard_folder(args.output)} (merge with radrl select ... --merge N, or let rank 0 "
              "of the launch merge)", file=sys.stderr)
        return 0
    print(_format_selection(result))
    print(f"-> {args.output} (use it with data.subset={args.output})")
    return 0


def _shard_arg(spec: str) -> tuple[int, int]:
    index, sep, count = spec.partition("/")
    if not (sep and index.isdigit() and count.isdigit() and 0 <= int(index) < int(count)):
        raise InputError(f"--shard must be K/N with 0 <= K < N (e.g. 0/8); got {spec!r}")
    return int(index), int(count)


def cmd_analyze_rewards(args: argparse.Namespace) -> int:
    from radrl.analysis.reward_diversity import format_diversity_table, reward_diversity, sample_groups
    from radrl.rewards import build_rewards
    from radrl.selection.subsets import subset_samples

    samples = _load_split(args)
    kind, _ = _data_arg(args.data)
    subsets = {"all": samples} if args.all or not args.subset else {}
    for spec in args.subset or []:
        subsets[Path(spec).stem] = subset_samples(spec, samples, kind, args.split, args.allow_partial)
    reward = build_rewards([{"type": args.reward}]).functions[0]
    rows = {}
    for name, members in subsets.items():
        chosen = members[: args.n_prompts]
        groups = sample_groups(_model_path(args.model), chosen, args.group_size, args.temperature, seed=args.seed)
        rows[name] = reward_diversity(groups, [s.report for s in chosen], reward, [s.labels for s in chosen])
    if args.output:
        atomic_write_json(args.output, rows)
    print(f"reward {args.reward}, {args.group_size} rollouts per prompt (temperature {args.temperature})")
    print(format_diversity_table(rows))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from radrl.recipe import DemoRecipe, load_recipe

    recipe = load_recipe(args.recipe, overrides=args.overrides)
    if not isinstance(recipe, DemoRecipe):
        raise InputError(f"{args.recipe}: `radrl demo` runs a stage: demo recipe, not a stage: {recipe.stage} one")
    from radrl.demo import run_demo

    return run_demo(args.output, recipe, meteor=not args.no_meteor, skip_checkpoint=args.skip_checkpoint)


# ------------------------------------------------------------------------------------- parser
def _data_options(sp: argparse.ArgumentParser, split: str, required: bool = True, default: str | None = None,
                  limit: bool = True) -> None:
    sp.add_argument("--data", required=required, default=default,
                    help="KIND:PATH, e.g. synthetic:runs/synthetic or r2gen:annotation.json"
                    + (f" (default: {default})" if default else ""))
    sp.add_argument("--split", default=split, help=f"split to read (default: {split})")
    _data_option_arg(sp)
    if limit:
        sp.add_argument("--limit", type=number_in(1), help="use the first N samples only")


def _data_option_arg(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--data-option", action="append", metavar="KEY=VALUE",
                    help="a loader option of --data's kind, e.g. allow_outside_root=true, views=frontal, "
                         "check_images=none (repeatable; radrl data inspect lists what was skipped and why)")


def _overrides(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                    help="recipe overrides, e.g. rl.learning_rate=1e-5 data.limit=500 rewards.1.weight=0.5")


def build_parser() -> argparse.ArgumentParser:
    from radrl.data.synthetic import SyntheticConfig
    from radrl.labelers import LABELERS
    from radrl.recipe import GenerationSettings, LabelerTrainSettings, SelectionSettings, SFTSettings, TinyVLMConfig
    from radrl.rewards import REWARDS
    from radrl.selection.methods import SELECTION_METHODS

    p = argparse.ArgumentParser(prog="radrl", description="RL on clinical rewards for chest X-ray report generation")
    p.add_argument("--version", action="version", version=f"radrl {__version__}")
    p.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    sub = p.add_subparsers(dest="command", required=True)

    def labeler_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--labeler", choices=LABELERS.names(), default="rule", help="default: rule (offline)")
        sp.add_argument("--weights", help="checkpoint of a model-backed labeler (chexbert.pth or a folder)")
        sp.add_argument("--max-chars", type=number_in(1), default=MAX_REPORT_CHARS, metavar="N",
                        help=f"cut longer reports to N characters, with a warning (default {MAX_REPORT_CHARS:,}; "
                             "0: no cap)")

    sp = sub.add_parser("label", help="label reports with the 14 CheXpert observations")
    sp.add_argument("input", help=".jsonl with 'id' and 'report' (or 'findings'/'impression'), or .csv with 'id','report'")
    sp.add_argument("-o", "--output", required=True, help="output .jsonl: one {'id', 'labels'} per input line")
    labeler_options(sp)
    sp.add_argument("--workers", type=number_in(1), help="processes for the rule labeler on big files (default: one per CPU)")
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
    sp.add_argument("--metrics", metavar="radeval:NAME,...", help="also RadEval's metrics (radrl[radeval]): "
                    "bertscore, radgraph, radcliq, green, ...")
    sp.add_argument("--allow-remote-metrics", action="store_true",
                    help="let RadEval's API-based metrics (crimson, radfact_ct, mammo_green) send the reports out")
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("compare", help="two systems' predictions: every metric, paired bootstrap CI, randomisation p")
    sp.add_argument("a", help="predictions .jsonl of system A (id, prediction, reference)")
    sp.add_argument("b", help="predictions .jsonl of system B, over the same ids and references")
    sp.add_argument("-o", "--output", help="COMPARISON.json")
    labeler_options(sp)
    sp.add_argument("--uncertain", choices=["negative", "positive"], default="negative")
    sp.add_argument("--empty-match", choices=["zero", "one"], default="zero")
    sp.add_argument("--resamples", type=number_in(1), default=1000, help="bootstrap and randomisation rounds (default 1000)")
    sp.add_argument("--seed", type=int, default=0, help="random seed of both tests (default 0)")
    sp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("reward", help="score predictions with a recipe's rewards exactly as training would (no model)")
    sp.add_argument("predictions", help=".jsonl: id, prediction, reference (or reference_findings + "
                    "reference_impression), optional labels")
    sp.add_argument("--recipe", required=True, help="an RL recipe (name or YAML path)")
    sp.add_argument("--tiny", action="store_true", help="the recipe's tiny variant")
    sp.add_argument("--step", type=number_in(0), default=0, help="training step whose reward weights apply (schedules)")
    sp.add_argument("-o", "--output", required=True, help="output .jsonl: id, reward, components")
    _overrides(sp)
    sp.set_defaults(func=cmd_reward)

    sp = sub.add_parser("synth", help="write the synthetic chest X-ray benchmark")
    sp.add_argument("output", help="folder (annotation.json, images/, config.json)")
    add_dataclass_options(sp, SyntheticConfig, exclude=("prevalence",))
    sp.set_defaults(func=cmd_synth)

    sp = sub.add_parser("tiny-model", help="build the tiny offline Qwen2.5-VL (tokenizer trained on a corpus)")
    sp.add_argument("output", help="model folder")
    sp.add_argument("--corpus", required=True, help="KIND:PATH of the reports to train the tokenizer on")
    add_dataclass_options(sp, TinyVLMConfig)
    sp.set_defaults(func=cmd_tiny_model)

    sp = sub.add_parser("sft", help="supervised fine-tuning (TRL SFTTrainer), resumable")
    sp.add_argument("--model", required=True, help="hub id, local folder of an image-text-to-text model, or tiny-sft")
    sp.add_argument("-o", "--output", required=True, help="run folder: checkpoints/ and final/")
    _data_options(sp, "train")
    sp.add_argument("--config", help="a recipe (name or YAML) whose sft: section is the base; options go over it")
    sp.add_argument("--trust-remote-code", action="store_true", help="run the checkpoint's own code (off by default)")
    sp.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    add_dataclass_options(sp, SFTSettings, exclude=("extra", "instruction"))
    sp.set_defaults(func=cmd_sft)

    sp = sub.add_parser("generate", help="write reports for a dataset split (radrl eval format)")
    sp.add_argument("model", help="model folder, hub id or tiny-sft")
    sp.add_argument("-o", "--output", required=True, help="predictions .jsonl: id, prediction, reference")
    _data_options(sp, "test")
    sp.add_argument("--trust-remote-code", action="store_true", help="run the checkpoint's own code (off by default)")
    add_dataclass_options(sp, GenerationSettings)
    sp.set_defaults(func=cmd_generate)

    sp = sub.add_parser("pipeline", help="synthetic benchmark -> tiny VLM -> SFT -> generate -> eval, from a recipe")
    sp.add_argument("recipe", help="a stage: sft_pipeline recipe, by name (tiny_sft) or YAML path")
    sp.add_argument("-o", "--output", required=True, help="run folder (re-running resumes)")
    sp.add_argument("--no-meteor", action="store_true")
    _overrides(sp)
    sp.set_defaults(func=cmd_pipeline)

    sp = sub.add_parser("train", help="RL (GRPO / DiTPO / CAPO / OraPO) from a recipe, resumable")
    sp.add_argument("--recipe", required=True, help="a shipped recipe (`radrl recipes list`) or a YAML path")
    sp.add_argument("--tiny", action="store_true", help="the recipe's CPU-sized variant (tiny model, synthetic data)")
    sp.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint in -o")
    sp.add_argument("-o", "--output", help="run folder (default runs/RECIPE[-tiny])")
    sp.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    sp.add_argument("--only", choices=("benchmark", "subset", "labeler", "criticality", "rollout-model"),
                    help="run this one preparing stage (if it is missing) and stop")
    sp.add_argument("--allow-partial", action="store_true",
                    help="train on the subset's ids that are present when some are not (data.allow_partial_subset)")
    _overrides(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("plan", help="offline: parameters, visual tokens, memory per GPU of a recipe on ddp/zero2/zero3/fsdp")
    sp.add_argument("--recipe", required=True, help="an RL recipe (name or YAML path)")
    sp.add_argument("--tiny", action="store_true", help="the recipe's tiny variant")
    sp.add_argument("--json", action="store_true", help="print the plan as JSON")
    sp.add_argument("--gpus", type=number_in(1), default=8, help="devices the run is spread over (default 8)")
    sp.add_argument("--gpu-memory", type=number_in(0, kind=float, low_open=True), default=80.0, help="GB per device (default 80)")
    sp.add_argument("--image-size", default="3056x2544", help="WIDTHxHEIGHT of the films before resizing "
                    "(default: a MIMIC-CXR film)")
    sp.add_argument("--images", type=number_in(1), default=1, help="images per sample (default 1)")
    sp.add_argument("--architecture", help="size this architecture instead of model.path's (a shipped name such as "
                    "qwen2.5-vl-7b-instruct, or a folder with config.json): for a fine-tune of one")
    _overrides(sp)
    sp.set_defaults(func=cmd_plan)

    sp = sub.add_parser("prepare-images", help="write a resized copy of a dataset's images (a cache loaders read)")
    sp.add_argument("--data", required=True, help="KIND:PATH of the dataset")
    _data_option_arg(sp)
    sp.add_argument("--split", action="append", help="a split to prepare (repeatable; default: every split the "
                    "loader reads without one)")
    sp.add_argument("--max-pixels", type=number_in(28 * 28), required=True, help="pixels per image at most (e.g. the recipe's "
                    "model.max_pixels, 200704 = 448 x 448)")
    sp.add_argument("--workers", type=number_in(1), help="processes (default: one per CPU)")
    sp.add_argument("-o", "--output", required=True, help="cache folder; point data.options.image_root at it")
    sp.set_defaults(func=cmd_prepare_images)

    sp = sub.add_parser("data", help="look at a dataset as radrl reads it")
    dsub = sp.add_subparsers(dest="data_command", required=True)
    dp = dsub.add_parser("inspect", help="counts, skipped samples and why, label prevalence, views, sections, lengths")
    dp.add_argument("--data", required=True, help="KIND:PATH")
    _data_option_arg(dp)
    dp.add_argument("--split", default="train", help="split (default train; ignored by kinds without splits)")
    dp.add_argument("--json", action="store_true", help="print the summary as JSON")
    dp.add_argument("--show", type=number_in(0), default=3, help="samples shown (default 3)")
    dp.set_defaults(func=cmd_data_inspect)

    sp = sub.add_parser("configs", help="the shipped accelerate and model configs: list them, or print one's path")
    sp.add_argument("name", nargs="?", help="e.g. zero3 or accelerate/fsdp.yaml: print its path "
                    "(accelerate launch --config_file $(radrl configs zero3) -m radrl.cli train ...)")
    sp.set_defaults(func=cmd_configs)

    sp = sub.add_parser("recipes", help="list, show (resolved) or copy the shipped recipes")
    rsub = sp.add_subparsers(dest="recipes_command", required=True)
    rp = rsub.add_parser("list", help="names, stages and one-line descriptions")
    rp.set_defaults(func=cmd_recipes_list)
    rp = rsub.add_parser("show", help="print a recipe resolved (tiny block, overrides, defaults) as YAML")
    rp.add_argument("name", help="a shipped recipe or a YAML path")
    rp.add_argument("--tiny", action="store_true", help="with its tiny block merged")
    _overrides(rp)
    rp.set_defaults(func=cmd_recipes_show)
    rp = rsub.add_parser("new", help="write an editable copy of a recipe")
    rp.add_argument("name", help="name of the new recipe")
    rp.add_argument("--from", dest="source", required=True, help="the recipe to copy (e.g. deer)")
    rp.add_argument("-o", "--output", help="file to write (default NAME.yaml)")
    rp.add_argument("--force", action="store_true", help="overwrite an existing file")
    rp.set_defaults(func=cmd_recipes_new)

    sp = sub.add_parser("labeler", help="CheXbert-architecture labeler: train one on silver labels")
    lsub = sp.add_subparsers(dest="labeler_command", required=True)
    lp = lsub.add_parser("train", help="train on any report corpus with the rule labeler's labels; saves safetensors")
    lp.add_argument("--data", required=True, help="KIND:PATH, e.g. synthetic:runs/synthetic, r2gen:annotation.json, "
                    "records:reports.jsonl")
    lp.add_argument("--split", default="train", help="split of KIND:PATH to read ('' for all); default train")
    _data_option_arg(lp)
    lp.add_argument("-o", "--output", required=True, help="run folder: OUT/labeler, OUT/agreement.json")
    lp.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT/checkpoints")
    add_dataclass_options(lp, LabelerTrainSettings)
    lp.set_defaults(func=cmd_labeler_train)

    sp = sub.add_parser("select", help="choose the RL training subset (DDSampling, Target Exploration, balanced)",
                        epilog="--model defaults to tiny-sft (the committed tiny SFT checkpoint)")
    sp.add_argument("method", choices=SELECTION_METHODS.names())
    _data_options(sp, "train")
    sp.add_argument("-o", "--output", required=True, help="subset file (.json) for data.subset")
    sp.add_argument("--shard", metavar="K/N", help="measure only shard K of N (0-based; e.g. one job of an array) "
                    "into OUTPUT.shards/; `accelerate launch` shards by rank without this")
    sp.add_argument("--merge", type=number_in(1), metavar="N", help="measure nothing: merge the N finished shards and write OUTPUT")
    add_dataclass_options(sp, SelectionSettings, exclude=("method",))
    sp.set_defaults(func=cmd_select)

    sp = sub.add_parser("analyze", help="the papers' analyses (token masking, reward diversity)")
    asub = sp.add_subparsers(dest="analysis", required=True)
    ap = asub.add_parser("masking", help="DEER Table 6: mask the top tokens of each DiTPO weighting, count label changes")
    ap.add_argument("--model", default="tiny-sft", help="policy that samples the rollouts (default tiny-sft)")
    _data_options(ap, "test", required=False, default="synthetic:runs/synthetic", limit=False)
    ap.add_argument("--labeler-weights", help="CheXbert labeler for the gradient weights (chexbert.pth or a folder)")
    ap.add_argument("--n-prompts", type=number_in(1), default=64)
    ap.add_argument("--group-size", type=number_in(2), default=8)
    ap.add_argument("--fraction", type=number_in(0, 1, kind=float, low_open=True), default=0.1,
                    help="share of each report's tokens masked (0.1)")
    ap.add_argument("--temperature", type=number_in(0, kind=float, low_open=True), default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", help="write the table as JSON")
    ap.set_defaults(func=cmd_analyze_masking)
    ap = asub.add_parser("rewards", help="DEER Table 7: zero-variance groups, unique rewards, group std per subset")
    _data_options(ap, "train", required=False, default="synthetic:runs/synthetic", limit=False)
    ap.add_argument("--subset", action="append", help="a subset file (repeatable)")
    ap.add_argument("--allow-partial", action="store_true", help="accept a subset whose ids are only partly present")
    ap.add_argument("--all", action="store_true", help="also the whole split")
    ap.add_argument("--model", default="tiny-sft")
    ap.add_argument("--reward", default="example_f1", choices=REWARDS.names(), metavar="REWARD",
                    help=f"a reward type: {', '.join(REWARDS.names())}")
    ap.add_argument("--group-size", type=number_in(2), default=8)
    ap.add_argument("--n-prompts", type=number_in(1), default=200, help="prompts per subset (its first N)")
    ap.add_argument("--temperature", type=number_in(0, kind=float, low_open=True), default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", help="write the table as JSON")
    ap.set_defaults(func=cmd_analyze_rewards)

    sp = sub.add_parser("demo", help="the main job on the embedded default")
    sp.add_argument("-o", "--output", default="runs/demo", help="run folder (re-running resumes; default runs/demo)")
    sp.add_argument("--recipe", default="demo", help="a stage: demo recipe (default: the shipped demo)")
    sp.add_argument("--no-meteor", action="store_true")
    sp.add_argument("--skip-checkpoint", action="store_true", help="do not evaluate the committed SFT checkpoint")
    _overrides(sp)
    sp.set_defaults(func=cmd_demo)
    return p


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """radrl's own warnings as one readable line; library warnings as Python prints them."""
    if category is UserWarning and "radrl" in filename:
        return f"radrl: warning: {message}\n"
    return _PYTHON_FORMATWARNING(message, category, filename, lineno, line)


_PYTHON_FORMATWARNING = warnings.formatwarning


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # KEY=VALUE overrides after an option (`recipes show deer --tiny rl.beta=0`)
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = [*args.overrides, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    warnings.formatwarning = _format_warning
    try:
        return args.func(args)
    except (InputError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        # a user mistake (ConfigError is one; so is a path radrl may not write or that is the
        # wrong kind of thing): one message, exit 2
        if args.debug:
            raise
        if isinstance(exc, OSError):
            exc = f"{exc.filename}: {exc.strerror.lower()}" + (
                "; choose an output you can write" if isinstance(exc, PermissionError) else "")
        print(f"radrl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:  # under `accelerate launch`: close the process group before teardown can abort
        from radrl.distributed import shutdown_process_group

        shutdown_process_group()


if __name__ == "__main__":
    sys.exit(main())
