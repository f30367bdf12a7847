"""EasyR1's ``worker.reward.reward_function`` file (see :mod:`radrl.integrations.easyr1`)."""

from radrl.integrations.easyr1 import REWARD_NAME, REWARD_TYPE, compute_score

__all__ = ["REWARD_NAME", "REWARD_TYPE", "compute_score"]
