"""The RL algorithms as small pure torch functions, each with its formula in the docstring.

==========================  ============================================================
file                        what
==========================  ============================================================
``advantages.py``           GRPO / Dr.GRPO group advantages; reward-diversity statistics
``token_weights.py``        DiTPO token weights (TF-IDF; labeler saliency -> w = 1 + beta*s,
                            aligned by character offsets), token-level advantages
``policy_loss.py``          clipped surrogate with (B, T) advantages and per-sample clip
                            ranges (CAPO), k3 KL, the grpo/bnpo/dr_grpo/dapo reductions
``dpo.py``                  length-normalised DPO (OraPO's preference term)
``zero_reward.py``          OraPO's zero-reward rate, its EMA and the mixing weight lambda
==========================  ============================================================
"""

from radrl.algorithms.advantages import group_advantages, group_reward_stats
from radrl.algorithms.dpo import dpo_loss, sequence_logp
from radrl.algorithms.policy_loss import aggregate_loss, capo_clip_range, clipped_surrogate, kl_k3
from radrl.algorithms.token_weights import (
    align_scores_by_offsets,
    saliency_token_weights,
    tfidf_token_weights,
    token_level_advantages,
)
from radrl.algorithms.zero_reward import ema_update, mixing_weight, zero_reward_groups

__all__ = [
    "aggregate_loss", "align_scores_by_offsets", "capo_clip_range", "clipped_surrogate", "dpo_loss", "ema_update",
    "group_advantages", "group_reward_stats", "kl_k3", "mixing_weight", "saliency_token_weights", "sequence_logp",
    "tfidf_token_weights", "token_level_advantages", "zero_reward_groups",
]
