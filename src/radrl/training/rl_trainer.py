"""radrl's RL trainer: TRL's ``GRPOTrainer`` with its advantage and loss taken from radrl's
registries (``ADVANTAGES``, ``POLICY_LOSSES``) and registered components (DiTPO, CAPO, OraPO, a
user's own: :mod:`radrl.algorithms.components`), reward schedules and diagnostics. It knows no
method by name: it calls whatever it holds at three places.

- ``_calculate_rewards``: keeps the gathered per-function rewards for the steps below.
- ``_generate_and_score_completions`` (after TRL's): applies the reward-weight schedule,
  recomputes the advantages with the registered estimator (a sample whose reward failed is
  skipped), then the ``token_weights`` component's (B, T) weights, the ``clip`` component's
  ranges and the ``aux_loss`` component's ``prepare``, and logs the diagnostics.
- ``_compute_loss``: the registered policy loss with those advantages and ranges, vLLM's
  sampling correction, the k3 KL term, the ``aux_loss`` component's per-sample scale, the loss's
  declared aggregation, plus the ``aux_loss`` component's term.
- ``_save_checkpoint`` / ``_load_optimizer_and_scheduler``: each component's ``state_dict`` goes
  into each checkpoint (``radrl_state.json``) so ``--resume`` continues exactly.

Components are handed a ``TrainerContext`` (``training/component_context.py``), never the trainer.
With no component, the loss, advantages and gradients equal stock ``GRPOTrainer``'s for every
TRL ``loss_type`` and GSPO (``tests/test_rl_trainer.py`` checks it on the same batch and seed).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from dataclasses import dataclass, field

import torch
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOConfig, GRPOTrainer

from radrl.algorithms import (
    ADVANTAGES,
    LOG_GROUP,
    POLICY_LOSSES,
    SLOTS,
    Component,
    PolicyLossInputs,
    Rollouts,
    aggregate_loss,
    aggregation_problem,
    group_reward_stats,
    kl_k3,
    pairing_problem,
    token_level_advantages,
    trl_loss_name,
)
from radrl.io import atomic_write_json
from radrl.rewards.schedule import weight_at
from radrl.training.checkpoints import NativeLayoutCheckpoints
from radrl.training.component_context import TrainerContext, forward_kwargs

STATE_FILE = "radrl_state.json"
TRL_ONLY = "top_entropy_quantile < 1, off_policy_mask_threshold, an entropy bonus (entropy_coef) or a MoE aux loss"
"""TRL features that radrl's loss does not reproduce: with any of them, the trainer is stock TRL's."""


def trl_policy_loss(args) -> tuple[str, dict]:
    """The registered policy loss (name, parameters) that TRL's own settings ask for: ``loss_type``
    with ``importance_sampling_level`` (``grpo`` at sequence level is GSPO), ``delta`` and the
    sapo / vespo parameters."""
    loss_type, level = args.loss_type, args.importance_sampling_level
    if loss_type in ("grpo", "bnpo", "dr_grpo", "dapo", "luspo"):
        return trl_loss_name(loss_type, level), {"level": level, "delta": args.delta}
    if loss_type == "cispo":
        return "cispo", {"level": level}
    if loss_type == "sapo":
        return "sapo", {"level": level, "temperature_pos": args.sapo_temperature_pos,
                        "temperature_neg": args.sapo_temperature_neg}
    if loss_type == "vespo":
        if level != "token":
            raise ValueError("vespo computes its own sequence weight: use importance_sampling_level='token'")
        return "vespo", {"k_pos": args.vespo_k_pos, "lambda_pos": args.vespo_lambda_pos,
                         "k_neg": args.vespo_k_neg, "lambda_neg": args.vespo_lambda_neg}
    raise ValueError(f"unknown TRL loss_type {loss_type!r}")


@dataclass
class RadRLConfig(GRPOConfig):
    """``GRPOConfig`` plus what radrl's trainer needs of the rewards. The methods are not settings
    here: they are components handed to :class:`RadRLTrainer` (a recipe's ``algorithm:``)."""

    reward_schedules: list | None = field(default=None, metadata={"help": (
        "per reward function, None or [[from_step, weight], ...] (set from rewards[i].schedule).")})


class RadRLTrainer(NativeLayoutCheckpoints, GRPOTrainer):
    """``GRPOTrainer`` with radrl's registered components: ``components`` is a list of
    :class:`radrl.algorithms.Component` objects, at most one per slot (``token_weights``, ``clip``,
    ``aux_loss``); ``radrl.algorithms.build_components`` makes them from a recipe."""

    _tag_names = ["trl", "grpo", "radrl"]

    def __init__(self, *args, components: list[Component] | tuple = (), policy_loss: tuple[str, dict] | None = None,
                 advantage: tuple[str, dict] | None = None, skip_failed_rewards: bool = True, **kwargs):
        """``policy_loss`` / ``advantage``: (registered name, parameters); None takes TRL's settings
        (``loss_type``, ``importance_sampling_level``, ``scale_rewards``). ``skip_failed_rewards``
        (a recipe's ``algorithm.skip_failed_rewards``): a sample with any failed (NaN) reward
        component gets advantage 0 and leaves its group's statistics; False: only one whose every
        component failed."""
        super().__init__(*args, **kwargs)
        self.skip_failed_rewards = skip_failed_rewards
        cfg = self.args
        if not isinstance(cfg, RadRLConfig):
            raise TypeError("RadRLTrainer needs a RadRLConfig")
        self.components = self._slot_components(components)
        if cfg.reward_schedules is not None and len(cfg.reward_schedules) != len(self.reward_funcs):
            raise ValueError(f"reward_schedules has {len(cfg.reward_schedules)} entries for "
                             f"{len(self.reward_funcs)} reward functions")
        self._base_reward_weights = self.reward_weights.clone()
        self._set_loss_and_advantage(policy_loss, advantage)
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
        self.component_context = TrainerContext(self, self.policy_loss_name)
        for component in self.components.values():
            component.setup(self.component_context)

    def _set_loss_and_advantage(self, policy_loss, advantage) -> None:
        """The registered policy loss and advantage estimator with their parameters, or a refusal
        of a pair that cannot work."""
        self._radrl_loss = self._supported_by_radrl_loss()
        if not self._radrl_loss and (self.components or policy_loss or advantage):
            raise ValueError(f"radrl's components, policy losses and advantages do not combine with TRL's {TRL_ONLY}; "
                             "turn those off, or use no algorithm: entries (then the trainer is stock TRL's)")
        name, params = advantage or ("grpo", {})
        self.advantage_name, self.advantage_params = name, dict(params)
        if name == "grpo":
            self.advantage_params.setdefault("scale", self.scale_rewards)
        self.advantage_fn = ADVANTAGES.get(name)
        if not self._radrl_loss:  # stock TRL's _compute_loss runs: its loss_type is the name
            self.policy_loss_name, self.policy_loss_params, self.policy_loss_fn = self.loss_type, {}, None
            return
        name, params = policy_loss or trl_policy_loss(self.args)
        self.policy_loss_name, self.policy_loss_params = name, dict(params)
        self.policy_loss_fn = POLICY_LOSSES.get(name)
        problem = aggregation_problem(name, self.policy_loss_fn)
        if problem:
            raise ValueError(problem)
        clip = self.components.get("clip")
        problem = pairing_problem(name, self.policy_loss_fn, None if clip is None else type(clip).__name__)
        if problem:
            raise ValueError(problem)

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
                stages = sorted({component.column_stages[c] for c in missing if c in component.column_stages})
                hint = f" (radrl train's {', '.join(stages)} stage writes it)" if stages else ""
                raise ValueError(f"{type(component).__name__} needs the dataset column(s) {', '.join(missing)}{hint}")

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
        return (self.top_entropy_quantile == 1.0 and self.off_policy_mask_threshold is None
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
        mode = self._mode()
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        n_local = len(inputs)
        local = slice(self.accelerator.process_index * n_local, (self.accelerator.process_index + 1) * n_local)

        # Group advantages from the gathered rewards (same numbers as TRL's; failed samples skipped).
        per_func = self._last_rewards_per_func
        rewards = (per_func * self.reward_weights.to(per_func.device).unsqueeze(0)).nansum(dim=1)
        failed = torch.isnan(per_func).any(dim=1) if self.skip_failed_rewards else torch.isnan(per_func).all(dim=1)
        rewards[failed] = torch.nan
        advantages = self.advantage_fn(rewards, group_size, **self.advantage_params)
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
        ctx, rollouts = self.component_context, Rollouts(inputs, output, rewards, local, group_size)
        if weigher is not None:
            completion_mask = output["completion_mask"]
            weights = weigher.weights(ctx, rollouts)
            output["advantages"] = token_level_advantages(seq_advantages, weights)
            valid = completion_mask.bool()
            stats = torch.stack([(weights * valid).sum(), valid.sum().float(), weights.masked_fill(~valid, 0).max()])
            gathered = self.accelerator.gather(stats.unsqueeze(0)).view(-1, 3)
            self._log("token_weights/mean", float(gathered[:, 0].sum() / gathered[:, 1].sum().clamp(min=1)))
            self._log("token_weights/max", float(gathered[:, 2].max()))
        if clip is not None:
            output["clip_low"], output["clip_high"] = clip.clip_ranges(ctx, rollouts, self.epsilon_low,
                                                                       self.epsilon_high)
        if aux is not None:
            aux.prepare(ctx, rollouts)

    def _compute_loss(self, model, inputs):
        if not self._radrl_loss:
            return super()._compute_loss(model, inputs)
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([inputs["prompt_ids"], completion_ids], dim=1)
        attention_mask = torch.cat([inputs["prompt_mask"], completion_mask], dim=1)
        mask = completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        per_token_logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, completion_ids.size(1), compute_entropy=True, **forward_kwargs(inputs))

        old = inputs.get("old_per_token_logps")
        old = per_token_logps.detach() if old is None else old
        advantages = inputs["advantages"]
        fn = self.policy_loss_fn
        x = PolicyLossInputs(per_token_logps, old, advantages.unsqueeze(1) if advantages.dim() == 1 else advantages,
                             mask, inputs.get("clip_low", self.epsilon_low), inputs.get("clip_high", self.epsilon_high),
                             inputs.get("importance_sampling_ratio"))
        out = fn(x, **self.policy_loss_params)
        per_token_loss = out.per_token_loss
        if self.use_vllm and self.vllm_importance_sampling_correction and not getattr(fn, "corrects_sampling", False):
            per_token_loss = per_token_loss * inputs["importance_sampling_ratio"]
        per_token_kl = None
        if self.beta != 0.0:
            per_token_kl = kl_k3(per_token_logps, inputs["ref_per_token_logps"])
            if self.args.use_bias_correction_kl:  # importance-sampling correction, as TRL does
                per_token_kl = per_token_kl * out.ratio
            per_token_loss = per_token_loss + self.beta * per_token_kl
        aux = self.components.get("aux_loss")
        scale = aux.policy_loss_scale(inputs) if aux is not None else None
        if scale is not None:  # e.g. OraPO Eq. 4: (1 - lambda) * L_GRPO, with the KL term inside L_GRPO
            per_token_loss = per_token_loss * scale.unsqueeze(1)

        loss = self._aggregate(per_token_loss, mask, fn.aggregation, inputs.get("num_items_in_batch"))
        if aux is not None:
            loss = loss + aux.loss(self.component_context, model, inputs, per_token_logps, mask) / self._accumulation()
        self._log_loss_metrics(mask, entropies, per_token_kl, out.metrics)
        self._log_group_metrics(mask, out.metrics, inputs)
        return loss

    def _accumulation(self) -> float:
        return self.current_gradient_accumulation_steps if self._mode() == "train" else 1.0

    def _aggregate(self, per_token_loss, mask, aggregation: str, num_items_in_batch) -> torch.Tensor:
        """The loss's declared aggregation, scaled for gradient accumulation as TRL scales each."""
        if aggregation == "generation_tokens":  # num_items_in_batch spans the generation batch
            normalizer = num_items_in_batch.clamp(min=1.0) / self.accelerator.num_processes
            if self._mode() == "train":
                normalizer = normalizer * self.current_gradient_accumulation_steps / self.args.steps_per_generation
            return aggregate_loss(per_token_loss, mask, aggregation, token_normalizer=normalizer)
        return aggregate_loss(per_token_loss, mask, aggregation,
                              max_completion_length=self.max_completion_length) / self._accumulation()

    def _log_loss_metrics(self, mask, entropies, per_token_kl, loss_metrics: dict) -> None:
        """The training metrics stock GRPOTrainer logs (entropy, kl) and the policy loss's own
        (clip ratios), each a masked mean over all processes' tokens (or sequences, for (B, 1))."""
        def global_masked_mean(x):
            if x.shape[1] == 1:  # one value per sequence
                local = torch.stack([x.sum(), x.new_tensor(float(x.shape[0]))])
            else:
                local = torch.stack([(x * mask).sum(), mask.sum().float()])
            totals = self.accelerator.reduce(local, reduction="sum")
            return (totals[0] / totals[1].clamp(min=1.0)).item()

        metrics = self._metrics[self._mode()]
        metrics["entropy"].append(global_masked_mean(entropies))
        if per_token_kl is not None:
            metrics["kl"].append(global_masked_mean(per_token_kl))
        for name, value in loss_metrics.items():
            metrics[name].append(global_masked_mean(value.detach()))

    def _log_group_metrics(self, mask, loss_metrics: dict, inputs) -> None:
        """The policy loss's per-token metrics again over each row group a component marked in the
        batch (``log_group/<name>``, a (B,) bool, e.g. CAPO's ``critical``), as ``<metric>/<name>``;
        a micro-batch with no token of the group on any process adds nothing to that group's mean."""
        metrics = self._metrics[self._mode()]
        for key, rows in inputs.items():
            if not key.startswith(LOG_GROUP):
                continue
            group = mask * rows.to(mask.dtype).unsqueeze(1)
            for name, value in loss_metrics.items():
                if value.shape[1] == 1:
                    continue  # one value per sequence (GSPO's clip): no tokens to split
                totals = self.accelerator.reduce(torch.stack([(value.detach() * group).sum(), group.sum().float()]),
                                                 reduction="sum")
                if totals[1] > 0:
                    metrics[f"{name}/{key[len(LOG_GROUP):]}"].append((totals[0] / totals[1]).item())

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
        states = saved.get("components", {})
        for slot, component in self.components.items():
            if slot in states:
                component.load_state_dict(states[slot])
            elif component.resume_needs_state:
                raise FileNotFoundError(f"{path} holds no state of the {slot} component {component!r}: cannot "
                                        "resume it exactly")
