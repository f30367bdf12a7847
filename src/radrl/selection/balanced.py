"""OraPO's label-balanced training subset (arXiv:2509.18600 §4: 1K CheXpert Plus studies).

The paper names the subset but not its construction; radrl's rule: repeatedly take the
observation (the 13 findings, Support Devices and No Finding) with the fewest positives chosen so
far among those that still have unchosen positive studies, and add a random unchosen study
positive for it. Every label's count in the subset then grows as evenly as co-occurrence allows.
Once no study with a positive label is left, the rest is filled at random.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from radrl.schema import OBSERVATIONS, POSITIVE, Labels


def label_balanced_subset(labels: Sequence[Labels], n: int, seed: int = 0) -> list[int]:
    """Indices (sorted) of ``n`` studies chosen to balance the positive counts of the labels."""
    if not 0 < n <= len(labels):
        raise ValueError(f"subset size must lie in 1..{len(labels)}, got {n}")
    rng = random.Random(seed)
    pools = {c: [i for i, lab in enumerate(labels) if lab.get(c) == POSITIVE] for c in OBSERVATIONS}
    for pool in pools.values():
        rng.shuffle(pool)
    counts = dict.fromkeys(OBSERVATIONS, 0)
    chosen: set[int] = set()
    while len(chosen) < n:
        open_labels = [c for c in OBSERVATIONS if any(i not in chosen for i in pools[c])]
        if not open_labels:
            break
        label = min(open_labels, key=lambda c: (counts[c], OBSERVATIONS.index(c)))
        pick = next(i for i in pools[label] if i not in chosen)
        chosen.add(pick)
        for c in OBSERVATIONS:
            counts[c] += labels[pick].get(c) == POSITIVE
    rest = [i for i in range(len(labels)) if i not in chosen]
    rng.shuffle(rest)
    chosen.update(rest[:n - len(chosen)])
    return sorted(chosen)
