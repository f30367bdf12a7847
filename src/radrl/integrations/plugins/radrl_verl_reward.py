"""verl's ``custom_reward_function.path`` (see :mod:`radrl.integrations.verl`)."""

from radrl.integrations.verl import compute_score, compute_score_async, compute_score_batch

__all__ = ["compute_score", "compute_score_async", "compute_score_batch"]
