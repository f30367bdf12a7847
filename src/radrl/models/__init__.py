"""Policy models: loading any image-text-to-text checkpoint, LoRA and freezing, the tiny demo VLM.

The names below are imported on first use (PEP 562), so ``radrl.models.prompts`` and the recipe
checks stay light: torch and transformers load only when a model is really built.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "FREEZE_CHOICES": "policy", "apply_freezing": "policy", "load_policy": "policy",
    "trainable_summary": "policy", "load_processor": "processor", "DEFAULT_INSTRUCTION": "prompts",
    "completion_messages": "prompts", "prompt_messages": "prompts", "build_tiny_vlm": "tiny",
}
_SETTINGS = ("LoraSettings", "TinyVLMConfig")


def __getattr__(name: str):
    if name in _SETTINGS:
        return getattr(importlib.import_module("radrl.config.sections"), name)
    if name in _WHERE:
        return getattr(importlib.import_module(f"radrl.models.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'radrl.models' has no attribute {name!r}")


__all__ = [*_WHERE, *_SETTINGS]
