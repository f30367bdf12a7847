"""Reward-weight schedules: DEER's two phases (F1 alone, then F1 + 0.25 BLEU-2 after step S)."""

from __future__ import annotations

from collections.abc import Sequence


def weight_at(step: int, weight: float, schedule: Sequence[Sequence[float]] | None = None) -> float:
    """The weight in force at optimizer step ``step``: ``weight`` until the first
    ``[from_step, w]`` entry of ``schedule`` with from_step <= step, the latest such w after.

    DEER: BLEU-2 with weight 0.0 and schedule [[S, 0.25]] gives R = F1 before step S and
    R = F1 + 0.25 BLEU-2 from step S on.
    """
    current = float(weight)
    for from_step, w in sorted(schedule or [], key=lambda e: e[0]):
        if step >= from_step:
            current = float(w)
    return current
