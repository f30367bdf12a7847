"""select_rows: some rows of a batch's multimodal forward kwargs, cut as TRL cuts chunks."""

from __future__ import annotations

import torch

from radrl.training.batch_rows import select_rows


def test_qwen_layout_patches_per_image_follow_their_rows():
    """Three rows with one image each: 4, 8 and 4 patch rows (grid t*h*w)."""
    grid = torch.tensor([[1, 2, 2], [1, 2, 4], [1, 2, 2]])
    pixels = torch.arange(16).unsqueeze(1).float()
    fwd = {"pixel_values": pixels, "image_grid_thw": grid, "num_images": [1, 1, 1],
           "mm_token_type_ids": torch.tensor([[0, 1], [0, 2], [0, 3]]), "token_type_ids": None}
    out = select_rows(fwd, [2, 0])
    assert out["pixel_values"].squeeze(1).tolist() == [12, 13, 14, 15, 0, 1, 2, 3]
    assert out["image_grid_thw"].tolist() == [[1, 2, 2], [1, 2, 2]]
    assert out["num_images"] == [1, 1]
    assert out["mm_token_type_ids"].tolist() == [[0, 3], [0, 1]]
    assert out["token_type_ids"] is None
    middle = select_rows(fwd, [1])
    assert middle["pixel_values"].squeeze(1).tolist() == list(range(4, 12))


def test_two_images_in_a_row_and_tensors_per_row():
    grid = torch.tensor([[1, 1, 2], [1, 1, 2], [1, 2, 2]])  # row 0: two images of 2 patches; row 1: one of 4
    fwd = {"pixel_values": torch.arange(8).float(), "image_grid_thw": grid, "num_images": [2, 1]}
    assert select_rows(fwd, [1])["pixel_values"].tolist() == [4, 5, 6, 7]
    assert select_rows(fwd, [0])["image_grid_thw"].tolist() == [[1, 1, 2], [1, 1, 2]]
    per_row = {"pixel_values": torch.arange(3).float().unsqueeze(1), "num_images": None}
    assert select_rows(per_row, [2, 2])["pixel_values"].squeeze(1).tolist() == [2, 2]
