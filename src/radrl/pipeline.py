"""The SFT pipeline of a recipe: synthetic benchmark → tiny VLM → SFT → generate → evaluate.

``radrl pipeline RECIPE.yaml -o RUN`` runs it; every stage reuses what an earlier, interrupted
run left in ``RUN`` (the benchmark when its config matches, the initial model, the newest SFT
checkpoint), so running the command again continues where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from radrl.data.sample import Sample
from radrl.io import atomic_write_json, atomic_write_jsonl


def evaluate_model(model_path: str | Path, samples: Sequence[Sample], out_dir: str | Path,
                   generation: dict | None = None, meteor: bool = True) -> tuple[dict, list[str]]:
    """Generate for ``samples``, score against their references (ground-truth labels when the
    samples carry them), write ``predictions.jsonl`` and ``metrics.json`` in ``out_dir``;
    returns (metrics, predictions)."""
    import torch

    from radrl.evaluation import evaluate_reports
    from radrl.generation import GenerationSettings, generate_reports
    from radrl.models import load_policy

    out = Path(out_dir)
    settings = GenerationSettings(**(generation or {}))
    model, processor = load_policy(str(model_path))
    if torch.cuda.is_available():
        model.to("cuda")
    t0 = time.perf_counter()
    preds = [o[0] for o in generate_reports(model, processor, samples, settings)]
    gen_seconds = time.perf_counter() - t0
    atomic_write_jsonl(out / "predictions.jsonl",
                       [{"id": s.id, "prediction": p, "reference": s.report} for s, p in zip(samples, preds)])
    gold = [s.labels for s in samples] if all(s.labels for s in samples) else None
    metrics = evaluate_reports(preds, [s.report for s in samples], ref_labels=gold, meteor=meteor)
    metrics.update(model=str(model_path), generation=settings.__dict__,
                   generation_seconds=round(gen_seconds, 2),
                   reports_per_second=round(len(samples) / max(gen_seconds, 1e-9), 2))
    atomic_write_json(out / "metrics.json", metrics)
    return metrics, preds


def run_pipeline(recipe: dict, run_dir: str | Path, meteor: bool = True) -> dict:
    """Run the recipe's stages under ``run_dir``; returns {"data", "model", "metrics", "predictions"}."""
    from radrl.data.synthetic import SyntheticConfig, build_synthetic, load_synthetic
    from radrl.models.tiny import TinyVLMConfig, build_tiny_vlm
    from radrl.training.sft import SFTSettings, run_sft

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    unknown = set(recipe) - {"synthetic", "tiny_model", "sft", "evaluate"}
    if unknown:
        raise ValueError(f"unknown recipe sections {sorted(unknown)}; expected synthetic, tiny_model, sft, evaluate")
    syn = SyntheticConfig(**recipe.get("synthetic", {}))
    data = build_synthetic(run / "data", syn)
    train = load_synthetic(data, "train")
    init = run / "tiny-init"
    tiny_cfg = TinyVLMConfig(**recipe.get("tiny_model", {}))
    if not (init / "model.safetensors").is_file():
        build_tiny_vlm(init, [s.report for s in train], tiny_cfg)
    final = run_sft(str(init), train, run / "sft", SFTSettings.from_dict(recipe.get("sft", {})))
    ev = recipe.get("evaluate", {})
    test = load_synthetic(data, ev.get("split", "test"))
    metrics, preds = evaluate_model(final, test, run / "eval", ev.get("generation"), meteor=meteor)
    atomic_write_json(run / "recipe.json", recipe)
    return {"data": data, "model": final, "metrics": metrics, "predictions": preds}
