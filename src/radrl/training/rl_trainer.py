"""radrl's RL trainer: TRL's ``GRPOTrainer`` plus DiTPO, CAPO, OraPO, reward schedules and
diagnostics. It only wires in the pure functions of :mod:`radrl.algorithms`.

Where each part hooks in:

- ``_calculate_rewards``: keeps the gathered per-function rewards for the steps below.
- ``_generate_and_score_completions`` (after TRL's): applies the reward-weight schedule,
  recomputes the group advantages (``group_advantages``; a sample whose reward failed is
  skipped), multiplies them by DiTPO token weights, adds CAPO's per-sample clip ranges,
  OraPO's per-sample lambda and the ground-truth tensors for its DPO term, and logs the
  diagnostics.
- ``_compute_loss``: the clipped surrogate (``clipped_surrogate``) with (B, T) advantages and
  per-sample clip ranges, the k3 KL term, the loss reduction of ``loss_type``, and OraPO's
  ``(1 - lambda) * L_GRPO + lambda * L_LN-DPO``.
- ``_save_checkpoint`` / ``_load_optimizer_and_scheduler``: OraPO's per-prompt EMA state goes
  into each checkpoint (``radrl_state.json``) so ``--resume`` continues exactly.

With every extension off the loss, advantages and gradients equal stock ``GRPOTrainer``'s
(``tests/test_rl_trainer.py`` checks it on the same batch and seed).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from accelerate.utils import gather_object
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOConfig, GRPOTrainer
from trl.trainer.utils import pad

from radrl.algorithms import (
    aggregate_loss,
    capo_clip_range,
    clipped_surrogate,
    dpo_loss,
    ema_update,
    group_advantages,
    group_reward_stats,
    kl_k3,
    mixing_weight,
    sequence_logp,
    tfidf_token_weights,
    token_level_advantages,
    zero_reward_groups,
)
from radrl.io import atomic_write_json
from radrl.recipe.sections import RadRLOptions, TokenWeighting  # noqa: F401 (re-exported)
from radrl.rewards.schedule import weight_at
from radrl.training.checkpoints import NativeLayoutCheckpoints

TOKEN_WEIGHTINGS = ("none", "tfidf", "gradient")  # = TokenWeighting
RADRL_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
STATE_FILE = "radrl_state.json"


@dataclass
class RadRLConfig(GRPOConfig, RadRLOptions):
    """``GRPOConfig`` plus the switches of the four papers (:class:`RadRLOptions`, all off by
    default; their fields, defaults and help live in ``radrl.recipe.sections``)."""

    def __post_init__(self):
        self.check_options()
        super().__post_init__()
        if self.capo and self.gradient_accumulation_steps % (self.steps_per_generation * self.num_iterations) == 0:
            # TRL's own test for "the policy has not moved since these rollouts were sampled"
            warnings.warn(
                "capo=True has no effect with these settings: every rollout batch is used in one optimizer "
                "step, so the importance ratio is 1 and no clip range (CAPO's eps/4 or GRPO's eps) ever "
                "applies; CAPO then trains exactly as GRPO. Set num_iterations >= 2 (or steps_per_generation "
                "above gradient_accumulation_steps) for CAPO to act.", stacklevel=2)

    @property
    def extensions_on(self) -> bool:
        return self.token_weighting != "none" or self.capo or self.orapo


class RadRLTrainer(NativeLayoutCheckpoints, GRPOTrainer):
    """``GRPOTrainer`` with radrl's extensions. ``token_weigher`` (optional) is a callable
    ``(completions: list[str], completion_ids, mask, references, gt_labels) -> (B, T) weights`` used
    when ``token_weighting='gradient'``."""

    _tag_names = ["trl", "grpo", "radrl"]

    def __init__(self, *args, token_weigher=None, **kwargs):
        super().__init__(*args, **kwargs)
        cfg = self.args
        if not isinstance(cfg, RadRLConfig):
            raise TypeError("RadRLTrainer needs a RadRLConfig")
        self.token_weigher = token_weigher
        if cfg.token_weighting == "gradient" and token_weigher is None:
            raise ValueError("token_weighting='gradient' needs a token_weigher (the CheXbert labeler's saliency); "
                             "use token_weighting='tfidf' for the offline rule-based weights")
        if cfg.reward_schedules is not None and len(cfg.reward_schedules) != len(self.reward_funcs):
            raise ValueError(f"reward_schedules has {len(cfg.reward_schedules)} entries for "
                             f"{len(self.reward_funcs)} reward functions")
        self._base_reward_weights = self.reward_weights.clone()
        self._radrl_loss = self._supported_by_radrl_loss()
        if cfg.extensions_on and not self._radrl_loss:
            raise ValueError(
                "DiTPO/CAPO/OraPO need loss_type in " + ", ".join(RADRL_LOSS_TYPES) + ", importance_sampling_level="
                "'token', top_entropy_quantile=1, no off_policy_mask_threshold, no entropy bonus and no MoE aux loss")
        if cfg.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError("radrl computes advantages from the weighted reward sum; "
                             "use multi_objective_aggregation='sum_then_normalize'")
        self.zrr_ema: dict[str, float] = {}
        self._last_rewards_per_func: torch.Tensor | None = None
        self._orapo_ref = None
        if cfg.orapo and self.ref_model is None and not self._is_peft():
            # OraPO's DPO term needs the initial policy as reference even when beta = 0 (with LoRA,
            # the disabled adapters are that reference, as for TRL's KL term).
            self._orapo_ref = self._build_reference()

    def _build_reference(self):
        """The frozen initial policy, built as TRL's ``GRPOTrainer.__init__`` builds its reference
        model: loaded afresh from the policy's checkpoint with its dtype and attention kernel
        (a deepcopy would copy only this rank's shards under ZeRO-3), dropout off, then wrapped
        for the engine: ``prepare_deepspeed`` (ZeRO-3 partitions it too), ``prepare_fsdp`` (an
        FSDP copy instead of a CPU one), or ``prepare_model(evaluation_mode=True)`` (DDP, one
        process)."""
        from trl.models import prepare_deepspeed, prepare_fsdp
        from trl.trainer.utils import (
            add_fused_lm_head,
            create_model_from_path,
            disable_dropout_in_model,
            get_config_model_id,
        )

        if self.args.cast_lm_head_to_fp32:
            raise ValueError("OraPO's reference model does not support cast_lm_head_to_fp32 yet; leave it off")
        policy = self.accelerator.unwrap_model(self.model)
        if not get_config_model_id(policy.config):
            raise ValueError("OraPO's reference is loaded from the policy's checkpoint, and this policy has none "
                             "(config._name_or_path is empty): load the policy with from_pretrained")
        kwargs = dict(self.args.model_init_kwargs or {})
        if self.args.distributed_state.distributed_type in ("MULTI_GPU", "DEEPSPEED"):
            kwargs["device_map"] = None
        kwargs.setdefault("trust_remote_code", self.args.trust_remote_code)
        kwargs.setdefault("dtype", policy.dtype)
        kwargs.setdefault("attn_implementation", policy.config._attn_implementation)
        ref = create_model_from_path(get_config_model_id(policy.config), **kwargs)
        if self.args.disable_dropout:
            disable_dropout_in_model(ref)
        ref.eval().requires_grad_(False)
        add_fused_lm_head(ref, temperature=self.temperature, cast_lm_head_to_fp32=False)  # as TRL's ref model
        if self.is_deepspeed_enabled:
            return prepare_deepspeed(ref, self.accelerator)
        if self.is_fsdp_enabled:
            return prepare_fsdp(ref, self.accelerator)
        return self.accelerator.prepare_model(ref, evaluation_mode=True)

    # ------------------------------------------------------------------ helpers
    def _is_peft(self) -> bool:
        return hasattr(self.accelerator.unwrap_model(self.model), "peft_config")

    def _supported_by_radrl_loss(self) -> bool:
        return (self.loss_type in RADRL_LOSS_TYPES and self.importance_sampling_level == "token"
                and self.top_entropy_quantile == 1.0 and self.off_policy_mask_threshold is None
                and not self._entropy_bonus_enabled and not self.aux_loss_enabled)

    def _mode(self) -> str:
        return "train" if self.model.training else "eval"

    def _log(self, name: str, value: float) -> None:
        self._metrics[self._mode()][name].append(float(value))

    def _apply_reward_schedule(self) -> None:
        schedules = self.args.reward_schedules
        if not schedules:
            return
        step = self.state.global_step
        weights = [weight_at(step, float(w), s) for w, s in zip(self._base_reward_weights.tolist(), schedules)]
        self.reward_weights = torch.tensor(weights, dtype=torch.float32)
        for name, w in zip(self.reward_func_names, weights):
            self._log(f"reward_weights/{name}", w)

    def _ref_logps(self, input_ids, attention_mask, logits_to_keep, batch_size, forward_kwargs):
        """Per-token log-probs of the reference policy (TRL's ref model, the PEFT base, or OraPO's copy)."""
        with torch.no_grad():
            if self.ref_model is not None or self._orapo_ref is not None:
                model = self.ref_model if self.ref_model is not None else self._orapo_ref
                logps, _, _ = self._get_per_token_logps_and_entropies(
                    model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size, **forward_kwargs)
                return logps
            from trl.trainer.utils import use_adapter

            unwrapped = self.accelerator.unwrap_model(self.model)
            with use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None):
                logps, _, _ = self._get_per_token_logps_and_entropies(
                    self.model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size, **forward_kwargs)
            return logps

    @staticmethod
    def _forward_kwargs(batch: dict[str, Any]) -> dict[str, Any]:
        keys = ("pixel_values", "image_grid_thw", "num_images", "pixel_attention_mask", "spatial_shapes",
                "num_tiles", "image_sizes", "token_type_ids", "mm_token_type_ids", "image_position_ids")
        return {k: batch.get(k) for k in keys}

    @staticmethod
    def _for_completion(fwd: dict[str, Any], prompt_len: int, completion: torch.Tensor) -> dict[str, Any]:
        """Forward kwargs for the same prompts followed by another completion (token-type ids
        cover prompt + completion, so they are cut to the prompt and re-extended with zeros)."""
        out = dict(fwd)
        for key in ("token_type_ids", "mm_token_type_ids"):
            if out.get(key) is not None:
                prompt_part = out[key][:, :prompt_len]
                out[key] = torch.cat([prompt_part, prompt_part.new_zeros(completion.shape)], dim=1)
        return out

    # ------------------------------------------------------------------ TRL hooks
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        self._apply_reward_schedule()
        output = super()._generate_and_score_completions(inputs)
        cfg, mode = self.args, self._mode()
        device = self.accelerator.device
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        n_local = len(inputs)
        local = slice(self.accelerator.process_index * n_local, (self.accelerator.process_index + 1) * n_local)

        # Group advantages from the gathered rewards (same numbers as TRL's; failed samples skipped).
        per_func = self._last_rewards_per_func
        rewards = (per_func * self.reward_weights.to(per_func.device).unsqueeze(0)).nansum(dim=1)
        failed = torch.isnan(per_func).any(dim=1) if cfg.skip_failed_rewards else torch.isnan(per_func).all(dim=1)
        rewards[failed] = torch.nan
        advantages = group_advantages(rewards, group_size, scale=self.scale_rewards)
        seq_advantages = advantages[local]
        output["advantages"] = seq_advantages
        for key, value in group_reward_stats(rewards, group_size).items():
            self._log(f"diagnostics/{key}", value)
        self._log("diagnostics/skipped_samples", float(failed.sum()))

        completion_ids, completion_mask = output["completion_ids"], output["completion_mask"]
        if cfg.token_weighting != "none":
            weights = self._token_weights(inputs, completion_ids, completion_mask, group_size)
            output["advantages"] = token_level_advantages(seq_advantages, weights)
            valid = completion_mask.bool()
            stats = torch.stack([(weights * valid).sum(), valid.sum().float(),
                                 weights.masked_fill(~valid, 0).max()])
            gathered = self.accelerator.gather(stats.unsqueeze(0)).view(-1, 3)
            self._log("token_weights/mean", float(gathered[:, 0].sum() / gathered[:, 1].sum().clamp(min=1)))
            self._log("token_weights/max", float(gathered[:, 2].max()))

        if cfg.capo:
            if "critical" not in inputs[0]:
                raise ValueError("capo=True needs a boolean 'critical' column in the dataset "
                                 "(radrl.training.criticality.annotate_criticality adds it before training)")
            critical = torch.tensor([bool(x["critical"]) for x in inputs], device=device)
            output["clip_low"] = capo_clip_range(critical, self.epsilon_low, cfg.capo_critical_factor)
            output["clip_high"] = capo_clip_range(critical, self.epsilon_high, cfg.capo_critical_factor)
            self._log("capo/critical_share", float(self.accelerator.gather(critical.float()).mean()))

        if cfg.orapo:
            self._orapo_prepare(inputs, output, rewards, group_size, local)
        return output

    def _token_weights(self, inputs, completion_ids, completion_mask, group_size):
        """DiTPO weights over whole groups: a group may span processes, so gather first."""
        if self.args.token_weighting == "gradient":
            texts = self.processing_class.batch_decode(completion_ids, skip_special_tokens=True)
            return self.token_weigher(texts, completion_ids, completion_mask,
                                      [x.get("reference") for x in inputs], [x.get("gt_labels") for x in inputs])
        n_local, length = completion_ids.shape
        pad_id = self._tokenizer.pad_token_id
        ids = self.accelerator.pad_across_processes(completion_ids, dim=1, pad_index=pad_id)
        mask = self.accelerator.pad_across_processes(completion_mask, dim=1, pad_index=0)
        all_ids, all_mask = self.accelerator.gather(ids), self.accelerator.gather(mask)
        weights = tfidf_token_weights(all_ids, all_mask, group_size, alpha=self.args.tfidf_alpha,
                                      tf=self.args.tfidf_tf)
        start = self.accelerator.process_index * n_local
        return weights[start:start + n_local, :length]

    def _orapo_prepare(self, inputs, output, rewards, group_size, local):
        """Per-prompt ZRR EMA -> lambda per sample; ground-truth ids and reference log-probs for LN-DPO."""
        cfg, device = self.args, self.accelerator.device
        keys = [str(x.get("id", json.dumps(x["prompt"], sort_keys=True, default=str))) for x in inputs]
        all_keys = gather_object(keys)
        zrr = zero_reward_groups(rewards.cpu(), group_size, atol=cfg.orapo_zero_atol)
        lambdas = []
        for g, z_now in enumerate(zrr.tolist()):
            key = all_keys[g * group_size]
            # First visit: the EMA starts at the observed rate (no bias towards 0).
            prev = self.zrr_ema.get(key, z_now)
            z = float(ema_update(torch.tensor(prev), torch.tensor(z_now), cfg.orapo_momentum))
            if self._mode() == "train":
                self.zrr_ema[key] = z
            lambdas.append(float(mixing_weight(torch.tensor(z), cfg.orapo_lambda_min, cfg.orapo_lambda_max,
                                               cfg.orapo_kappa)))
        lam = torch.tensor(lambdas, device=device).repeat_interleave(group_size)
        output["orapo_lambda"] = lam[local]
        self._log("orapo/lambda_mean", float(lam.mean()))
        self._log("orapo/zrr_ema_mean", sum(self.zrr_ema.values()) / max(len(self.zrr_ema), 1))

        # Ground truth = reference text + EOS, as the policy would write it.
        tokenizer = self._tokenizer
        eos = self.eos_token_ids[0] if getattr(self, "eos_token_ids", None) else tokenizer.eos_token_id
        limit = self.max_completion_length
        gt = [tokenizer(x["reference"], add_special_tokens=False)["input_ids"][: limit - 1] + [eos] for x in inputs]
        gt_ids = pad([torch.tensor(t) for t in gt], padding_value=tokenizer.pad_token_id, padding_side="right").to(device)
        gt_mask = pad([torch.ones(len(t), dtype=torch.long) for t in gt], padding_value=0,
                      padding_side="right").to(device)
        prompt_ids, prompt_mask = output["prompt_ids"], output["prompt_mask"]
        fwd = self._forward_kwargs(output)
        output["gt_ids"], output["gt_mask"] = gt_ids, gt_mask
        output["ref_gt_logps"] = self._ref_logps(
            torch.cat([prompt_ids, gt_ids], 1), torch.cat([prompt_mask, gt_mask], 1), gt_ids.size(1), None,
            self._for_completion(fwd, prompt_ids.size(1), gt_ids))
        if "ref_per_token_logps" in output:
            output["ref_rollout_logps"] = output["ref_per_token_logps"]
        else:
            ids, mask = output["completion_ids"], output["completion_mask"]
            output["ref_rollout_logps"] = self._ref_logps(torch.cat([prompt_ids, ids], 1),
                                                          torch.cat([prompt_mask, mask], 1), ids.size(1), None, fwd)

    def _compute_loss(self, model, inputs):
        if not self._radrl_loss:
            return super()._compute_loss(model, inputs)
        mode = self._mode()
        prompt_ids, prompt_mask = inputs["prompt_ids"], inputs["prompt_mask"]
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        mask = completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        fwd = self._forward_kwargs(inputs)
        per_token_logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, completion_ids.size(1), compute_entropy=True, **fwd)

        old = inputs.get("old_per_token_logps")
        old = per_token_logps.detach() if old is None else old
        eps_low = inputs.get("clip_low", self.epsilon_low)
        eps_high = inputs.get("clip_high", self.epsilon_high)
        per_token_loss = clipped_surrogate(per_token_logps, old, inputs["advantages"], eps_low, eps_high,
                                           delta=self.args.delta)
        if self.use_vllm and self.vllm_importance_sampling_correction:
            per_token_loss = per_token_loss * inputs["importance_sampling_ratio"]
        if self.beta != 0.0:
            per_token_kl = kl_k3(per_token_logps, inputs["ref_per_token_logps"])
            if self.args.use_bias_correction_kl:  # importance-sampling correction, as TRL does
                per_token_kl = per_token_kl * torch.exp(per_token_logps - old)
            per_token_loss = per_token_loss + self.beta * per_token_kl
        lam = inputs.get("orapo_lambda")
        if lam is not None:  # OraPO Eq. 4: (1 - lambda) * L_GRPO, with the KL term inside L_GRPO
            per_token_loss = per_token_loss * (1.0 - lam).unsqueeze(1)

        accumulation = self.current_gradient_accumulation_steps if mode == "train" else 1.0
        if self.loss_type == "dapo":
            normalizer = inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes
            if mode == "train":
                normalizer = normalizer * self.current_gradient_accumulation_steps / self.args.steps_per_generation
            loss = aggregate_loss(per_token_loss, mask, "dapo", token_normalizer=normalizer)
        else:
            loss = aggregate_loss(per_token_loss, mask, self.loss_type,
                                  max_completion_length=self.max_completion_length) / accumulation

        if lam is not None:
            dpo = self._orapo_dpo_loss(model, inputs, per_token_logps, mask, fwd)
            loss = loss + (lam * dpo).mean() / accumulation
            self._log("orapo/dpo_loss", float(self.accelerator.gather(dpo.detach().mean()).mean()))

        self._log_loss_metrics(per_token_logps, old, inputs, mask, entropies,
                               per_token_kl if self.beta != 0.0 else None, eps_low, eps_high)
        return loss

    def _orapo_dpo_loss(self, model, inputs, rollout_logps, rollout_mask, fwd):
        """LN-DPO with the ground truth chosen and each rollout rejected."""
        gt_ids, gt_mask = inputs["gt_ids"], inputs["gt_mask"]
        gt_logps, _, _ = self._get_per_token_logps_and_entropies(
            model, torch.cat([inputs["prompt_ids"], gt_ids], 1), torch.cat([inputs["prompt_mask"], gt_mask], 1),
            gt_ids.size(1), **self._for_completion(fwd, inputs["prompt_ids"].size(1), gt_ids))
        return dpo_loss(sequence_logp(gt_logps, gt_mask), sequence_logp(inputs["ref_gt_logps"], gt_mask),
                        sequence_logp(rollout_logps, rollout_mask),
                        sequence_logp(inputs["ref_rollout_logps"], rollout_mask), beta=self.args.orapo_dpo_beta)

    def _log_loss_metrics(self, logps, old, inputs, mask, entropies, per_token_kl, eps_low, eps_high):
        """The same training metrics stock GRPOTrainer logs (entropy, kl, clip ratios)."""
        def global_masked_mean(x):
            totals = self.accelerator.reduce(torch.stack([(x * mask).sum(), mask.sum().float()]), reduction="sum")
            return (totals[0] / totals[1].clamp(min=1.0)).item()

        mode = self._mode()
        self._metrics[mode]["entropy"].append(global_masked_mean(entropies))
        if per_token_kl is not None:
            self._metrics[mode]["kl"].append(global_masked_mean(per_token_kl))
        advantages = inputs["advantages"]
        advantages = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
        low = eps_low.unsqueeze(1) if torch.is_tensor(eps_low) else eps_low
        high = eps_high.unsqueeze(1) if torch.is_tensor(eps_high) else eps_high
        ratio = torch.exp(logps.detach() - old)
        is_low = (ratio < 1 - low) & (advantages < 0)
        is_high = (ratio > 1 + high) & (advantages > 0)
        self._metrics[mode]["clip_ratio/low_mean"].append(global_masked_mean(is_low.float()))
        self._metrics[mode]["clip_ratio/high_mean"].append(global_masked_mean(is_high.float()))
        self._metrics[mode]["clip_ratio/region_mean"].append(global_masked_mean((is_low | is_high).float()))

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, model, trial):
        # Written before TRL/transformers write the rest: trainer_state.json (last) marks a complete checkpoint.
        folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        if self.args.should_save:
            os.makedirs(folder, exist_ok=True)
            atomic_write_json(os.path.join(folder, STATE_FILE),
                              {"zrr_ema": self.zrr_ema, "global_step": self.state.global_step})
        super()._save_checkpoint(model, trial)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None:
            path = os.path.join(checkpoint, STATE_FILE)
            if os.path.exists(path):
                with open(path) as f:
                    self.zrr_ema = {str(k): float(v) for k, v in json.load(f)["zrr_ema"].items()}
            elif self.args.orapo:
                raise FileNotFoundError(f"{path} is missing: cannot resume OraPO's zero-reward EMA exactly")
