"""Score generated reports against references: NLG + clinical efficacy, one dict (METRICS.json);
``evaluate_model`` generates for a split first and writes ``predictions.jsonl`` + ``metrics.json``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from radrl import __version__
from radrl.config.fields import build_checked
from radrl.config.sections import GenerationSettings
from radrl.data.sample import Sample
from radrl.io import atomic_write_json, atomic_write_jsonl


def evaluate_reports(preds: Sequence[str], refs: Sequence[str], labeler=None, uncertain: str = "negative",
                     empty_match: str = "zero", meteor: bool = True, ref_labels: Sequence[dict] | None = None
                     ) -> dict:
    """The METRICS.json dict of ``radrl eval`` (n, labeler, nlg, nlg_radeval, clinical, nlg_errors,
    seconds): ``nlg`` the R2Gen / pycocoevalcap way, ``nlg_radeval`` RadEval's way.

    ``ref_labels``: ground-truth labels of the references when known (the synthetic benchmark);
    otherwise the references are labelled with ``labeler`` like the predictions.
    """
    from radrl.labelers import get_labeler
    from radrl.metrics import clinical_metrics, nlg_metrics
    from radrl.metrics.nlg_radeval import nlg_radeval

    t0 = time.perf_counter()
    labeler = labeler or get_labeler("rule")
    if ref_labels is None:
        labels = labeler.label_batch(list(preds) + list(refs))
        pred_labels, gold = labels[: len(preds)], labels[len(preds):]
    else:
        pred_labels, gold = labeler.label_batch(list(preds)), list(ref_labels)
    clinical = clinical_metrics(pred_labels, gold, uncertain=uncertain, empty_match=empty_match)
    nlg, errors = nlg_metrics(list(preds), list(refs), meteor=meteor)
    return {"n": len(preds), "labeler": labeler.name, "nlg": nlg, "nlg_radeval": nlg_radeval(list(preds), list(refs)),
            "clinical": clinical, "nlg_errors": errors,
            "references_labelled_by": "labeler" if ref_labels is None else "ground truth",
            "seconds": round(time.perf_counter() - t0, 3), "radrl_version": __version__}


def most_frequent_report(train_reports: Sequence[str], train_labels: Sequence[dict] | None = None) -> str:
    """The "most frequent report" baseline: among training reports with the most common label
    set (when labels are known), the most common text (first seen on ties)."""
    if not train_reports:
        raise ValueError("no training reports")
    pool = list(train_reports)
    if train_labels is not None:
        keys = [tuple(sorted(lab.items())) for lab in train_labels]
        top = Counter(keys).most_common(1)[0][0]
        pool = [r for r, k in zip(train_reports, keys) if k == top]
    counts = Counter(pool)
    best = max(counts.values())
    return next(r for r in pool if counts[r] == best)


def evaluate_model(model_path: str | Path, samples: Sequence[Sample], out_dir: str | Path,
                   generation: GenerationSettings | dict | None = None, meteor: bool = True,
                   labeler=None, model_kwargs: dict | None = None) -> tuple[dict, list[str]]:
    """Generate for ``samples``, score against their references (ground-truth labels when the
    samples carry them), write ``predictions.jsonl`` and ``metrics.json`` in ``out_dir``;
    returns (metrics, predictions). ``model_kwargs`` go to ``load_policy_for_inference`` (the
    recipe's attention kernel and image pixels)."""
    from radrl.generation import generate_reports
    from radrl.models.policy import load_policy_for_inference

    out = Path(out_dir)
    settings = generation if isinstance(generation, GenerationSettings) else build_checked(
        GenerationSettings, generation or {}, ("generation",))
    model, processor = load_policy_for_inference(str(model_path), **(model_kwargs or {}))
    from radrl.data.images import SkippedImages

    skipped = SkippedImages("evaluation")
    t0 = time.perf_counter()
    outputs = generate_reports(model, processor, samples, settings, skipped=skipped)
    gen_seconds = time.perf_counter() - t0
    skipped.warn()
    samples = [s for s, o in zip(samples, outputs) if o is not None]
    preds = [o[0] for o in outputs if o is not None]
    atomic_write_jsonl(out / "predictions.jsonl",
                       [{"id": s.id, "prediction": p, "reference": s.report} for s, p in zip(samples, preds)])
    gold = [s.labels for s in samples] if all(s.labels for s in samples) else None
    metrics = evaluate_reports(preds, [s.report for s in samples], labeler, ref_labels=gold, meteor=meteor)
    metrics.update(model=str(model_path), generation=asdict(settings),
                   generation_seconds=round(gen_seconds, 2),
                   reports_per_second=round(len(samples) / max(gen_seconds, 1e-9), 2),
                   skipped_images=skipped.summary())
    atomic_write_json(out / "metrics.json", metrics)
    return metrics, preds
