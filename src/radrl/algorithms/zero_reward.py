"""OraPO's zero-reward rate (ZRR), its per-prompt EMA and the DPO mixing weight lambda."""

from __future__ import annotations

import torch


def zero_reward_groups(rewards: torch.Tensor, group_size: int, atol: float = 0.0) -> torch.Tensor:
    """zrr_g = 1 when every (non-NaN) reward of group g is 0 (|r| <= atol), else 0. Flat -> (G,)."""
    grouped = rewards.view(-1, group_size)
    is_zero = (grouped.abs() <= atol) | torch.isnan(grouped)
    return is_zero.all(dim=1).float()


def ema_update(previous: torch.Tensor, zrr: torch.Tensor, momentum: float) -> torch.Tensor:
    """z <- mu * z + (1 - mu) * zrr."""
    return momentum * previous + (1.0 - momentum) * zrr


def mixing_weight(z: torch.Tensor, lambda_min: float, lambda_max: float, kappa: float) -> torch.Tensor:
    """lambda = lambda_min + (lambda_max - lambda_min) * z ** kappa; the loss is
    (1 - lambda) * L_GRPO + lambda * L_DPO for the prompt's samples."""
    return lambda_min + (lambda_max - lambda_min) * z.clamp(0.0, 1.0) ** kappa
