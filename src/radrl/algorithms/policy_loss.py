"""The policy losses, registered by name in ``POLICY_LOSSES`` as verl's ``register_policy_loss``
does: each is a pure function of tensors, with its formula in its docstring, and the way its
per-token loss is reduced to a scalar (``aggregation``) declared beside it.

Every TRL 1.16 ``loss_type`` is here, and GSPO's sequence-level ratio:

=========  ==============================  =====================  ==========
name       surrogate                       aggregation            clip range
=========  ==============================  =====================  ==========
grpo       PPO clip, token ratio           ``sequence_mean``      range
bnpo       PPO clip, token ratio           ``token_mean``         range
dr_grpo    PPO clip, token ratio           ``max_length``         range
dapo       PPO clip, token ratio           ``generation_tokens``  range
gspo       PPO clip, sequence ratio        ``sequence_mean``      range
luspo      PPO clip, sequence ratio        ``sequence_sum``       range
cispo      capped ratio x log-prob         ``generation_tokens``  cap
sapo       soft (sigmoid) gate             ``sequence_mean``      none
vespo      gamma weight x log-prob         ``generation_tokens``  none
=========  ==============================  =====================  ==========

A loss of your own is one function::

    from radrl.algorithms import PolicyLossOutput, register_policy_loss

    @register_policy_loss("clipped_pg", aggregation="token_mean")
    def clipped_pg(x, max_ratio: float = 2.0):
        \"\"\"-min(r, max_ratio) A, per token.\"\"\"
        ratio = (x.logps - x.old_logps).exp()
        return PolicyLossOutput(-ratio.clamp(max=max_ratio) * x.advantages, ratio, {})

and ``algorithm: {policy_loss: {type: clipped_pg, max_ratio: 3}}`` (or ``type:
my_pkg.losses:clipped_pg``) in a recipe. The trainer adds the KL term, scales the loss for OraPO
and gradient accumulation, and aggregates: the function sees none of that.

``clip`` says what the clip range means to a loss, so that a ``clip`` component (CAPO's per-case
range) is only combined with a loss that reads it as a range around 1: ``"range"`` (r is clipped to
[1 - eps_low, 1 + eps_high]), ``"cap"`` (CISPO: eps_high is an absolute cap on r) or ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch

from radrl.registry import Registry

POLICY_LOSSES: Registry = Registry("policy loss")
AGGREGATIONS = ("sequence_mean", "token_mean", "max_length", "generation_tokens", "sequence_sum")
"""How a per-token loss becomes a scalar (:func:`aggregate_loss`)."""
CLIP_KINDS = ("range", "cap", None)


@dataclass
class PolicyLossInputs:
    """What a policy loss is given, for this process's rows of one micro-batch.

    - ``logps``: the policy's per-token log-probs of the completions, (B, T), with gradient;
    - ``old_logps``: those of the policy that sampled them, (B, T) (equal to ``logps`` detached
      when the policy has not moved since);
    - ``advantages``: (B, 1) (one per completion) or (B, T) (token-weighted, DiTPO);
    - ``mask``: (B, T), 1 on completion tokens that count;
    - ``clip_low`` / ``clip_high``: floats, or (B, 1) / (B, T) tensors from a ``clip`` component;
    - ``sampling_ratio``: vLLM's per-token pi_old / pi_sampler correction, (B, T), or None.
    """

    logps: torch.Tensor
    old_logps: torch.Tensor
    advantages: torch.Tensor
    mask: torch.Tensor
    clip_low: float | torch.Tensor
    clip_high: float | torch.Tensor
    sampling_ratio: torch.Tensor | None = None


class PolicyLossOutput(NamedTuple):
    """``per_token_loss``: (B, T), or (B, 1) for one value per sequence; ``ratio``: the importance
    weight the loss used (the KL term's bias correction multiplies by it); ``metrics``: name ->
    (B, T) or (B, 1) tensor, logged as its masked mean over all processes."""

    per_token_loss: torch.Tensor
    ratio: torch.Tensor
    metrics: dict[str, torch.Tensor]


def register_policy_loss(name: str, *, aggregation: str, clip: Literal["range", "cap"] | None = "range",
                         corrects_sampling: bool = False) -> Callable:
    """``@register_policy_loss("name", aggregation=...)`` on a function ``(x: PolicyLossInputs,
    **params) -> PolicyLossOutput``. ``corrects_sampling``: the loss applies vLLM's
    ``sampling_ratio`` itself (else the trainer multiplies the per-token loss by it)."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}")
    if clip not in CLIP_KINDS:
        raise ValueError(f"clip must be 'range', 'cap' or None, got {clip!r}")

    def add(fn: Callable) -> Callable:
        fn.aggregation, fn.clip, fn.corrects_sampling = aggregation, clip, corrects_sampling
        POLICY_LOSSES.register(name, fn)
        return fn

    return add


def _per_row(eps: float | torch.Tensor) -> float | torch.Tensor:
    """A clip bound as floats stay, (B,) as (B, 1), (B, T) as is."""
    return eps.unsqueeze(1) if torch.is_tensor(eps) and eps.dim() == 1 else eps


def log_importance_weights(logps: torch.Tensor, old_logps: torch.Tensor, mask: torch.Tensor,
                           level: Literal["token", "sequence"]) -> torch.Tensor:
    """log r: per token, log pi - log pi_old, (B, T); or per sequence (GSPO), the masked mean of
    it over the completion, (B, 1)."""
    log_ratio = logps - old_logps
    if level == "token":
        return log_ratio
    if level == "sequence":
        return ((log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).unsqueeze(-1)
    raise ValueError(f"level must be 'token' or 'sequence', got {level!r}")


def clipped_surrogate(per_token_logps: torch.Tensor, old_per_token_logps: torch.Tensor,
                      advantages: torch.Tensor, epsilon_low: float | torch.Tensor,
                      epsilon_high: float | torch.Tensor, delta: float | None = None) -> torch.Tensor:
    """Per-token PPO/GRPO loss  -min(r A, clip(r, 1 - eps_low_i, 1 + eps_high_i) A).

    r = exp(log pi_theta - log pi_old) per token. ``advantages`` is (B,) (one per sequence,
    GRPO) or (B, T) (token-level, DiTPO). ``epsilon_low``/``epsilon_high`` are floats or (B,)
    or (B, T) tensors (CAPO's per-case range). ``delta`` (optional) caps r from above (two-sided
    clipping, as in TRL). Returns (B, T); mask and aggregate with :func:`aggregate_loss`.
    """
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    return _ppo_clip(torch.exp(per_token_logps - old_per_token_logps), advantages, epsilon_low, epsilon_high,
                     delta)[0]


def _ppo_clip(ratio, advantages, epsilon_low, epsilon_high, delta):
    low, high = _per_row(epsilon_low), _per_row(epsilon_high)
    if torch.is_tensor(low) or torch.is_tensor(high):
        clipped = torch.minimum(torch.maximum(ratio, 1 - torch.as_tensor(low)), 1 + torch.as_tensor(high))
    else:
        clipped = torch.clamp(ratio, 1 - low, 1 + high)
    unclipped = ratio if delta is None else torch.clamp(ratio, max=delta)
    loss = -torch.min(unclipped * advantages, clipped * advantages)
    is_low = (ratio < 1 - low) & (advantages < 0)
    is_high = (ratio > 1 + high) & (advantages > 0)
    return loss, {"clip_ratio/low_mean": is_low.float(), "clip_ratio/high_mean": is_high.float(),
                  "clip_ratio/region_mean": (is_low | is_high).float()}


def _ppo_variant(name: str, aggregation: str, default_level: str) -> Callable:
    def ppo_clip(x: PolicyLossInputs, level: Literal["token", "sequence"] = default_level,
                 delta: float | None = None) -> PolicyLossOutput:
        ratio = torch.exp(log_importance_weights(x.logps, x.old_logps, x.mask, level))
        loss, metrics = _ppo_clip(ratio, x.advantages, x.clip_low, x.clip_high, delta)
        return PolicyLossOutput(loss, ratio, metrics)

    ppo_clip.__name__ = ppo_clip.__qualname__ = name
    ppo_clip.__doc__ = (
        f"{name}: -min(r A, clip(r, 1 - eps_low, 1 + eps_high) A), r = pi / pi_old per {default_level} "
        f"(``level``), optionally r capped at ``delta`` in the first term; aggregated as {aggregation}.")
    return register_policy_loss(name, aggregation=aggregation)(ppo_clip)


grpo = _ppo_variant("grpo", "sequence_mean", "token")
bnpo = _ppo_variant("bnpo", "token_mean", "token")
dr_grpo = _ppo_variant("dr_grpo", "max_length", "token")
dapo = _ppo_variant("dapo", "generation_tokens", "token")
gspo = _ppo_variant("gspo", "sequence_mean", "sequence")  # GSPO (arXiv:2507.18071): TRL's grpo at sequence level
luspo = _ppo_variant("luspo", "sequence_sum", "sequence")


@register_policy_loss("cispo", aggregation="generation_tokens", clip="cap")
def cispo(x: PolicyLossInputs, level: Literal["token", "sequence"] = "token") -> PolicyLossOutput:
    """CISPO (MiniMax-M1): -sg(min(r, eps_high)) A log pi, per token; eps_high is an absolute cap
    on r (TRL's ``epsilon_high`` for cispo, e.g. 5), not a range around 1."""
    ratio = torch.exp(log_importance_weights(x.logps, x.old_logps, x.mask, level))
    capped = torch.clamp(ratio, max=x.clip_high).detach()
    loss = -capped * x.advantages * x.logps
    return PolicyLossOutput(loss, ratio, {"cispo_clip_ratio": ((ratio > x.clip_high) & (x.advantages > 0)).float()})


@register_policy_loss("sapo", aggregation="sequence_mean", clip=None)
def sapo(x: PolicyLossInputs, level: Literal["token", "sequence"] = "token", temperature_pos: float = 1.0,
         temperature_neg: float = 1.05) -> PolicyLossOutput:
    """SAPO: -(4 / tau) sigmoid(tau (r - 1)) A, with tau = temperature_pos where A > 0 else
    temperature_neg: a soft gate in place of the hard clip (its slope at r = 1 is that of r A)."""
    ratio = torch.exp(log_importance_weights(x.logps, x.old_logps, x.mask, level))
    tau = torch.where(x.advantages > 0, temperature_pos, temperature_neg)
    return PolicyLossOutput(-torch.sigmoid(tau * (ratio - 1)) * 4 / tau * x.advantages, ratio, {})


@register_policy_loss("vespo", aggregation="generation_tokens", clip=None, corrects_sampling=True)
def vespo(x: PolicyLossInputs, k_pos: float = 2.0, lambda_pos: float = 3.0, k_neg: float = 3.0,
          lambda_neg: float = 2.0) -> PolicyLossOutput:
    """VESPO: -sg(phi(w)) A log pi, phi(w) = e^lambda w^k e^(-lambda w) (phi(1) = 1), w the
    sequence's importance ratio prod_t r_t (times vLLM's sampling correction), (k, lambda) =
    (k_pos, lambda_pos) where A >= 0 else (k_neg, lambda_neg); computed in log space with log w
    clamped to [log 1e-8, 20] as TRL does."""
    floor = math.log(1e-8)
    log_ratio = x.logps - x.old_logps
    seq = (torch.clamp(log_ratio, -20.0, 20.0) * x.mask).sum(-1, keepdim=True)
    if x.sampling_ratio is not None:
        seq = seq + torch.clamp(torch.log(x.sampling_ratio), floor, 20.0).sum(-1, keepdim=True)
    log_w = torch.clamp(seq, floor, 20.0).detach()
    nonneg = x.advantages >= 0
    k = torch.where(nonneg, k_pos, k_neg)
    lam = torch.where(nonneg, lambda_pos, lambda_neg).clamp(min=1e-4)
    phi = torch.exp(lam + k * log_w - lam * torch.exp(log_w)).nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
    return PolicyLossOutput(-phi * x.advantages * x.logps, torch.exp(log_ratio), {"vespo/phi_seq_mean": phi})


def kl_k3(per_token_logps: torch.Tensor, ref_per_token_logps: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(pi_theta || pi_ref) per token:
    exp(log pi_ref - log pi_theta) - (log pi_ref - log pi_theta) - 1  (>= 0, unbiased)."""
    diff = ref_per_token_logps - per_token_logps
    return torch.exp(diff) - diff - 1


def aggregate_loss(per_token_loss: torch.Tensor, mask: torch.Tensor, aggregation: str,
                   max_completion_length: int | None = None,
                   token_normalizer: torch.Tensor | float | None = None) -> torch.Tensor:
    """Reduce a (B, T) (or (B, 1)) per-token loss to a scalar, as each loss declares:

    sequence_mean:     1/B sum_i (1/|o_i|) sum_t l_it             (grpo, gspo, sapo)
    token_mean:        sum_it l_it / sum_it m_it                  (bnpo: over the micro-batch)
    max_length:        sum_it l_it / (B * max_completion_length)  (dr_grpo: no length bias)
    generation_tokens: sum_it l_it / token_normalizer             (dapo, cispo, vespo: the generation
                                                                   batch's token count)
    sequence_sum:      1/B sum_i sum_t l_it                       (luspo: length-unbiased)
    """
    masked = per_token_loss * mask
    if aggregation == "sequence_mean":
        return (masked.sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if aggregation == "token_mean":
        return masked.sum() / mask.sum().clamp(min=1.0)
    if aggregation == "max_length":
        if max_completion_length is None:
            raise ValueError("max_length aggregation needs max_completion_length")
        return masked.sum() / (per_token_loss.size(0) * max_completion_length)
    if aggregation == "generation_tokens":
        if token_normalizer is None:
            raise ValueError("generation_tokens aggregation needs token_normalizer (the generation batch's token count)")
        return masked.sum() / token_normalizer
    if aggregation == "sequence_sum":
        return masked.sum(-1).mean()
    raise ValueError(f"unknown aggregation {aggregation!r}; choose one of {', '.join(AGGREGATIONS)}")


TRL_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "luspo", "cispo", "sapo", "vespo")
"""TRL 1.16's ``loss_type`` values; each is the registered loss of the same name."""


def trl_loss_name(loss_type: str, importance_sampling_level: str = "token") -> str:
    """The registered loss that TRL's ``loss_type`` names at that ratio level (grpo at sequence level
    is GSPO)."""
    return "gspo" if loss_type == "grpo" and importance_sampling_level == "sequence" else loss_type


def aggregation_problem(name: str, loss_fn: Callable) -> str | None:
    """Why ``loss_fn`` cannot be aggregated, or None: a policy loss declares its ``aggregation``
    (``register_policy_loss`` sets it); the trainer never guesses one."""
    if getattr(loss_fn, "aggregation", None) in AGGREGATIONS:
        return None
    return (f"policy loss {name} declares no aggregation: decorate it with register_policy_loss(name, "
            f"aggregation=...) or set its .aggregation to one of {', '.join(AGGREGATIONS)}")


def pairing_problem(loss_name: str, loss_fn: Callable, clip_component: str | None) -> str | None:
    """Why a policy loss cannot take a ``clip`` component's ranges, or None when it can: a
    component's range is one around 1, which only ``clip == "range"`` losses read that way."""
    kind = getattr(loss_fn, "clip", "range")
    if clip_component is None or kind == "range":
        return None
    if kind == "cap":
        return (f"the {clip_component} clip component gives a range around 1, and {loss_name} reads eps_high as an "
                "absolute cap on the ratio: the pair has no meaning; use a PPO-clip loss (grpo, bnpo, dr_grpo, "
                "dapo, gspo, luspo)")
    return (f"{loss_name} has no clip range, so the {clip_component} clip component would change nothing; "
            "use a PPO-clip loss (grpo, bnpo, dr_grpo, dapo, gspo, luspo) or drop algorithm.clip")


__all__ = ["AGGREGATIONS", "POLICY_LOSSES", "TRL_LOSS_TYPES", "aggregation_problem", "trl_loss_name",
           "PolicyLossInputs", "PolicyLossOutput", "aggregate_loss", "bnpo",
           "cispo", "clipped_surrogate", "dapo", "dr_grpo", "grpo", "gspo", "kl_k3", "log_importance_weights",
           "luspo", "pairing_problem", "register_policy_loss", "sapo", "vespo"]
