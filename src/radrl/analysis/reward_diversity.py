"""DEER's reward-diversity analysis (Table 7): how much GRPO signal a training subset gives.

For each prompt of a subset, ``group_size`` rollouts are sampled from the policy and scored by a
reward; per group: is its reward constant (zero variance: GRPO learns nothing from it), how many
distinct rewards it has, its std. The table reports the share of zero-variance groups, the mean
number of unique rewards per group and the mean group std (``radrl.algorithms.group_reward_stats``,
the same numbers the trainer logs every step), plus the share of all-zero groups (OraPO).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from radrl.algorithms import group_reward_stats


def reward_diversity(groups: Sequence[Sequence[str]], references: Sequence[str], reward,
                     ref_labels: Sequence[dict | None] | None = None) -> dict:
    """Statistics of ``reward`` over groups of rollouts (one group per reference)."""
    if len(groups) != len(references):
        raise ValueError("one group of rollouts per reference")
    size = {len(g) for g in groups}
    if len(size) != 1:
        raise ValueError("every group must have the same number of rollouts")
    (group_size,) = size
    texts = [t for g in groups for t in g]
    refs = [r for r in references for _ in range(group_size)]
    labels = [lab for lab in (ref_labels or [None] * len(references)) for _ in range(group_size)]
    scores = reward(completions=texts, reference=refs, gt_labels=labels)
    rewards = torch.tensor([float("nan") if s is None else s for s in scores])
    stats = group_reward_stats(rewards, group_size)
    return {**stats, "mean_reward": float(rewards.nanmean()), "n_groups": len(groups), "group_size": group_size}


def sample_groups(model_path: str, samples: Sequence, group_size: int = 8, temperature: float = 1.0,
                  top_p: float = 1.0, max_new_tokens: int = 160, seed: int = 0, progress: bool = True):
    """``group_size`` sampled reports per sample (the rollouts GRPO would see)."""
    from radrl.config.sections import GenerationSettings
    from radrl.generation import generate_reports
    from radrl.models.policy import load_policy_for_inference

    model, processor = load_policy_for_inference(str(model_path))
    settings = GenerationSettings(mode="sample", num_return_sequences=group_size, temperature=temperature,
                                  top_p=top_p, max_new_tokens=max_new_tokens, batch_size=max(1, 64 // group_size),
                                  seed=seed)
    return generate_reports(model, processor, list(samples), settings, progress=progress)


def format_diversity_table(rows: dict[str, dict]) -> str:
    lines = [f"{'subset':28s} {'groups':>7s} {'zero-var':>9s} {'unique/grp':>11s} {'mean std':>9s} "
             f"{'all-zero':>9s} {'reward':>7s}"]
    for name, r in rows.items():
        lines.append(f"{name:28s} {r['n_groups']:7d} {r['zero_std_share']:9.1%} {r['unique_per_group']:11.2f} "
                     f"{r['group_std']:9.3f} {r['all_zero_share']:9.1%} {r['mean_reward']:7.3f}")
    return "\n".join(lines)
