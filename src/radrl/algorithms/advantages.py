"""Advantage estimators, registered by name in ``ADVANTAGES`` (verl's ``register_adv_est``), and
the group statistics DEER Table 7 reports.

Each estimator is ``fn(rewards, group_size, **params) -> advantages``, both flat. Built in:
``grpo`` (group normalisation in TRL's three ``scale_rewards`` modes; ``scale: none`` is Dr.GRPO)
and ``rloo`` (RLOO's leave-one-out baseline, which TRL does not have). A recipe picks one with
``algorithm: {advantage: {type: rloo}}``; a new one is a function registered here.

Rewards arrive flat, ``(num_groups * group_size,)``, with the ``group_size`` completions of one
prompt next to each other (TRL's ``RepeatSampler`` order). A ``NaN`` reward marks a completion
whose reward could not be computed: it is left out of its group's mean and std and gets
advantage 0.
"""

from __future__ import annotations

import torch

from radrl.registry import Registry

ADVANTAGES: Registry = Registry("advantage estimator")


def _nanstd(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Sample standard deviation (Bessel-corrected, like ``torch.std``) ignoring NaNs."""
    mean = torch.nanmean(x, dim=dim, keepdim=True)
    variance = torch.nanmean((x - mean) ** 2, dim=dim)
    count = (~torch.isnan(x)).sum(dim=dim)
    variance = torch.where(count > 1, variance * count / (count - 1).clamp(min=1), torch.zeros_like(variance))
    return variance.sqrt()


def group_advantages(rewards: torch.Tensor, group_size: int, scale: str = "group",
                     eps: float = 1e-4) -> torch.Tensor:
    """GRPO advantages of flat rewards grouped ``group_size`` at a time.

    A_i = (r_i - mean(r_group)) / (std(r_group) + eps)        scale = "group"  (GRPO)
    A_i =  r_i - mean(r_group)                                scale = "none"   (Dr.GRPO)
    A_i = (r_i - mean(r_group)) / (std(r_all) + eps)          scale = "batch"

    std is the Bessel-corrected sample std; eps = 1e-4 as in TRL, so radrl's advantages equal
    stock ``GRPOTrainer``'s. NaN rewards are skipped in the statistics and get A_i = 0.
    """
    if rewards.dim() != 1 or rewards.numel() % group_size:
        raise ValueError(f"rewards must be flat with a multiple of {group_size} entries, got {tuple(rewards.shape)}")
    grouped = rewards.view(-1, group_size)
    mean = torch.nanmean(grouped, dim=1, keepdim=True)
    advantages = grouped - mean
    if scale == "group":
        std = _nanstd(grouped, dim=1).unsqueeze(1) if group_size > 1 else torch.zeros_like(mean)
        advantages = advantages / (std + eps)
    elif scale == "batch":
        std = _nanstd(rewards, dim=0) if rewards.numel() > 1 else torch.zeros(())
        advantages = advantages / (std + eps)
    elif scale != "none":
        raise ValueError(f"scale must be 'group', 'batch' or 'none', got {scale!r}")
    return torch.nan_to_num(advantages.reshape(-1), nan=0.0)


ADVANTAGES.register("grpo", group_advantages)


@ADVANTAGES.register("rloo")
def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """RLOO (Ahmadian et al. 2024): each completion's baseline is the mean of the others in its group,

    A_i = r_i - 1/(n - 1) sum_{j != i} r_j  =  n/(n - 1) (r_i - mean(r_group)),

    n the group's completions with a reward. A NaN reward (failed) is left out of the others'
    baselines and gets A_i = 0, as does a completion with no other in its group.
    """
    if rewards.dim() != 1 or rewards.numel() % group_size:
        raise ValueError(f"rewards must be flat with a multiple of {group_size} entries, got {tuple(rewards.shape)}")
    grouped = rewards.view(-1, group_size)
    valid = ~torch.isnan(grouped)
    total = torch.nansum(grouped, dim=1, keepdim=True)
    others = valid.sum(dim=1, keepdim=True) - 1
    baseline = (total - torch.nan_to_num(grouped, nan=0.0)) / others.clamp(min=1)
    advantages = torch.where(valid & (others > 0), grouped - baseline, torch.zeros_like(grouped))
    return advantages.reshape(-1)


def group_reward_stats(rewards: torch.Tensor, group_size: int, atol: float = 1e-6) -> dict[str, float]:
    """Reward-diversity diagnostics of a batch of groups (DEER Table 7, OraPO Fig. 2).

    - ``zero_std_share``: share of groups whose rewards are all equal (no GRPO signal);
    - ``unique_per_group``: mean number of distinct rewards in a group;
    - ``group_std``: mean within-group std;
    - ``all_zero_share``: share of groups whose rewards are all 0 (OraPO's zero-reward groups).
    NaN rewards (failed) are left out.
    """
    grouped = rewards.detach().float().view(-1, group_size)
    zero_std, unique, stds, all_zero = [], [], [], []
    for row in grouped:
        row = row[~torch.isnan(row)]
        if row.numel() == 0:
            continue
        distinct = torch.unique(torch.round(row / atol) * atol)
        unique.append(float(distinct.numel()))
        zero_std.append(float(distinct.numel() == 1))
        stds.append(float(row.std()) if row.numel() > 1 else 0.0)
        all_zero.append(float(bool((row.abs() <= atol).all())))
    n = max(len(unique), 1)
    return {
        "zero_std_share": sum(zero_std) / n,
        "unique_per_group": sum(unique) / n,
        "group_std": sum(stds) / n,
        "all_zero_share": sum(all_zero) / n,
    }
