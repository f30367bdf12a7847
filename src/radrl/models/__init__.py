"""Policy models: loading any image-text-to-text checkpoint, LoRA and freezing, the tiny demo VLM."""

from radrl.models.policy import (
           FREEZE_CHOICES,
           LoraSettings,
           apply_freezing,
           load_policy,
           trainable_summary,
)
from radrl.models.processor import load_processor
from radrl.models.prompts import DEFAULT_INSTRUCTION, completion_messages, prompt_messages
from radrl.models.tiny import TinyVLMConfig, build_tiny_vlm

__all__ = ["DEFAULT_INSTRUCTION", "FREEZE_CHOICES", "LoraSettings", "TinyVLMConfig", "apply_freezing",
           "build_tiny_vlm", "completion_messages", "load_policy", "load_processor", "prompt_messages",
           "trainable_summary"]
