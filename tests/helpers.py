"""Helpers several test files share (pytest puts this folder on sys.path; the scripts under
tests/scripts add it themselves)."""

from __future__ import annotations

from radrl.rewards import RewardFunction


class LengthReward(RewardFunction):
    """Deterministic and varied on an untrained model's output, so every group has an advantage
    signal (the equality tests need one)."""

    name = "length"

    def score(self, texts, references, ref_labels):
        return [len(t) / 100 for t in texts]
