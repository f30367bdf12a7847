"""OraPO's preference term as a registered component (arXiv:2509.18600 §3.2, Eq. 4):

    loss = (1 - lambda) * L_GRPO + lambda * L_LN-DPO,
    lambda = lambda_min + (lambda_max - lambda_min) * z^kappa,   z <- mu * z + (1 - mu) * zrr

per prompt, where zrr = 1 when every reward of the prompt's group is zero. The DPO pairs are
(ground truth chosen, each rollout rejected), length-normalised, against the frozen initial
policy. The per-prompt EMA is the component's checkpoint state.
"""

from __future__ import annotations

import json

import torch

from radrl.algorithms.components import COMPONENTS, AuxiliaryLoss
from radrl.algorithms.dpo import dpo_loss, sequence_logp
from radrl.algorithms.zero_reward import ema_update, mixing_weight, zero_reward_groups
from radrl.io import FieldError


@COMPONENTS.register("orapo_dpo")
class OrapoDpoLoss(AuxiliaryLoss):
    """LN-DPO on (ground truth, rollout) pairs mixed into GRPO by each prompt's lambda."""

    columns = ("reference",)
    needs_reference_model = True
    resume_needs_state = True

    def __init__(self, momentum: float = 0.9, lambda_min: float = 0.05, lambda_max: float = 0.5,
                 kappa: float = 2.0, dpo_beta: float = 0.1, zero_atol: float = 1e-6):
        if not 0.0 <= momentum < 1.0:
            raise FieldError("momentum", "momentum (mu of the zero-reward EMA) must lie in [0, 1)")
        if not 0.0 <= lambda_min <= lambda_max <= 1.0:
            raise FieldError("lambda_max", "need 0 <= lambda_min <= lambda_max <= 1")
        self.momentum, self.lambda_min, self.lambda_max = float(momentum), float(lambda_min), float(lambda_max)
        self.kappa, self.dpo_beta, self.zero_atol = float(kappa), float(dpo_beta), float(zero_atol)
        self.zrr_ema: dict[str, float] = {}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {"zrr_ema": dict(self.zrr_ema)}

    def load_state_dict(self, state: dict) -> None:
        self.zrr_ema = {str(k): float(v) for k, v in state.get("zrr_ema", {}).items()}

    # ------------------------------------------------------------------ after scoring
    def lambdas(self, keys: list[str], rewards: torch.Tensor, group_size: int, update: bool) -> list[float]:
        """lambda per group; the EMA of each prompt updated when ``update`` (training, not eval)."""
        zrr = zero_reward_groups(rewards.cpu(), group_size, atol=self.zero_atol)
        out = []
        for g, z_now in enumerate(zrr.tolist()):
            key = keys[g * group_size]
            prev = self.zrr_ema.get(key, z_now)  # first visit: the EMA starts at the observed rate
            z = float(ema_update(torch.tensor(prev), torch.tensor(z_now), self.momentum))
            if update:
                self.zrr_ema[key] = z
            out.append(float(mixing_weight(torch.tensor(z), self.lambda_min, self.lambda_max, self.kappa)))
        return out

    def prepare(self, ctx, rollouts):
        inputs, output = rollouts.inputs, rollouts.tensors
        keys = [str(x.get("id", json.dumps(x["prompt"], sort_keys=True, default=str))) for x in inputs]
        lambdas = self.lambdas(ctx.gather_object(keys), rollouts.rewards, rollouts.group_size,
                               update=ctx.mode == "train")
        lam = torch.tensor(lambdas, device=ctx.device).repeat_interleave(rollouts.group_size)
        output["orapo_lambda"] = lam[rollouts.local]
        ctx.log("orapo/lambda_mean", float(lam.mean()))
        # prompts whose zero-reward EMA is above 0: DPO weighs more than its floor lambda_min there
        ctx.log("orapo/lambda_above_min_share", sum(x > self.lambda_min + 1e-9 for x in lambdas) / max(len(lambdas), 1))
        ctx.log("orapo/zrr_ema_mean", sum(self.zrr_ema.values()) / max(len(self.zrr_ema), 1))
        self._add_ground_truth(ctx, inputs, output, keys)

    @staticmethod
    def ground_truth_groups(keys: list[str], references: list[str], lambdas: list[float]) -> tuple[list[int], list[int]]:
        """(group per row, first row of each group): rows of one prompt share its ground truth, so
        its log-probs are computed once per group; a row whose lambda is 0 gets group -1 and no
        DPO pass at all."""
        slot_of: dict[tuple[str, str], int] = {}
        groups, firsts = [], []
        for row, (key, reference, lam) in enumerate(zip(keys, references, lambdas)):
            if lam <= 0:
                groups.append(-1)
                continue
            slot = slot_of.setdefault((key, reference), len(firsts))
            if slot == len(firsts):
                firsts.append(row)
            groups.append(slot)
        return groups, firsts

    def _add_ground_truth(self, ctx, inputs, output, keys) -> None:
        """Ground truth = reference text + EOS, as the policy would write it, and the reference
        policy's log-probs of it (once per prompt) and of the rollouts (TRL's, when the step
        already has them; else only for rows whose lambda is above 0)."""
        from trl.trainer.utils import pad

        tokenizer, device, pad_id = ctx.tokenizer, ctx.device, ctx.pad_token_id
        limit = ctx.settings.max_completion_length
        gt = [tokenizer(x["reference"], add_special_tokens=False)["input_ids"][: limit - 1] + [ctx.eos_token_id]
              for x in inputs]
        gt_ids = pad([torch.tensor(t) for t in gt], padding_value=pad_id, padding_side="right").to(device)
        gt_mask = pad([torch.ones(len(t), dtype=torch.long) for t in gt], padding_value=0,
                      padding_side="right").to(device)
        groups, firsts = self.ground_truth_groups(keys, [x["reference"] for x in inputs],
                                                  output["orapo_lambda"].tolist())
        group = torch.tensor(groups, device=device)
        output["gt_ids"], output["gt_mask"], output["orapo_gt_group"] = gt_ids, gt_mask, group
        output["ref_gt_logps"] = gt_ids.new_zeros(gt_ids.shape, dtype=torch.float32)
        ids, mask = output["completion_ids"], output["completion_mask"]
        have_rollouts = "ref_per_token_logps" in output  # TRL's (beta != 0): no pass of ours needed
        if have_rollouts:
            output["ref_rollout_logps"] = output["ref_per_token_logps"]
        else:
            output["ref_rollout_logps"] = ids.new_zeros(ids.shape, dtype=torch.float32)
        rollouts = [] if have_rollouts else [r for r, g in enumerate(groups) if g >= 0]
        if not (rollouts or firsts):
            return
        # one reference pass: the rollouts that need it, then each prompt's ground truth once, both
        # right-padded to one width (padding after a completion does not change its causal log-probs)
        width = max(ids.size(1) if rollouts else 0, gt_ids.size(1) if firsts else 0)
        completion = torch.cat([_pad_to(ids[rollouts], width, pad_id), _pad_to(gt_ids[firsts], width, pad_id)])
        completion_mask = torch.cat([_pad_to(mask[rollouts], width, 0), _pad_to(gt_mask[firsts], width, 0)])
        logps = ctx.reference_logps(output, rollouts + firsts, completion, completion_mask).to(torch.float32)
        if rollouts:
            output["ref_rollout_logps"][rollouts] = logps[: len(rollouts), : ids.size(1)]
        if firsts:
            once = logps[len(rollouts):, : gt_ids.size(1)]
            active = group >= 0
            output["ref_gt_logps"][active] = once[group[active]]

    # ------------------------------------------------------------------ the loss
    def policy_loss_scale(self, inputs):
        return 1.0 - inputs["orapo_lambda"]  # (1 - lambda) * L_GRPO, the KL term inside L_GRPO

    def loss(self, ctx, model, batch, per_token_logps, mask):
        """mean over rows of lambda * LN-DPO; rows with lambda 0 add 0 and run no pass; the policy's
        ground-truth log-probs are computed once per prompt of this batch and shared by its rows."""
        lam, group = batch["orapo_lambda"], batch["orapo_gt_group"]
        active = group >= 0
        stats = per_token_logps.new_zeros(2)
        total = per_token_logps.sum() * 0.0  # keeps the graph when no row needs DPO
        if bool(active.any()):
            slots, inverse = torch.unique(group[active], return_inverse=True)
            rows = group.tolist()  # one device sync, not one per prompt
            first = [rows.index(s) for s in slots.tolist()]
            gt_ids, gt_mask = batch["gt_ids"], batch["gt_mask"]
            gt_logps = ctx.policy_logps(model, batch, first, gt_ids[first], gt_mask[first])[inverse]
            m = gt_mask[active]
            dpo = dpo_loss(sequence_logp(gt_logps, m), sequence_logp(batch["ref_gt_logps"][active], m),
                           sequence_logp(per_token_logps[active], mask[active]),
                           sequence_logp(batch["ref_rollout_logps"][active], mask[active]), beta=self.dpo_beta)
            total = total + (lam[active] * dpo).sum() / lam.numel()
            stats = torch.stack([dpo.detach().sum(), dpo.new_tensor(float(dpo.numel()))])
        stats = ctx.gather(stats.reshape(1, 2)).reshape(-1, 2).sum(0)
        if stats[1] > 0:
            ctx.log("orapo/dpo_loss", float(stats[0] / stats[1]))
        return total


def _pad_to(t: torch.Tensor, width: int, value: int) -> torch.Tensor:
    """``t`` (rows x tokens) right-padded with ``value`` to ``width`` tokens."""
    return torch.nn.functional.pad(t, (0, width - t.size(1)), value=value)


__all__ = ["OrapoDpoLoss"]
