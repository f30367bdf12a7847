"""Checkpoints that ``--resume`` really loads.

transformers 5 saves a model such as Qwen2.5-VL in its original key layout (``visual.*``,
``model.layers.*``) but ``Trainer._load_from_checkpoint`` loads the file with a plain
``load_state_dict`` that does not map the keys back (huggingface/transformers#43701): every
weight is reported missing, nothing is loaded, and the resumed run silently continues from the
initial weights. radrl's trainers therefore write their *training* checkpoints in the model's
own layout (``save_original_format=False``), which both ``load_state_dict`` and
``from_pretrained`` read. Final models are still saved in the original layout.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

from transformers import PreTrainedModel


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest complete ``checkpoint-N`` in ``folder`` (one with ``trainer_state.json``: a
    checkpoint cut short by a crash is skipped), or ``None``."""
    ckpts = sorted(Path(folder).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    complete = [c for c in ckpts if (c / "trainer_state.json").is_file()]
    return complete[-1] if complete else None


@contextlib.contextmanager
def saves_where_told(model):
    """``model.save_pretrained`` writes its weights wherever it is called with ``is_main_process``
    true. transformers 5.23 also requires torch.distributed rank 0 (``should_save_on_this_rank``),
    so with ``save_on_each_node`` the other nodes' checkpoints and final models had a tokenizer and
    a ``trainer_state.json`` but no ``model.safetensors`` or ``config.json``: a resume there would
    have taken them as complete."""
    model.should_save_on_this_rank = lambda is_main_process: is_main_process
    try:
        yield
    finally:
        del model.should_save_on_this_rank


class NativeLayoutCheckpoints:
    """Trainer mixin: training checkpoints in the model's own key layout (see module doc), written
    on every node's main process under ``save_on_each_node``."""

    def _save(self, output_dir: str | None = None, state_dict=None):
        model = self.accelerator.unwrap_model(self.model, keep_torch_compile=False)
        if not isinstance(model, PreTrainedModel) or hasattr(model, "peft_config"):
            return super()._save(output_dir, state_dict)  # PEFT adapters are saved by name, unaffected
        model.save_pretrained = functools.partial(type(model).save_pretrained, model, save_original_format=False)
        try:
            with saves_where_told(model):
                return super()._save(output_dir, state_dict)
        finally:
            del model.save_pretrained

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None):
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        target = self.accelerator.unwrap_model(model or self.model)
        weights = os.path.join(resume_from_checkpoint, "model.safetensors")
        if isinstance(target, PreTrainedModel) and not hasattr(target, "peft_config") and os.path.isfile(weights):
            from safetensors import safe_open

            with safe_open(weights, "pt") as f:
                saved = set(f.keys())
            expected = set(target.state_dict())
            if not expected & saved:
                raise RuntimeError(f"{weights} holds none of the model's weights (keys in another layout); "
                                   "it was not written by radrl's trainers and cannot be resumed exactly")
