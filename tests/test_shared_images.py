"""encode_each_image_once: a reference pass over a GRPO batch encodes each film once, with the
same log-probs as encoding every copy."""

from __future__ import annotations

import copy

import torch

from radrl.data.synthetic import load_synthetic
from radrl.models import load_policy
from radrl.models.shared_images import distinct_images, encode_each_image_once


def test_distinct_images_by_grid_and_pixels():
    grid = torch.tensor([[1, 2, 2], [1, 2, 2], [1, 2, 4], [1, 2, 2]])
    a, b = torch.zeros(4, 3), torch.ones(4, 3)
    pixels = torch.cat([a, b, torch.zeros(8, 3), a])  # image 2 has other sizes, though its pixels are zeros too
    assert distinct_images(pixels, grid) == ([0, 1, 2], [0, 1, 2, 0])


def test_a_batch_with_repeated_films_gives_the_same_logps_with_fewer_images(tiny_vlm, tiny_bench):
    from radrl.training.datasets import to_trl_dataset

    model, processor = load_policy(str(tiny_vlm))
    model.eval()
    samples = load_synthetic(tiny_bench, "train")[:2]
    rows = [x for x in to_trl_dataset(samples, with_completion=False) for _ in range(3)]  # 2 films x 3 copies
    texts = [processor.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False) for r in rows]
    batch = processor(text=texts, images=[r["images"] for r in rows], return_tensors="pt", padding=True)
    shared = copy.deepcopy(model)
    seen = []
    visual = shared.model.visual
    original_forward = visual.forward

    def counting(pixel_values, grid_thw=None, **kwargs):
        seen.append(len(grid_thw))
        return original_forward(pixel_values, grid_thw=grid_thw, **kwargs)

    visual.forward = counting
    assert encode_each_image_once(shared) and encode_each_image_once(shared)  # idempotent
    with torch.no_grad():
        want = model(**batch).logits
        got = shared(**batch).logits
    assert seen == [2]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
