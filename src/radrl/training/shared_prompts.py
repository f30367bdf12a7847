"""A frozen model's log-probs of many completions, each distinct prompt encoded once.

A GRPO batch holds every prompt ``num_generations`` times, and OraPO adds each prompt's ground
truth after it once more, so a reference pass over those rows runs the vision tower and the
language model over each prompt 9 times over. Without gradients the copies are waste: the
prompt's keys and values do not depend on what follows it (causal attention).
:func:`shared_prompt_logps` runs each distinct prompt (same tokens, same mask, same images) once
with a cache, then every row's completion after its prompt's cached keys and values:

    pass 1:  prompt[:, :-1] of each distinct prompt                 -> cache (and the films, once)
    pass 2:  [prompt[:, -1], completion] of every row, after cache  -> TRL's fused log-probs

The last prompt token goes into pass 2 so that TRL's fused head (``add_fused_lm_head``) scores
the first completion token as the full pass does, with the model's own temperature and logit
scaling. Positions are the full pass's: Qwen-VL's mrope positions of the prompt from the model's
``get_rope_index``, then one step per text token; a text-only prompt counts from its first
column, as a causal LM does without position ids.

The numbers equal the full pass's up to float rounding (``tests/test_shared_prompts.py``).
:func:`plan_shared_prompts` returns None where sharing does not apply (no repeated prompt, a
model family whose forward takes other image arguments, a prompt ending in an image token), and
the caller runs the full pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from radrl.models.shared_images import distinct_images
from radrl.training.batch_rows import select_rows

_SUPPORTED = {"pixel_values", "image_grid_thw", "num_images", "mm_token_type_ids"}


@dataclass(frozen=True)
class SharedPrompts:
    """Which rows share a prompt: ``firsts[k]`` is the first row of distinct prompt k, and row r's
    prompt is distinct prompt ``which[r]``."""

    firsts: list[int]
    which: list[int]


def _image_keys(fwd: dict[str, Any], rows: int) -> list[tuple[int, ...]]:
    """Per row, the distinct-image indices of its images (empty tuples for a text batch)."""
    pixels, grid = fwd.get("pixel_values"), fwd.get("image_grid_thw")
    if pixels is None:
        return [()] * rows
    _, which = distinct_images(pixels, grid)
    counts = fwd.get("num_images") or [len(which) // rows] * rows
    keys, start = [], 0
    for n in counts:
        keys.append(tuple(which[start:start + n]))
        start += n
    return keys


def plan_shared_prompts(prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                        fwd: dict[str, Any], rope_index) -> SharedPrompts | None:
    """The rows' distinct prompts, or None when :func:`shared_prompt_logps` cannot serve them."""
    given = {k for k, v in fwd.items() if v is not None}
    if not given <= _SUPPORTED or prompt_ids.size(1) < 2:
        return None
    if "pixel_values" in given and (rope_index is None or "image_grid_thw" not in given):
        return None
    types = fwd.get("mm_token_type_ids")
    if types is not None and bool((types[:, prompt_ids.size(1) - 1] != 0).any()):
        return None  # a prompt ending in an image token: pass 2 would need the film
    if not bool(prompt_mask[:, -1].all()):
        return None  # right-padded prompts: the last column is not each prompt's last token
    images = _image_keys(fwd, prompt_ids.size(0))
    ids, masks = prompt_ids.tolist(), prompt_mask.tolist()  # one device sync each, not one per row
    slot: dict[tuple, int] = {}
    firsts, which = [], []
    for row in range(prompt_ids.size(0)):
        key = (tuple(ids[row]), tuple(masks[row]), images[row])
        k = slot.setdefault(key, len(firsts))
        if k == len(firsts):
            firsts.append(row)
        which.append(k)
    return SharedPrompts(firsts, which) if len(firsts) < len(which) else None


def find_rope_index(model):
    """The ``get_rope_index`` of ``model`` or of a module inside it (Qwen-VL's mrope), else None."""
    for module in model.modules():
        if callable(getattr(module, "get_rope_index", None)):
            return module.get_rope_index
    return None


def _positions(prefix_ids, prefix_mask, fwd, rope_index, which, steps: int) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(pass 1's position ids or None, pass 2's): the full pass's positions of the prompt's last
    token and the completion's."""
    if fwd.get("pixel_values") is None:
        start = prefix_ids.size(1)  # a causal LM's positions count every column, padding included
        second = torch.arange(start, start + steps, device=prefix_ids.device)
        return None, second.unsqueeze(0).expand(len(which), -1)
    first, _ = rope_index(prefix_ids, mm_token_type_ids=fwd["mm_token_type_ids"],
                          image_grid_thw=fwd["image_grid_thw"], attention_mask=prefix_mask)
    # the next text token follows the largest position so far, in every mrope dimension
    following = first.masked_fill(prefix_mask.unsqueeze(0) == 0, -1).amax(dim=(0, 2)) + 1
    second = following[which].unsqueeze(1) + torch.arange(steps, device=first.device)
    return first, second.unsqueeze(0).expand(first.size(0), -1, -1)


@torch.no_grad()
def shared_prompt_logps(model, plan: SharedPrompts, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                        completion_ids: torch.Tensor, completion_mask: torch.Tensor, fwd: dict[str, Any],
                        rope_index, autocast) -> torch.Tensor:
    """Per-token log-probs (rows x completion tokens) of ``completion_ids`` after each row's prompt,
    by ``model`` (patched with TRL's ``add_fused_lm_head``), each distinct prompt run once."""
    from transformers import DynamicCache

    width = prompt_ids.size(1) - 1
    once = select_rows(fwd, plan.firsts)
    if once.get("mm_token_type_ids") is not None:  # cover prompt + completion: cut to the prefix
        once["mm_token_type_ids"] = once["mm_token_type_ids"][:, :width]
    prefix_ids, prefix_mask = prompt_ids[plan.firsts, :width], prompt_mask[plan.firsts, :width]
    first_pos, second_pos = _positions(prefix_ids, prefix_mask, once, rope_index, plan.which,
                                       completion_ids.size(1) + 1)
    cache = DynamicCache()
    images = {k: once[k] for k in ("pixel_values", "image_grid_thw") if once.get(k) is not None}
    with autocast():
        model(input_ids=prefix_ids, attention_mask=prefix_mask, position_ids=first_pos, past_key_values=cache,
              use_cache=True, logits_to_keep=1, mm_token_type_ids=once.get("mm_token_type_ids"), **images)
        cache.reorder_cache(torch.tensor(plan.which, device=prompt_ids.device))
        ids = torch.cat([prompt_ids[:, -1:], completion_ids], dim=1)
        labels = ids.masked_fill(torch.cat([prompt_mask[:, -1:], completion_mask], dim=1) == 0, -100)
        labels[:, 0] = -100
        out = model(input_ids=ids, attention_mask=torch.cat([prompt_mask, completion_mask], dim=1),
                    position_ids=second_pos, past_key_values=cache, labels=labels, fused_lm_head=True)
    return out.log_probs[:, -completion_ids.size(1):]


__all__ = ["SharedPrompts", "find_rope_index", "plan_shared_prompts", "shared_prompt_logps"]
