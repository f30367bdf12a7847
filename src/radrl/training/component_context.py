"""The trainer's side of the component contract: :class:`TrainerContext` implements
``radrl.algorithms.context.ComponentContext`` on a ``RadRLTrainer``. This is the one place that
reaches into TRL's private members (``_get_per_token_logps_and_entropies``, ``_metrics``,
``_tokenizer``), so that components never do."""

from __future__ import annotations

from typing import Any

import torch

from radrl.algorithms.context import ComponentContext, TrainerSettings

FORWARD_KEYS = ("pixel_values", "image_grid_thw", "num_images", "pixel_attention_mask", "spatial_shapes",
                "num_tiles", "image_sizes", "token_type_ids", "mm_token_type_ids", "image_position_ids")
"""The image (and token-type) tensors a VLM's forward takes besides the ids, as TRL passes them."""


def forward_kwargs(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: batch.get(k) for k in FORWARD_KEYS}


def for_completion(fwd: dict[str, Any], prompt_len: int, completion: torch.Tensor) -> dict[str, Any]:
    """Forward kwargs for the same prompts followed by another completion (token-type ids cover
    prompt + completion, so they are cut to the prompt and re-extended with zeros)."""
    out = dict(fwd)
    for key in ("token_type_ids", "mm_token_type_ids"):
        if out.get(key) is not None:
            prompt_part = out[key][:, :prompt_len]
            out[key] = torch.cat([prompt_part, prompt_part.new_zeros(completion.shape)], dim=1)
    return out


class TrainerContext(ComponentContext):
    """A ``ComponentContext`` backed by a ``RadRLTrainer`` (built once, in its constructor)."""

    def __init__(self, trainer, policy_loss: str):
        self._trainer = trainer
        args = trainer.args
        self.settings = TrainerSettings(
            epsilon_low=trainer.epsilon_low, epsilon_high=trainer.epsilon_high, beta=trainer.beta,
            num_iterations=args.num_iterations, steps_per_generation=args.steps_per_generation,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
            max_completion_length=trainer.max_completion_length, policy_loss=policy_loss)
        accelerator = trainer.accelerator
        self.tokenizer = trainer._tokenizer
        self.device = accelerator.device
        self.process_index, self.num_processes = accelerator.process_index, accelerator.num_processes
        self.pad_token_id = self.tokenizer.pad_token_id
        eos_ids = getattr(trainer, "eos_token_ids", None)
        self.eos_token_id = eos_ids[0] if eos_ids else self.tokenizer.eos_token_id

    @property
    def mode(self) -> str:
        return "train" if self._trainer.model.training else "eval"

    def log(self, name: str, value: float) -> None:
        self._trainer._metrics[self.mode][name].append(float(value))

    def gather(self, tensor):
        return self._trainer.accelerator.gather(tensor)

    def gather_object(self, items):
        from accelerate.utils import gather_object

        return gather_object(items)

    def reduce(self, tensor, reduction="sum"):
        return self._trainer.accelerator.reduce(tensor, reduction=reduction)

    def pad_across_processes(self, tensor, dim=0, pad_index=0):
        return self._trainer.accelerator.pad_across_processes(tensor, dim=dim, pad_index=pad_index)

    def _inputs(self, batch, rows, completion, completion_mask):
        prompt_ids, prompt_mask, fwd = batch["prompt_ids"], batch["prompt_mask"], forward_kwargs(batch)
        if not (len(rows) == prompt_ids.size(0) and rows == list(range(len(rows)))):
            from radrl.training.batch_rows import select_rows

            prompt_ids, prompt_mask, fwd = prompt_ids[rows], prompt_mask[rows], select_rows(fwd, rows)
        ids, attn = torch.cat([prompt_ids, completion], 1), torch.cat([prompt_mask, completion_mask], 1)
        return ids, attn, for_completion(fwd, prompt_ids.size(1), completion)

    def policy_logps(self, model, batch, rows, completion, completion_mask):
        ids, attn, fwd = self._inputs(batch, rows, completion, completion_mask)
        return self._trainer._get_per_token_logps_and_entropies(model, ids, attn, completion.size(1), **fwd)[0]

    def reference_logps(self, batch, rows, completion, completion_mask):
        ids, attn, fwd = self._inputs(batch, rows, completion, completion_mask)
        return self._trainer._ref_logps(ids, attn, completion.size(1), None, fwd)


__all__ = ["FORWARD_KEYS", "TrainerContext", "for_completion", "forward_kwargs"]
