"""Length-normalised DPO (LN-DPO), the preference half of OraPO."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sequence_logp(per_token_logps: torch.Tensor, mask: torch.Tensor, length_normalise: bool = True) -> torch.Tensor:
    """sum_t log p(y_t | ...) over the mask, divided by |y| when ``length_normalise``. (B, T) -> (B,)."""
    total = (per_token_logps * mask).sum(-1)
    return total / mask.sum(-1).clamp(min=1.0) if length_normalise else total


def dpo_loss(policy_chosen: torch.Tensor, ref_chosen: torch.Tensor, policy_rejected: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """Per-pair DPO loss  -log sigmoid(beta * [(pi_c - ref_c) - (pi_r - ref_r)]).

    Pass length-normalised sequence log-probabilities (:func:`sequence_logp`) for LN-DPO:
    each log-ratio is then (log pi(y) - log pi_ref(y)) / |y|. All inputs (B,); returns (B,).
    """
    margin = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    return F.softplus(-margin)
