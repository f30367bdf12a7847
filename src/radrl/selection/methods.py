"""The selection methods ``radrl select`` and a recipe's ``select:`` can name, in one registry.

A method has up to two parts:

* ``measure(samples, settings, labeler, progress, index_offset) -> {name: per-sample array}``: the expensive
  part (reports sampled from the SFT model, labelled, scored). Each value depends on its own
  sample only, so the samples can be split into shards measured by different processes and
  the shards concatenated (:mod:`radrl.selection.shards`). Methods that need no model have none.
* ``choose(samples, labels, measured, n, settings) -> Chosen``: the indices of the ``n`` samples
  kept and what was measured on the way (kept in the subset file). Cheap, on one process.

``method.needs_model`` is true for the methods that measure with the SFT model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class SelectionMethod:
    name: str
    choose: Callable[..., Chosen]
    measure: Callable[..., dict[str, np.ndarray]] | None = None
    measure_keys: tuple[str, ...] = ()  # the settings that change what ``measure`` returns

    @property
    def needs_model(self) -> bool:
        return self.measure is not None


def _stats(values) -> dict:
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
            "max": float(values.max())} if len(values) else {}


GENERATION_KEYS = ("model", "generation", "seed", "model_kwargs")


# ---------------------------------------------------------------------------------- DDSampling
def _dds_measure(samples, settings, labeler, progress, index_offset=0) -> dict[str, np.ndarray]:
    from radrl.selection.ddsampling import diagnostic_diversity

    groups = generate_reports_for(settings, samples, settings.k, "sample", progress, index_offset)
    return {"diversity": diagnostic_diversity([labeler.label_batch(g) for g in groups])}


def _dds_choose(samples, labels, measured, n, settings) -> Chosen:
    """DEER: K sampled reports per image, diagnostic diversity, the log-rank draw (or ``top``)."""
    from radrl.selection.ddsampling import log_rank_sample

    diversity = np.asarray(measured["diversity"], dtype=np.float64)
    chosen = log_rank_sample(diversity, n, settings.seed) if settings.draw == "log_rank" else sorted(
        np.argsort(-diversity, kind="stable")[:n].tolist())
    return Chosen(chosen, diversity,
                  {"model": str(settings.model), "k": settings.k, "temperature": settings.generation.temperature,
                   "top_p": settings.generation.top_p, "draw": settings.draw},
                  {"diversity_all": _stats(diversity), "diversity_subset": _stats(diversity[chosen]),
                   "zero_diversity_share_all": float((diversity == 0).mean()),
                   "zero_diversity_share_subset": float((diversity[chosen] == 0).mean())})


SELECTION_METHODS.register("ddsampling", SelectionMethod("ddsampling", _dds_choose, _dds_measure,
                                                         (*GENERATION_KEYS, "k")))


# ------------------------------------------------------------------------ Target Exploration
def _te_measure(samples, settings, labeler, progress, index_offset=0) -> dict[str, np.ndarray]:
    from radrl.selection.target_exploration import per_sample_metrics

    preds = [g[0] for g in generate_reports_for(settings, samples, 1, "greedy", progress, index_offset)]
    return per_sample_metrics(preds, [s.report for s in samples], labeler, [s.labels for s in samples])


def _te_choose(samples, labels, measured, n, settings) -> Chosen:
    """RadFlow: the composite score of each SFT report (min-max over the whole set), bottom ``n``."""
    from radrl.selection.target_exploration import bottom_fraction, composite_scores

    metrics = {k: np.asarray(v, dtype=np.float64) for k, v in measured.items()}
    composite = composite_scores(metrics, settings.weights)
    chosen = bottom_fraction(composite, n / len(samples))[:n]
    return Chosen(chosen, composite, {"model": str(settings.model), "weights": settings.weights or "default"},
                  {"composite_all": _stats(composite), "composite_subset": _stats(composite[chosen]),
                   **{f"{m}_all": _stats(v) for m, v in metrics.items()},
                   **{f"{m}_subset": _stats(v[chosen]) for m, v in metrics.items()}})


SELECTION_METHODS.register("target_exploration", SelectionMethod("target_exploration", _te_choose, _te_measure,
                                                                 GENERATION_KEYS))


# ---------------------------------------------------------------------------- label-only ones
def _balanced(samples, labels, measured, n, settings) -> Chosen:
    """OraPO: a label-balanced subset of ``n`` studies."""
    from radrl.selection.balanced import label_balanced_subset

    return Chosen(label_balanced_subset(labels, n, settings.seed))


def _uniform(samples, labels, measured, n, settings) -> Chosen:
    """``n`` samples drawn uniformly without replacement (the baseline)."""
    return Chosen(sorted(np.random.default_rng(settings.seed).choice(len(samples), size=n, replace=False).tolist()))


SELECTION_METHODS.register("balanced", SelectionMethod("balanced", _balanced))
SELECTION_METHODS.register("random", SelectionMethod("random", _uniform))


def generate_reports_for(settings, samples: Sequence, k: int, mode: str, progress: bool,
                         index_offset: int = 0) -> list[list[str]]:
    """``k`` reports per sample from ``settings.model``, on this process's device. Each batch is
    seeded from its position in the whole sample list (``index_offset`` + its start), so a shard
    samples the same reports as the unsharded run."""
    from dataclasses import replace

    from radrl.distributed import local_device
    from radrl.generation import generate_reports
    from radrl.models.policy import load_policy_for_inference

    policy, processor = load_policy_for_inference(str(settings.model), **{"device": local_device(), **settings.model_kwargs})
    generation = replace(settings.generation, mode=mode, num_return_sequences=k, seed=settings.seed,
                         top_p=settings.generation.top_p if mode == "sample" else 1.0)
    return generate_reports(policy, processor, list(samples), generation, progress=progress, index_offset=index_offset)
