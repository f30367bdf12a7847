"""DEER's diagnostic-diversity sampling (DDSampling, arXiv:2603.04022 §3.2).

For each image, K reports are sampled from the SFT model (nucleus sampling); each report's labels
are binarised, p_c^(k) in {0, 1} (positive -> 1; uncertain as configured, default 0). The
diagnostic diversity of the image is

    D = sum over the 14 observations c of std_k(p_c^(k))      (population std over the K samples)

Images are ranked by D, highest first, and the subset is drawn without replacement with
P(rank r) proportional to 1 / log(r + 1), r = 1..N (natural log): diverse images are likely, the
rest still possible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from radrl.metrics.clinical import binarize
from radrl.schema import Labels


def diagnostic_diversity(label_sets: Sequence[Sequence[Labels]], uncertain: str = "negative") -> np.ndarray:
    """D_i = sum_c std_k(p_c^(k)) for each image i, from its K sampled reports' labels."""
    out = np.zeros(len(label_sets))
    for i, labels in enumerate(label_sets):
        if len(labels) < 2:
            raise ValueError(f"image {i}: diagnostic diversity needs K >= 2 sampled reports, got {len(labels)}")
        out[i] = binarize(labels, uncertain).astype(np.float64).std(axis=0).sum()
    return out


def log_rank_probabilities(n: int) -> np.ndarray:
    """P(rank r) = (1 / log(r + 1)) / sum_r' (1 / log(r' + 1)), r = 1..n."""
    weights = 1.0 / np.log(np.arange(1, n + 1) + 1.0)
    return weights / weights.sum()


def log_rank_sample(scores: Sequence[float], size: int, seed: int = 0) -> list[int]:
    """Indices of ``size`` items drawn without replacement by rank of ``scores`` (descending;
    ties keep input order), P(rank r) proportional to 1 / log(r + 1)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    if not 0 < size <= n:
        raise ValueError(f"subset size must lie in 1..{n}, got {size}")
    order = np.argsort(-scores, kind="stable")               # rank 1 = highest diversity
    rng = np.random.default_rng(seed)
    picked_ranks = rng.choice(n, size=size, replace=False, p=log_rank_probabilities(n))
    return sorted(int(order[r]) for r in picked_ranks)
