"""What a component is given: a small, typed view of one training step, never the trainer.

The trainer (``radrl.training.component_context.TrainerContext``) builds one
:class:`ComponentContext` and hands it to every component call, with the step's
:class:`Rollouts` where the call is about one batch. It is the only code that touches TRL's
private members, so a TRL upgrade changes that file, not the components.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

LOG_GROUP = "log_group/"
"""The prefix of a :attr:`Rollouts.tensors` entry that marks rows for per-group loss metrics."""


@dataclass(frozen=True)
class TrainerSettings:
    """The trainer's settings a component may read (to check its own, or warn that it is inert)."""

    epsilon_low: float
    epsilon_high: float
    beta: float
    num_iterations: int
    steps_per_generation: int
    gradient_accumulation_steps: int
    max_completion_length: int
    policy_loss: str
    """The registered policy loss this run uses (``radrl.algorithms.POLICY_LOSSES``)."""


@dataclass
class Rollouts:
    """One scored generation batch, this process's rows of it.

    - ``inputs``: the dataset rows (``prompt``, ``reference``, ``id``, and any column a component
      declares, e.g. ``critical``);
    - ``tensors``: the batch the loss will read: ``prompt_ids``, ``prompt_mask``,
      ``completion_ids``, ``completion_mask`` (B, T), ``advantages`` (B,) or (B, T), the image
      tensors; ``prepare`` may add its own entries, which reach :meth:`AuxiliaryLoss.loss`; an
      entry ``log_group/<name>`` (:data:`LOG_GROUP`), a (B,) bool, marks a group of rows whose
      policy-loss metrics the trainer logs again over that group alone (``clip_ratio/region_mean/<name>``);
    - ``rewards``: the weighted reward sums of all processes' rows (NaN: failed), ``local`` the
      slice of them that are this process's rows;
    - ``group_size``: completions per prompt (adjacent rows).
    """

    inputs: list[dict]
    tensors: dict[str, Any]
    rewards: torch.Tensor
    local: slice
    group_size: int

    @property
    def completion_ids(self) -> torch.Tensor:
        return self.tensors["completion_ids"]

    @property
    def completion_mask(self) -> torch.Tensor:
        return self.tensors["completion_mask"]

    @property
    def advantages(self) -> torch.Tensor:
        """The sequence advantages (B,) of this process's rows, before any token weights."""
        return self.tensors["advantages"]


class ComponentContext:
    """The step as a component sees it. Attributes: ``settings`` (:class:`TrainerSettings`),
    ``tokenizer`` (the policy's text tokenizer), ``device``, ``process_index``, ``num_processes``,
    ``pad_token_id``, ``eos_token_id``. Methods below."""

    settings: TrainerSettings
    tokenizer: Any
    device: torch.device
    process_index: int
    num_processes: int
    pad_token_id: int
    eos_token_id: int

    @property
    def mode(self) -> str:
        """``"train"`` or ``"eval"``."""
        raise NotImplementedError

    def log(self, name: str, value: float) -> None:
        """Add ``value`` to the metric ``name`` (averaged over the logging window, as TRL's own)."""
        raise NotImplementedError

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` of every process, concatenated along dim 0 (same shape on each)."""
        raise NotImplementedError

    def gather_object(self, items: list) -> list:
        """Python lists of every process, concatenated."""
        raise NotImplementedError

    def reduce(self, tensor: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
        """``tensor`` summed (or ``"mean"``) over processes."""
        raise NotImplementedError

    def pad_across_processes(self, tensor: torch.Tensor, dim: int = 0, pad_index: int = 0) -> torch.Tensor:
        """``tensor`` padded along ``dim`` to the largest size any process holds."""
        raise NotImplementedError

    def policy_logps(self, model, batch: dict[str, Any], rows: list[int], completion: torch.Tensor,
                     completion_mask: torch.Tensor) -> torch.Tensor:
        """Per-token log-probs under ``model`` (with gradient) of ``completion`` (one row each,
        right-padded) after the prompts (and images) of ``batch``'s ``rows`` (a row may repeat)."""
        raise NotImplementedError

    def reference_logps(self, batch: dict[str, Any], rows: list[int], completion: torch.Tensor,
                        completion_mask: torch.Tensor) -> torch.Tensor:
        """The same under the reference policy (the frozen initial policy, or LoRA's disabled
        adapters), without gradient; needs ``needs_reference_model = True`` on the component."""
        raise NotImplementedError


__all__ = ["ComponentContext", "Rollouts", "TrainerSettings"]
