"""vLLM rollouts (``rl.use_vllm: true``, TRL's ``vllm_mode`` colocate or server) with the same
image processing as training.

vLLM builds its own processor from the model folder it is given, so radrl's ``model.max_pixels``
/ ``min_pixels`` / ``processor`` kwargs would be lost there: rollouts would see one number of
visual tokens and the loss another. :func:`rollout_model_folder` writes ``OUT/rollout-model``:
the training processor saved (with radrl's pixels) beside links to the policy's weights and
config, and the policy's ``name_or_path`` points at it, which is what TRL hands to vLLM in
colocate mode. In server mode, serve that folder: ``trl vllm-serve --model OUT/rollout-model``.

:func:`check_vllm` refuses, before anything loads, what cannot work: vLLM missing (the extra
``radrl[vllm]`` pins the range TRL 1.16 accepts, 0.22-0.31) and a ``vllm_max_model_length``
shorter than a prompt's visual tokens at ``model.max_pixels`` plus the completion.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from radrl.io import ConfigError, atomic_folder
from radrl.planning import PROMPT_TEXT_TOKENS

TOKEN_PIXELS = 28 * 28  # one merged Qwen2-VL visual token: a 2 x 2 group of 14 x 14 patches


def longest_sequence(max_pixels: int | None, completion: int, images: int = 1) -> int | None:
    """An upper bound of prompt + completion tokens, or None when the pixels are not capped."""
    if not max_pixels:
        return None
    return PROMPT_TEXT_TOKENS + images * (max_pixels // TOKEN_PIXELS) + completion


def vllm_problem(settings: dict, max_pixels: int | None) -> str | None:
    """Why these ``rl:`` settings cannot run with vLLM (a pure check, run when a recipe loads)."""
    if not settings.get("use_vllm"):
        return None
    mode = settings.get("vllm_mode", "colocate")
    if mode not in ("colocate", "server"):
        return f"rl.vllm_mode must be colocate or server, got {mode!r}"
    limit = settings.get("vllm_max_model_length")
    need = longest_sequence(max_pixels, int(settings.get("max_completion_length", 256)))
    if limit is not None and need is not None and limit < need:
        return (f"rl.vllm_max_model_length {limit} is shorter than a prompt at model.max_pixels ({max_pixels // TOKEN_PIXELS} "
                f"visual tokens + ~{PROMPT_TEXT_TOKENS} text) plus max_completion_length: set it to {need} or more")
    return None


def check_vllm(settings: dict) -> None:
    """vLLM is installed when the recipe asks for it."""
    if settings.get("use_vllm") and importlib.util.find_spec("vllm") is None:
        raise ConfigError("rl.use_vllm: true needs vLLM: pip install 'radrl[vllm]' (vLLM 0.22-0.31, the range "
                          "TRL 1.16 accepts), or set rl.use_vllm: false")


def _source_folder(model_path: str) -> Path:
    path = Path(model_path)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(model_path, local_files_only=True))


def rollout_model_folder(model_path: str, processor, out: str | Path) -> Path:
    """``OUT/rollout-model``: ``processor`` saved, every other file of the policy's folder linked."""
    source = _source_folder(model_path).resolve()
    target = Path(out) / "rollout-model"
    with atomic_folder(target) as tmp:
        processor.save_pretrained(tmp)
        for item in source.iterdir():
            if item.is_file() and not (tmp / item.name).exists():
                os.symlink(item.resolve(), tmp / item.name)
    return target
