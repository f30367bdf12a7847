"""The one place prompts are built: every model, trainer and command uses these helpers, so a
report is always asked for the same way (chat template of the model's own processor)."""

from __future__ import annotations

from typing import Any

from radrl.config.sections import DEFAULT_INSTRUCTION  # written once, beside the settings that use it


def user_message(n_images: int, instruction: str = DEFAULT_INSTRUCTION) -> dict[str, Any]:
    """A user turn with ``n_images`` image slots followed by the instruction."""
    content: list[dict[str, Any]] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": instruction})
    return {"role": "user", "content": content}


def prompt_messages(n_images: int, instruction: str = DEFAULT_INSTRUCTION,
                    system: str | None = None) -> list[dict[str, Any]]:
    """Conversational prompt (TRL's format) for one study."""
    messages = [{"role": "system", "content": [{"type": "text", "text": system}]}] if system else []
    return messages + [user_message(n_images, instruction)]


def completion_messages(report: str) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": [{"type": "text", "text": report}]}]
