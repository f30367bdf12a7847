"""The selection methods ``radrl select`` and a recipe's ``select:`` can name, in one registry.

Each method is ``(samples, labels, n, settings, labeler, progress) -> Chosen``: the indices of
the ``n`` samples it keeps, and what it measured on the way (kept in the subset file). A method
that samples reports from the SFT model has ``needs_model = True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from radrl.registry import Registry

SELECTION_METHODS: Registry = Registry("selection method")


@dataclass
class Chosen:
    indices: list[int]
    per_sample: np.ndarray | None = None      # each sample's score (diversity, composite)
    params: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)  # summary statistics


def _stats(values) -> dict:
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
            "max": float(values.max())} if len(values) else {}


def _method(name: str, needs_model: bool = False):
    def register(fn):
        fn.needs_model = needs_model
        return SELECTION_METHODS.register(name, fn)
    return register


@_method("ddsampling", needs_model=True)
def ddsampling(samples, labels, n, settings, labeler, progress) -> Chosen:
    """DEER: K sampled reports per image, diagnostic diversity, the log-rank draw (or ``top``)."""
    from radrl.selection.ddsampling import diagnostic_diversity, log_rank_sample

    groups = generate_reports_for(settings, samples, settings.k, "sample", progress)
    diversity = diagnostic_diversity([labeler.label_batch(g) for g in groups])
    chosen = log_rank_sample(diversity, n, settings.seed) if settings.draw == "log_rank" else sorted(
        np.argsort(-diversity, kind="stable")[:n].tolist())
    return Chosen(chosen, diversity,
                  {"model": str(settings.model), "k": settings.k, "temperature": settings.temperature,
                   "top_p": settings.top_p, "draw": settings.draw},
                  {"diversity_all": _stats(diversity), "diversity_subset": _stats(diversity[chosen]),
                   "zero_diversity_share_all": float((diversity == 0).mean()),
                   "zero_diversity_share_subset": float((diversity[chosen] == 0).mean())})


@_method("target_exploration", needs_model=True)
def target_exploration(samples, labels, n, settings, labeler, progress) -> Chosen:
    """RadFlow: the composite score of each SFT report, bottom ``n``."""
    from radrl.selection.target_exploration import bottom_fraction, composite_scores, per_sample_metrics

    preds = [g[0] for g in generate_reports_for(settings, samples, 1, "greedy", progress)]
    metrics = per_sample_metrics(preds, [s.report for s in samples], labeler, [s.labels for s in samples])
    composite = composite_scores(metrics, settings.weights)
    chosen = bottom_fraction(composite, n / len(samples))[:n]
    return Chosen(chosen, composite, {"model": str(settings.model), "weights": settings.weights or "default"},
                  {"composite_all": _stats(composite), "composite_subset": _stats(composite[chosen]),
                   **{f"{m}_all": _stats(v) for m, v in metrics.items()},
                   **{f"{m}_subset": _stats(v[chosen]) for m, v in metrics.items()}})


@_method("balanced")
def balanced(samples, labels, n, settings, labeler, progress) -> Chosen:
    """OraPO: a label-balanced subset of ``n`` studies."""
    from radrl.selection.balanced import label_balanced_subset

    return Chosen(label_balanced_subset(labels, n, settings.seed))


@_method("random")
def uniform(samples, labels, n, settings, labeler, progress) -> Chosen:
    """``n`` samples drawn uniformly without replacement (the baseline)."""
    return Chosen(sorted(np.random.default_rng(settings.seed).choice(len(samples), size=n, replace=False).tolist()))


def generate_reports_for(settings, samples: Sequence, k: int, mode: str, progress: bool) -> list[list[str]]:
    """``k`` reports per sample from ``settings.model``."""
    from radrl.generation import generate_reports
    from radrl.models.policy import load_policy_for_inference
    from radrl.recipe.sections import GenerationSettings

    policy, processor = load_policy_for_inference(str(settings.model), **settings.model_kwargs)
    generation = GenerationSettings(mode=mode, num_return_sequences=k, temperature=settings.temperature,
                                    top_p=settings.top_p if mode == "sample" else 1.0,
                                    max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size,
                                    seed=settings.seed)
    return generate_reports(policy, processor, list(samples), generation, progress=progress)
