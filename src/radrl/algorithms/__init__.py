"""The RL algorithms as small pure torch functions, each with its formula in the docstring.

==========================  ============================================================
file                        what
==========================  ============================================================
``advantages.py``           ``ADVANTAGES``: GRPO / Dr.GRPO group advantages, RLOO; the
                            reward-diversity statistics
``policy_loss.py``          ``POLICY_LOSSES``: every TRL loss_type (grpo, bnpo, dr_grpo,
                            dapo, luspo, cispo, sapo, vespo) and GSPO; k3 KL; aggregations
``token_weights.py``        DiTPO token weights (TF-IDF; labeler saliency -> w = 1 + beta*s,
                            aligned by character offsets), token-level advantages
``dpo.py``                  length-normalised DPO (OraPO's preference term)
``zero_reward.py``          OraPO's zero-reward rate, its EMA and the mixing weight lambda
``saliency.py``             DiTPO's gradient weights: labeler saliency aligned to policy tokens
``context.py``              what a component is given (``ComponentContext``, ``Rollouts``)
``components.py``           the registry (``COMPONENTS``) and the three slot base classes
``ditpo.py``                components ``tfidf`` and ``gradient`` (DEER)
``capo.py``                 component ``capo`` (RadFlow), its Eq. 9 clip range
``orapo.py``                component ``orapo_dpo`` (OraPO)
==========================  ============================================================

A recipe's ``algorithm:`` section names a policy loss, an advantage estimator and components;
``radrl.training.RadRLTrainer`` calls them.
"""

from radrl.algorithms.advantages import ADVANTAGES, group_advantages, group_reward_stats, rloo_advantages
from radrl.algorithms.capo import CapoClipRange, capo_clip_range  # the built-ins register themselves on import
from radrl.algorithms.components import (
    COMPONENTS,
    SLOTS,
    AuxiliaryLoss,
    ClipRange,
    Component,
    TokenWeights,
    build_components,
)
from radrl.algorithms.context import LOG_GROUP, ComponentContext, Rollouts, TrainerSettings
from radrl.algorithms.ditpo import GradientTokenWeights, TfidfTokenWeights
from radrl.algorithms.dpo import dpo_loss, sequence_logp
from radrl.algorithms.orapo import OrapoDpoLoss
from radrl.algorithms.policy_loss import (
    AGGREGATIONS,
    POLICY_LOSSES,
    TRL_LOSS_TYPES,
    PolicyLossInputs,
    PolicyLossOutput,
    aggregate_loss,
    aggregation_problem,
    clipped_surrogate,
    kl_k3,
    pairing_problem,
    register_policy_loss,
    trl_loss_name,
)
from radrl.algorithms.token_weights import (
    align_scores_by_offsets,
    saliency_token_weights,
    tfidf_token_weights,
    token_level_advantages,
)
from radrl.algorithms.zero_reward import ema_update, mixing_weight, zero_reward_groups

__all__ = [
    "ADVANTAGES", "AGGREGATIONS", "POLICY_LOSSES", "TRL_LOSS_TYPES", "aggregation_problem", "trl_loss_name",
    "LOG_GROUP", "ComponentContext", "PolicyLossInputs", "PolicyLossOutput",
    "Rollouts", "TrainerSettings", "pairing_problem", "register_policy_loss", "rloo_advantages",
    "COMPONENTS", "SLOTS", "AuxiliaryLoss", "CapoClipRange", "ClipRange", "Component", "GradientTokenWeights",
    "OrapoDpoLoss", "TfidfTokenWeights", "TokenWeights", "build_components", "aggregate_loss",
    "align_scores_by_offsets", "capo_clip_range", "clipped_surrogate", "dpo_loss", "ema_update",
    "group_advantages", "group_reward_stats", "kl_k3", "mixing_weight", "saliency_token_weights", "sequence_logp",
    "tfidf_token_weights", "token_level_advantages", "zero_reward_groups",
]
