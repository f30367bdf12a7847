"""Some rows of a GRPO batch's multimodal forward kwargs.

TRL's ``_get_per_token_logps_and_entropies`` cuts a batch into contiguous chunks of rows and
knows, for each model family, how the image tensors are laid out (patches per image for
Qwen-VL, tiles for InternVL / LFM2-VL, one entry per image or per row otherwise).
:func:`select_rows` uses the same layouts to keep any rows, in any order, so that a pass meant
for a few rows (OraPO's ground truth, once per prompt) does not run on the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import torch

_PER_ROW = ("token_type_ids", "mm_token_type_ids")


def _cum(counts) -> list[int]:
    return [0, *accumulate(int(c) for c in counts)]


def _row_range(fwd: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    """Rows ``start:end`` of ``fwd``, cut as TRL cuts a chunk of them."""
    out: dict[str, Any] = dict.fromkeys(fwd)
    pixels, grid, num_images = fwd.get("pixel_values"), fwd.get("image_grid_thw"), fwd.get("num_images")
    num_tiles, shapes, pixel_mask = fwd.get("num_tiles"), fwd.get("spatial_shapes"), fwd.get("pixel_attention_mask")
    if num_images is not None:
        images = _cum(num_images)
        img = slice(images[start], images[end])
        out["num_images"] = list(num_images[start:end])
    if num_tiles is not None:
        tiles = slice(_cum(num_tiles)[start], _cum(num_tiles)[end])
        out["num_tiles"] = list(num_tiles[start:end])
    if grid is not None and pixels is not None:
        per_row = [int(s.sum()) for s in torch.split(grid.prod(dim=-1), list(num_images))]
        rows = _cum(per_row)
        out["pixel_values"], out["image_grid_thw"] = pixels[rows[start]:rows[end]], grid[img]
    elif fwd.get("image_position_ids") is not None and pixels is not None:
        out["pixel_values"], out["image_position_ids"] = pixels[img], fwd["image_position_ids"][img]
    elif shapes is not None and pixels is not None:
        out["pixel_values"], out["pixel_attention_mask"], out["spatial_shapes"] = (
            pixels[tiles], pixel_mask[tiles], shapes[tiles])
    elif num_tiles is not None and pixels is not None:
        out["pixel_values"] = pixels[tiles]
    elif pixels is not None and num_images is not None and pixels.size(0) == sum(num_images):
        out["pixel_values"] = pixels[img]
    elif pixels is not None:
        out["pixel_values"] = pixels[start:end]
    if pixel_mask is not None and shapes is None:
        out["pixel_attention_mask"] = pixel_mask[start:end]
    if fwd.get("image_sizes") is not None:
        out["image_sizes"] = fwd["image_sizes"][img]
    for key in _PER_ROW:
        if fwd.get(key) is not None:
            out[key] = fwd[key][start:end]
    return out


def select_rows(fwd: dict[str, Any], rows: Sequence[int]) -> dict[str, Any]:
    """The forward kwargs of ``rows`` only, in that order (a row may repeat)."""
    pieces = [_row_range(fwd, i, i + 1) for i in rows]
    out: dict[str, Any] = {}
    for key in fwd:
        values = [p[key] for p in pieces]
        if not values or values[0] is None:
            out[key] = None if not values else values[0]
        elif torch.is_tensor(values[0]):
            out[key] = torch.cat(values, dim=0)
        else:  # num_images, num_tiles: per-row lists
            out[key] = [v for part in values for v in part]
    return out


__all__ = ["select_rows"]
