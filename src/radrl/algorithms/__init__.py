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
``saliency.py``             DiTPO's gradient weights: labeler saliency aligned to policy tokens
``components.py``           the registry (``COMPONENTS``) and the three slot base classes
``ditpo.py``                components ``tfidf`` and ``gradient`` (DEER)
``capo.py``                 component ``capo`` (RadFlow)
``orapo.py``                component ``orapo_dpo`` (OraPO)
==========================  ============================================================

A recipe's ``algorithm:`` section names components; ``radrl.training.RadRLTrainer`` calls them.
"""

from radrl.algorithms.advantages import group_advantages, group_reward_stats
from radrl.algorithms.capo import CapoClipRange  # the built-in components register themselves on import
from radrl.algorithms.components import (
    COMPONENTS,
    SLOTS,
    AuxiliaryLoss,
    ClipRange,
    Component,
    TokenWeights,
    build_components,
)
from radrl.algorithms.ditpo import GradientTokenWeights, TfidfTokenWeights
from radrl.algorithms.dpo import dpo_loss, sequence_logp
from radrl.algorithms.orapo import OrapoDpoLoss
from radrl.algorithms.policy_loss import aggregate_loss, capo_clip_range, clipped_surrogate, kl_k3
from radrl.algorithms.token_weights import (
    align_scores_by_offsets,
    saliency_token_weights,
    tfidf_token_weights,
    token_level_advantages,
)
from radrl.algorithms.zero_reward import ema_update, mixing_weight, zero_reward_groups

__all__ = [
    "COMPONENTS", "SLOTS", "AuxiliaryLoss", "CapoClipRange", "ClipRange", "Component", "GradientTokenWeights",
    "OrapoDpoLoss", "TfidfTokenWeights", "TokenWeights", "build_components", "aggregate_loss",
    "align_scores_by_offsets", "capo_clip_range", "clipped_surrogate", "dpo_loss", "ema_update",
    "group_advantages", "group_reward_stats", "kl_k3", "mixing_weight", "saliency_token_weights", "sequence_logp",
    "tfidf_token_weights", "token_level_advantages", "zero_reward_groups",
]
