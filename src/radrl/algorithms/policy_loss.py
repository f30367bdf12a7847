"""The clipped policy-gradient surrogate with token-level advantages and per-sample clip ranges
(CAPO), the k3 KL estimator, and the loss aggregations of the GRPO family."""

from __future__ import annotations

import torch


def capo_clip_range(critical: torch.Tensor, epsilon: float, critical_factor: float = 0.25) -> torch.Tensor:
    """RadFlow Eq. 9: eps_i = eps * critical_factor (eps / 4) when case i is critical, else eps.

    ``critical`` is a bool (B,) tensor; returns float (B,)."""
    eps = torch.full(critical.shape, float(epsilon), dtype=torch.float32, device=critical.device)
    return torch.where(critical.bool(), eps * critical_factor, eps)


def clipped_surrogate(per_token_logps: torch.Tensor, old_per_token_logps: torch.Tensor,
                      advantages: torch.Tensor, epsilon_low: float | torch.Tensor,
                      epsilon_high: float | torch.Tensor, delta: float | None = None) -> torch.Tensor:
    """Per-token PPO/GRPO loss  -min(r A, clip(r, 1 - eps_low_i, 1 + eps_high_i) A).

    r = exp(log pi_theta - log pi_old) per token. ``advantages`` is (B,) (one per sequence,
    GRPO) or (B, T) (token-level, DiTPO). ``epsilon_low``/``epsilon_high`` are floats or (B,)
    tensors (CAPO's per-case range). ``delta`` (optional) caps r from above (two-sided
    clipping, as in TRL). Returns (B, T); mask and aggregate with :func:`aggregate_loss`.
    """
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    coef_1 = torch.exp(per_token_logps - old_per_token_logps)
    low = epsilon_low.unsqueeze(1) if torch.is_tensor(epsilon_low) else epsilon_low
    high = epsilon_high.unsqueeze(1) if torch.is_tensor(epsilon_high) else epsilon_high
    if torch.is_tensor(low) or torch.is_tensor(high):
        coef_2 = torch.minimum(torch.maximum(coef_1, 1 - torch.as_tensor(low)), 1 + torch.as_tensor(high))
    else:
        coef_2 = torch.clamp(coef_1, 1 - low, 1 + high)
    if delta is not None:
        coef_1 = torch.clamp(coef_1, max=delta)
    return -torch.min(coef_1 * advantages, coef_2 * advantages)


def kl_k3(per_token_logps: torch.Tensor, ref_per_token_logps: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(pi_theta || pi_ref) per token:
    exp(log pi_ref - log pi_theta) - (log pi_ref - log pi_theta) - 1  (>= 0, unbiased)."""
    diff = ref_per_token_logps - per_token_logps
    return torch.exp(diff) - diff - 1


def aggregate_loss(per_token_loss: torch.Tensor, mask: torch.Tensor, loss_type: str,
                   max_completion_length: int | None = None,
                   token_normalizer: torch.Tensor | float | None = None) -> torch.Tensor:
    """Reduce a (B, T) per-token loss to a scalar the way each GRPO variant does.

    grpo:    1/B sum_i (1/|o_i|) sum_t l_it             (sequence mean, then batch mean)
    bnpo:    sum_it l_it / sum_it m_it                  (token mean over the local batch)
    dr_grpo: sum_it l_it / (B * max_completion_length)  (Dr.GRPO: constant normaliser, no length bias)
    dapo:    sum_it l_it / token_normalizer             (token mean over the whole generation batch)
    """
    masked = per_token_loss * mask
    if loss_type == "grpo":
        return (masked.sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "bnpo":
        return masked.sum() / mask.sum().clamp(min=1.0)
    if loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("dr_grpo needs max_completion_length")
        return masked.sum() / (per_token_loss.size(0) * max_completion_length)
    if loss_type == "dapo":
        if token_normalizer is None:
            raise ValueError("dapo needs token_normalizer (the generation batch's token count)")
        return masked.sum() / token_normalizer
    raise ValueError(f"unknown loss_type {loss_type!r}; radrl's loss supports grpo, bnpo, dr_grpo, dapo")
