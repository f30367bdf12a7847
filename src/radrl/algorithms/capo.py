"""RadFlow's CAPO as a registered component: eps_i = eps * critical_factor for critical cases."""

from __future__ import annotations

import warnings

import torch

from radrl.algorithms.components import COMPONENTS, ClipRange
from radrl.algorithms.context import LOG_GROUP
from radrl.io import FieldError


def capo_clip_range(critical: torch.Tensor, epsilon: float, critical_factor: float = 0.25) -> torch.Tensor:
    """RadFlow Eq. 9: eps_i = eps * critical_factor (eps / 4) when case i is critical, else eps.

    ``critical`` is a bool (B,) tensor; returns float (B,)."""
    eps = torch.full(critical.shape, float(epsilon), dtype=torch.float32, device=critical.device)
    return torch.where(critical.bool(), eps * critical_factor, eps)


@COMPONENTS.register("capo")
class CapoClipRange(ClipRange):
    """Critical-aware clipping (RadFlow Eq. 9). Reads the ``critical`` column, which the
    criticality stage writes before training: the recipe's judge when ``judge`` is true, else the
    ground-truth labels (or the rule labeler's), a finding counting when positive (or uncertain,
    with ``count_uncertain``). ``critical_factor: 1.0`` clips every case at GRPO's eps: GRPO's
    own update, with the clipped shares on critical and other cases logged as CAPO logs them
    (``clip_ratio/region_mean/critical`` and ``/other``)."""

    columns = ("critical",)
    column_stages = {"critical": "criticality"}
    judge_modes = {"judge": True}

    def __init__(self, critical_factor: float = 0.25, judge: bool = False, count_uncertain: bool = True):
        if not 0.0 < critical_factor <= 1.0:
            raise FieldError("critical_factor", "critical_factor (eps_critical / eps) must lie in (0, 1]")
        self.critical_factor = float(critical_factor)
        self.judge, self.count_uncertain = bool(judge), bool(count_uncertain)

    def setup(self, ctx) -> None:
        args = ctx.settings
        if args.gradient_accumulation_steps % (args.steps_per_generation * args.num_iterations) == 0:
            # TRL's own test for "the policy has not moved since these rollouts were sampled"
            warnings.warn(
                "capo has no effect with these settings: every rollout batch is used in one optimizer step, so "
                "the importance ratio is 1 and no clip range (CAPO's eps/4 or GRPO's eps) ever applies; CAPO "
                "then trains exactly as GRPO. Set rl.num_iterations >= 2 (or rl.steps_per_generation above "
                "rl.gradient_accumulation_steps) for CAPO to act.", UserWarning, stacklevel=2)

    def clip_ranges(self, ctx, rollouts, epsilon_low, epsilon_high):
        critical = torch.tensor([bool(x["critical"]) for x in rollouts.inputs], device=ctx.device)
        ctx.log("capo/critical_share", float(ctx.gather(critical.float()).mean()))
        # the clipped-token share on critical and on other cases, each logged on its own
        rollouts.tensors[f"{LOG_GROUP}critical"], rollouts.tensors[f"{LOG_GROUP}other"] = critical, ~critical
        return (capo_clip_range(critical, epsilon_low, self.critical_factor),
                capo_clip_range(critical, epsilon_high, self.critical_factor))


__all__ = ["CapoClipRange"]
