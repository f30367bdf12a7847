"""radrl's RL trainer: TRL's ``GRPOTrainer`` plus registered components (DiTPO, CAPO, OraPO, a
user's own: :mod:`radrl.algorithms.components`), reward schedules and diagnostics. It knows no
method by name: it calls whatever components it holds at three places.

- ``_calculate_rewards``: keeps the gathered per-function rewards for the steps below.
- ``_generate_and_score_completions`` (after TRL's): applies the reward-weight schedule,
  recomputes the group advantages (``group_advantages``; a sample whose reward failed is
  skipped), then the ``token_weights`` component's (B, T) weights, the ``clip`` component's
  per-sample ranges and the ``aux_loss`` component's ``prepare``, and logs the diagnostics.
- ``_compute_loss``: the clipped surrogate (``clipped_surrogate``) with (B, T) advantages and
  per-sample clip ranges, the k3 KL term, the ``aux_loss`` component's per-sample scale, the loss
  reduction of ``loss_type``, plus the ``aux_loss`` component's term.
- ``_save_checkpoint`` / ``_load_optimizer_and_scheduler``: each component's ``state_dict`` goes
  into each checkpoint (``radrl_state.json``) so ``--resume`` continues exactly.

With no component the loss, advantages and gradients equal stock ``GRPOTrainer``'s
(``tests/test_rl_trainer.py`` checks it on the same batch and seed).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOConfig, GRPOTrainer

from radrl.algorithms import (
    SLOTS,
    Component,
    aggregate_loss,
    clipped_surrogate,
    group_advantages,
    group_reward_stats,
    kl_k3,
    token_level_advantages,
)
from radrl.io import atomic_write_json
from radrl.rewards.schedule import weight_at
from radrl.training.checkpoints import NativeLayoutCheckpoints

RADRL_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
STATE_FILE = "radrl_state.json"


@dataclass
class RadRLConfig(GRPOConfig):
    """``GRPOConfig`` plus what radrl's trainer needs of the rewards. The methods are not settings
    here: they are components handed to :class:`RadRLTrainer` (a recipe's ``algorithm:``)."""

    reward_schedules: list | None = field(default=None, metadata={"help": (
        "per reward function, None or [[from_step, weight], ...] (set from rewards[i].schedule).")})
    skip_failed_rewards: bool = field(default=True, metadata={"help": (
        "a sample with any failed (NaN) reward component gets advantage 0 and leaves its group's statistics.")})


class RadRLTrainer(NativeLayoutCheckpoints, GRPOTrainer):
    """``GRPOTrainer`` with radrl's registered components: ``components`` is a list of
    :class:`radrl.algorithms.Component` objects, at most one per slot (``token_weights``, ``clip``,
    ``aux_loss``); ``radrl.algorithms.build_components`` makes them from a recipe."""

    _tag_names = ["trl", "grpo", "radrl"]

    def __init__(self, *args, components: list[Component] | tuple = (), **kwargs):
        super().__init__(*args, **kwargs)
        cfg = self.args
        if not isinstance(cfg, RadRLConfig):
            raise TypeError("RadRLTrainer needs a RadRLConfig")
        self.components = self._slot_components(components)
        if cfg.reward_schedules is not None and len(cfg.reward_schedules) != len(self.reward_funcs):
            raise ValueError(f"reward_schedules has {len(cfg.reward_schedules)} entries for "
                             f"{len(self.reward_funcs)} reward functions")
        self._base_reward_weights = self.reward_weights.clone()
        self._radrl_loss = self._supported_by_radrl_loss()
        if self.components and not self._radrl_loss:
            raise ValueError(
                "algorithm components need loss_type in " + ", ".join(RADRL_LOSS_TYPES) + ", importance_sampling_level="
                "'token', top_entropy_quantile=1, no off_policy_mask_threshold, no entropy bonus and no MoE aux loss")
        if cfg.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError("radrl computes advantages from the weighted reward sum; "
                             "use multi_objective_aggregation='sum_then_normalize'")
        self._last_rewards_per_func: torch.Tensor | None = None
        self._frozen_ref = None
        needs_ref = any(c.needs_reference_model for c in self.components.values())
        if needs_ref and self.ref_model is None and not self._is_peft():
            # e.g. OraPO's DPO term needs the initial policy as reference even when beta = 0 (with
            # LoRA, the disabled adapters are that reference, as for TRL's KL term).
            self._frozen_ref = self._build_reference()
        if needs_ref:  # the component's reference passes run on every rollout: each film encoded once
            from radrl.models.shared_images import encode_each_image_once

            for ref in (self.ref_model, self._frozen_ref):
                if ref is not None:
                    encode_each_image_once(self.accelerator.unwrap_model(ref))
        self._check_columns(kwargs.get("train_dataset"))
        for component in self.components.values():
            component.setup(self)

    @staticmethod
    def _slot_components(components) -> dict[str, Component]:
        out: dict[str, Component] = {}
        for component in components:
            if not isinstance(component, Component) or component.slot not in SLOTS:
                raise TypeError(f"{component!r} is not a radrl.algorithms component (subclass TokenWeights, "
                                "ClipRange or AuxiliaryLoss)")
            if component.slot in out:
                raise ValueError(f"two {component.slot} components: {out[component.slot]!r} and {component!r}")
            out[component.slot] = component
        return out

    def _check_columns(self, dataset) -> None:
        columns = getattr(dataset, "column_names", None)
        if columns is None:
            return
        for component in self.components.values():
            missing = [c for c in component.columns if c not in columns]
            if missing:
                hint = (" (the criticality stage adds it: radrl.training.criticality.annotate_criticality)"
                        if "critical" in missing else "")
                raise ValueError(f"{type(component).__name__} needs the dataset column(s) {', '.join(missing)}{hint}")

    @property
    def zrr_ema(self) -> dict[str, float]:
        """OraPO's per-prompt zero-reward EMA when an ``orapo_dpo`` component runs (else empty)."""
        return getattr(self.components.get("aux_loss"), "zrr_ema", {})

    def component_state(self) -> dict[str, dict]:
        return {slot: c.state_dict() for slot, c in self.components.items()}

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
            raise ValueError("the frozen reference model (OraPO's) does not support cast_lm_head_to_fp32 yet; leave it off")
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
        """Per-token log-probs of the reference policy (TRL's ref model, the PEFT base, or the frozen
        copy); rows that repeat a prompt share one pass over it (``training/shared_prompts.py``)."""
        with torch.no_grad(), self._reference_model() as model:
            shared = self._shared_prompt_ref_logps(model, input_ids, attention_mask, logits_to_keep, batch_size,
                                                   forward_kwargs)
            if shared is not None:
                return shared
            logps, _, _ = self._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size, **forward_kwargs)
            return logps

    @contextlib.contextmanager
    def _reference_model(self):
        """The model whose forward is the reference policy's: the ref model, the frozen copy, or
        the policy with its LoRA adapters off (TRL's ``ref`` adapter where it keeps one)."""
        if self.ref_model is not None or self._frozen_ref is not None:
            yield self.ref_model if self.ref_model is not None else self._frozen_ref
            return
        from trl.trainer.utils import use_adapter

        unwrapped = self.accelerator.unwrap_model(self.model)
        with use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None):
            yield self.model

    def _shared_prompt_ref_logps(self, model, input_ids, attention_mask, logits_to_keep, batch_size, forward_kwargs):
        """The reference log-probs with each distinct prompt run once, or None where that does not
        apply (then the caller runs TRL's full pass)."""
        from radrl.training.shared_prompts import find_rope_index, plan_shared_prompts, shared_prompt_logps

        if batch_size is not None and batch_size < input_ids.size(0):
            return None  # the caller asked for chunks to bound memory: keep TRL's chunked pass
        prompt_len = input_ids.size(1) - logits_to_keep
        prompt_ids, prompt_mask = input_ids[:, :prompt_len], attention_mask[:, :prompt_len]
        unwrapped = self.accelerator.unwrap_model(model)
        rope_index = find_rope_index(unwrapped) if forward_kwargs.get("pixel_values") is not None else None
        plan = plan_shared_prompts(prompt_ids, prompt_mask, forward_kwargs, rope_index)
        if plan is None:
            return None
        return shared_prompt_logps(model, plan, prompt_ids, prompt_mask, input_ids[:, prompt_len:],
                                   attention_mask[:, prompt_len:], forward_kwargs, rope_index,
                                   self.accelerator.autocast)

    @staticmethod
    def _forward_kwargs(batch: dict[str, Any]) -> dict[str, Any]:
        keys = ("pixel_values", "image_grid_thw", "num_images", "pixel_attention_mask", "spatial_shapes",
                "num_tiles", "image_sizes", "token_type_ids", "mm_token_type_ids", "image_position_ids")
        return {k: batch.get(k) for k in keys}

    @staticmethod
    def _select_rows(fwd: dict[str, Any], rows: list[int]) -> dict[str, Any]:
        """The forward kwargs of some rows only (``radrl.training.batch_rows``)."""
        from radrl.training.batch_rows import select_rows

        return select_rows(fwd, rows)

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
        with warnings.catch_warnings():
            # TRL 1.16's unwrap_model_for_generation reads model.is_gradient_checkpointing, which
            # transformers 5 deprecated: a FutureWarning on every step that no user can act on
            warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
            output = super()._generate_and_score_completions(inputs)
        cfg, mode = self.args, self._mode()
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

        self._apply_components(inputs, output, rewards, seq_advantages, group_size, local)
        return output

    def _apply_components(self, inputs, output, rewards, seq_advantages, group_size, local) -> None:
        """The slots in order: token weights on the advantages, clip ranges, the auxiliary loss's tensors."""
        weigher, clip, aux = (self.components.get(slot) for slot in SLOTS)
        if weigher is not None:
            completion_mask = output["completion_mask"]
            weights = weigher.weights(self, inputs, output["completion_ids"], completion_mask, group_size)
            output["advantages"] = token_level_advantages(seq_advantages, weights)
            valid = completion_mask.bool()
            stats = torch.stack([(weights * valid).sum(), valid.sum().float(), weights.masked_fill(~valid, 0).max()])
            gathered = self.accelerator.gather(stats.unsqueeze(0)).view(-1, 3)
            self._log("token_weights/mean", float(gathered[:, 0].sum() / gathered[:, 1].sum().clamp(min=1)))
            self._log("token_weights/max", float(gathered[:, 2].max()))
        if clip is not None:
            output["clip_low"], output["clip_high"] = clip.clip_ranges(self, inputs, self.epsilon_low, self.epsilon_high)
        if aux is not None:
            aux.prepare(self, inputs, output, rewards, group_size, local)

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
        aux = self.components.get("aux_loss")
        scale = aux.policy_loss_scale(inputs) if aux is not None else None
        if scale is not None:  # e.g. OraPO Eq. 4: (1 - lambda) * L_GRPO, with the KL term inside L_GRPO
            per_token_loss = per_token_loss * scale.unsqueeze(1)

        accumulation = self.current_gradient_accumulation_steps if mode == "train" else 1.0
        if self.loss_type == "dapo":
            normalizer = inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes
            if mode == "train":
                normalizer = normalizer * self.current_gradient_accumulation_steps / self.args.steps_per_generation
            loss = aggregate_loss(per_token_loss, mask, "dapo", token_normalizer=normalizer)
        else:
            loss = aggregate_loss(per_token_loss, mask, self.loss_type,
                                  max_completion_length=self.max_completion_length) / accumulation

        if aux is not None:
            loss = loss + aux.loss(self, model, inputs, per_token_logps, mask, fwd) / accumulation

        self._log_loss_metrics(per_token_logps, old, inputs, mask, entropies,
                               per_token_kl if self.beta != 0.0 else None, eps_low, eps_high)
        return loss

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
                              {"components": self.component_state(), "global_step": self.state.global_step})
        super()._save_checkpoint(model, trial)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        path = os.path.join(checkpoint, STATE_FILE)
        saved = {}
        if os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            if "zrr_ema" in saved and "components" not in saved:  # written by radrl 0.1
                saved = {"components": {"aux_loss": {"zrr_ema": saved["zrr_ema"]}}}
        states = saved.get("components", {})
        for slot, component in self.components.items():
            if slot in states:
                component.load_state_dict(states[slot])
            elif component.resume_needs_state:
                raise FileNotFoundError(f"{path} holds no state of the {slot} component {component!r}: cannot "
                                        "resume it exactly")
