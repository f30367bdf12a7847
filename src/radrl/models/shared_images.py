"""Encode each distinct image of a forward pass once.

A GRPO batch holds every prompt ``num_generations`` times, so a forward pass over its rollouts
runs the vision tower on each film 8 times over. For a model without gradients (the frozen
reference: OraPO's DPO term, the KL term) the copies are pure waste. :func:`encode_each_image_once`
wraps a Qwen-VL-style ``get_image_features(pixel_values, image_grid_thw)`` so that identical
images (same grid, equal pixels) in one call are encoded once and their features shared; the
language model still sees every row. Models whose image features take other arguments are
left as they are.
"""

from __future__ import annotations

import inspect

import torch


def distinct_images(pixel_values: torch.Tensor, image_grid_thw: torch.Tensor) -> tuple[list[int], list[int]]:
    """(index of the first copy of each distinct image, which distinct image each image is)."""
    chunks = torch.split(pixel_values, image_grid_thw.prod(-1).tolist())
    grids = [tuple(g) for g in image_grid_thw.tolist()]
    first: list[int] = []
    which: list[int] = []
    for i, chunk in enumerate(chunks):
        match = next((k for k, j in enumerate(first) if grids[j] == grids[i] and torch.equal(chunks[j], chunk)), None)
        if match is None:
            match = len(first)
            first.append(i)
        which.append(match)
    return first, which


def encode_each_image_once(model) -> bool:
    """Wrap ``model``'s image encoder (see the module docstring); False when its
    ``get_image_features`` is not Qwen-VL-style and nothing was changed. For models that take
    no gradient only: the shared features would join the copies' gradients."""
    inner = getattr(model, "model", model)
    original = getattr(inner, "get_image_features", None)
    if original is None or "image_grid_thw" not in inspect.signature(original).parameters:
        return False
    if getattr(original, "radrl_shared_images", False):
        return True

    def get_image_features(pixel_values, image_grid_thw=None, **kwargs):
        if image_grid_thw is None or not kwargs.get("return_dict"):
            return original(pixel_values, image_grid_thw, **kwargs)
        first, which = distinct_images(pixel_values, image_grid_thw)
        if len(first) == len(which):
            return original(pixel_values, image_grid_thw, **kwargs)
        chunks = torch.split(pixel_values, image_grid_thw.prod(-1).tolist())
        out = original(torch.cat([chunks[i] for i in first]), image_grid_thw[first], **kwargs)
        out.pooler_output = tuple(out.pooler_output[k] for k in which)
        out.last_hidden_state = None  # per distinct image only: nothing downstream reads it
        return out

    get_image_features.radrl_shared_images = True
    inner.get_image_features = get_image_features
    return True


__all__ = ["distinct_images", "encode_each_image_once"]
