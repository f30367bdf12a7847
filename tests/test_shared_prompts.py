"""shared_prompt_logps: the reference's log-probs of many completions with each distinct prompt
run once equal a full forward over every row (logits -> log-softmax -> the completion's tokens)."""

from __future__ import annotations

import contextlib

import torch
from trl.trainer.utils import add_fused_lm_head

from radrl.assets import tiny_sft_checkpoint
from radrl.data.synthetic import load_synthetic
from radrl.models import load_policy
from radrl.training.shared_prompts import find_rope_index, plan_shared_prompts, shared_prompt_logps


def _rows(processor, tiny_bench, with_images: bool):
    """Rows of 2 studies x 3 copies; study 1's prompt is longer, so the prompts' left padding differs."""
    from radrl.training.datasets import to_trl_dataset

    samples = load_synthetic(tiny_bench, "train")[:2]
    rows = [x for x in to_trl_dataset(samples, with_completion=False) for _ in range(3)]
    texts = [processor.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False) for r in rows]
    texts = [t.replace("<|im_start|>assistant", "Be brief. <|im_start|>assistant") if i >= 3 else t
             for i, t in enumerate(texts)]
    if with_images:
        return processor(text=texts, images=[r["images"] for r in rows], return_tensors="pt", padding=True,
                         padding_side="left")
    texts = [t.replace("<|image_pad|>", "").replace("<|vision_start|><|vision_end|>", "") for t in texts]
    return processor(text=texts, return_tensors="pt", padding=True, padding_side="left")


def _completions(rows: int, vocab: int, pad: int):
    """Random completions of 6 to 1 tokens, right-padded with ``pad``."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(10, vocab, (rows, 6), generator=gen)
    mask = torch.ones_like(ids)
    for r in range(rows):
        mask[r, 6 - r:] = 0
    return ids.masked_fill(mask == 0, pad), mask


def _by_hand(model, batch, completion, completion_mask):
    """Full forward over every row; the completion tokens' log-softmax, read from the logits."""
    ids = torch.cat([batch["input_ids"], completion], 1)
    attn = torch.cat([batch["attention_mask"], completion_mask], 1)
    extra = {k: batch[k] for k in ("pixel_values", "image_grid_thw") if k in batch}
    if "mm_token_type_ids" in batch:
        extra["mm_token_type_ids"] = torch.cat([batch["mm_token_type_ids"], torch.zeros_like(completion)], 1)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attn, **extra).logits
    width = completion.size(1)
    logps = torch.log_softmax(logits[:, -width - 1:-1].float(), -1)
    return logps.gather(-1, completion.unsqueeze(-1)).squeeze(-1)


def _check(tiny_bench, with_images: bool):
    """On the committed SFT checkpoint: a trained model, whose log-probs move when a position is off by one."""
    model, processor = load_policy(str(tiny_sft_checkpoint()))
    model.eval()
    add_fused_lm_head(model)
    batch = _rows(processor, tiny_bench, with_images)
    assert batch["attention_mask"][:, 0].tolist() == [0, 0, 0, 1, 1, 1]  # the padding differs between the prompts
    completion, completion_mask = _completions(6, model.config.get_text_config().vocab_size,
                                               processor.tokenizer.pad_token_id)
    fwd = {"pixel_values": batch.get("pixel_values"), "image_grid_thw": batch.get("image_grid_thw"),
           "num_images": [1] * 6 if with_images else None,
           "mm_token_type_ids": torch.cat([batch["mm_token_type_ids"], torch.zeros_like(completion)], 1)
           if "mm_token_type_ids" in batch else None}
    rope = find_rope_index(model) if with_images else None
    plan = plan_shared_prompts(batch["input_ids"], batch["attention_mask"], fwd, rope)
    assert plan is not None and plan.firsts == [0, 3] and plan.which == [0, 0, 0, 1, 1, 1]
    want = _by_hand(model, batch, completion, completion_mask)
    got = shared_prompt_logps(model, plan, batch["input_ids"], batch["attention_mask"], completion, completion_mask,
                              fwd, rope, contextlib.nullcontext)
    torch.testing.assert_close(got[completion_mask == 1], want[completion_mask == 1], rtol=1e-5, atol=1e-5)


def test_rows_with_repeated_films_and_prompts_match_the_full_pass(tiny_bench):
    _check(tiny_bench, with_images=True)


def test_text_prompts_match_the_full_pass_after_an_image_batch_left_state_behind(tiny_bench):
    """Qwen-VL keeps ``rope_deltas`` from its last image forward; the text rows must not use them."""
    _check(tiny_bench, with_images=True)
    _check(tiny_bench, with_images=False)


def test_two_films_under_one_text_are_two_prompts():
    ids = torch.ones(4, 5, dtype=torch.long)
    mask = torch.ones_like(ids)
    grid = torch.tensor([[1, 2, 2]] * 4)
    pixels = torch.cat([torch.zeros(4, 3), torch.ones(4, 3), torch.zeros(4, 3), torch.ones(4, 3)])
    fwd = {"pixel_values": pixels, "image_grid_thw": grid, "num_images": [1] * 4,
           "mm_token_type_ids": torch.zeros(4, 7, dtype=torch.long)}
    plan = plan_shared_prompts(ids, mask, fwd, rope_index=lambda *a, **k: None)
    assert plan.firsts == [0, 1] and plan.which == [0, 1, 0, 1]


def test_where_sharing_does_not_apply_the_full_pass_runs():
    ids, mask = torch.ones(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.long)
    assert plan_shared_prompts(ids[:1], mask[:1], {}, None) is None  # no repeated prompt
    assert plan_shared_prompts(ids, mask, {"token_type_ids": torch.zeros(2, 6)}, None) is None  # another family
    assert plan_shared_prompts(ids, mask, {"pixel_values": torch.zeros(2, 3), "image_grid_thw": None}, None) is None
    ends_in_image = {"mm_token_type_ids": torch.tensor([[0, 0, 0, 1, 0, 0]] * 2)}
    assert plan_shared_prompts(ids, mask, ends_in_image, None) is None
    right_padded = mask.clone()
    right_padded[0, -1] = 0
    assert plan_shared_prompts(ids, right_padded, {}, None) is None
    assert plan_shared_prompts(ids, mask, {}, None).which == [0, 0]
