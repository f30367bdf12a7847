"""Tiny Qwen2.5-VL, policy loading (freezing, LoRA), processor fallback, generation."""

from __future__ import annotations

import json

import pytest
import torch

from radrl.data.synthetic import load_synthetic
from radrl.generation import GenerationSettings, build_inputs, generate_reports
from radrl.models import LoraSettings, apply_freezing, load_policy, load_processor, prompt_messages
from radrl.models.policy import part_of


def test_tiny_model_is_a_real_qwen2_5_vl(tiny_vlm):
    cfg = json.loads((tiny_vlm / "config.json").read_text())
    assert cfg["model_type"] == "qwen2_5_vl"
    text = cfg["text_config"]
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    assert sum(text["rope_parameters"]["mrope_section"]) == head_dim // 2
    gen = json.loads((tiny_vlm / "generation_config.json").read_text())
    assert cfg["image_token_id"] in gen["suppress_tokens"]
    assert (tiny_vlm / "model.safetensors").is_file()
    proc = json.loads((tiny_vlm / "processor_config.json").read_text())
    assert proc["processor_class"] == "Qwen2_5_VLProcessor"


def test_prompt_and_processor_expand_image_tokens(tiny_vlm, tiny_bench):
    processor = load_processor(str(tiny_vlm))
    text = processor.apply_chat_template(prompt_messages(1), add_generation_prompt=True, tokenize=False)
    assert text.count("<|image_pad|>") == 1 and text.endswith("<|im_start|>assistant\n")
    assert "<|im_end|>\n<|im_start|>assistant" in text
    samples = load_synthetic(tiny_bench, "test")[:2]
    inputs = build_inputs(processor, samples)
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # 112 px / 14 = 8 patches a side, merged 2x2 -> 16 tokens per image
    assert ((inputs["input_ids"] == image_id).sum(dim=1) == 16).all()
    assert inputs["attention_mask"][:, -1].all()  # left padding


def test_tokenizer_round_trips_reports(tiny_vlm, tiny_bench):
    tok = load_processor(str(tiny_vlm)).tokenizer
    for s in load_synthetic(tiny_bench, "train")[:10]:
        ids = tok(s.report, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == s.report


def test_freezing_choices(tiny_vlm):
    model, _ = load_policy(str(tiny_vlm), freeze="lm")
    trainable = {part_of(n) for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"vision", "projector"}
    counts = apply_freezing(model, "vision")
    assert counts["vision"] == 0 and counts["lm"] > 0 and counts["projector"] > 0
    assert sum(apply_freezing(model, "all").values()) == 0
    with pytest.raises(ValueError, match="freeze must be one of"):
        apply_freezing(model, "encoder")


def test_lora_wraps_only_language_model_linears(tiny_vlm):
    model, _ = load_policy(str(tiny_vlm), lora=LoraSettings(r=2, alpha=4))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert not any("visual" in n for n in trainable)


def test_generation_modes_shapes_and_format(tiny_vlm, tiny_bench):
    model, processor = load_policy(str(tiny_vlm))
    samples = load_synthetic(tiny_bench, "test")[:3]
    greedy = generate_reports(model, processor, samples, GenerationSettings(max_new_tokens=12, batch_size=2),
                              progress=False)
    assert [len(o) for o in greedy] == [1, 1, 1] and all(isinstance(o[0], str) for o in greedy)
    again = generate_reports(model, processor, samples, GenerationSettings(max_new_tokens=12, batch_size=3),
                             progress=False)
    assert greedy == again  # batch composition and padding do not change greedy outputs
    sampled = generate_reports(model, processor, samples, GenerationSettings(
        mode="sample", num_return_sequences=4, max_new_tokens=12, temperature=1.5), progress=False)
    assert [len(o) for o in sampled] == [4, 4, 4]
    assert len({t for o in sampled for t in o}) > 1
    beams = generate_reports(model, processor, samples[:1], GenerationSettings(
        mode="beam", num_beams=3, num_return_sequences=2, max_new_tokens=8), progress=False)
    assert len(beams[0]) == 2
    for o in greedy + sampled:
        assert all("<|image_pad|>" not in t and "<|vision_start|>" not in t for t in o)


def test_suppressed_tokens_are_never_generated(tiny_vlm, tiny_bench):
    model, processor = load_policy(str(tiny_vlm))
    tok = processor.tokenizer
    banned = {tok.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|vision_start|>", "<|video_pad|>")}
    inputs = build_inputs(processor, load_synthetic(tiny_bench, "test")[:2])
    torch.manual_seed(0)
    seqs = model.generate(**inputs, max_new_tokens=30, do_sample=True, temperature=3.0)
    new = seqs[:, inputs["input_ids"].shape[1]:]
    assert not banned & set(new.flatten().tolist())


def test_bad_generation_settings():
    with pytest.raises(ValueError, match="mode must be"):
        GenerationSettings(mode="nucleus").generate_kwargs()
    with pytest.raises(ValueError, match="greedy decoding returns one"):
        GenerationSettings(num_return_sequences=2).generate_kwargs()
    with pytest.raises(ValueError, match="cannot exceed num_beams"):
        GenerationSettings(mode="beam", num_beams=2, num_return_sequences=3).generate_kwargs()


def test_processor_fallback_does_not_hide_other_errors(tmp_path):
    with pytest.raises(ValueError, match="Unrecognized processing class"):
        load_processor(str(tmp_path))  # no config at all: the loader's own error, not the Qwen fallback


def test_lora_adapters_do_not_depend_on_the_processs_random_state(tiny_vlm):
    """Every rank of a launch must build the same adapters: FSDP2 shards each rank's own values (DDP
    would hide a difference by broadcasting rank 0's). They come from ``seed``, whatever ran before."""
    def adapters(seed):
        model, _ = load_policy(str(tiny_vlm), lora=LoraSettings(r=4, alpha=8), seed=seed)
        return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_A" in n}

    torch.manual_seed(1)
    first = adapters(0)
    torch.rand(1000)  # another rank, or another run, has drawn other numbers by now
    second = adapters(0)
    assert first and first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(a, b) for a, b in zip(first.values(), adapters(1).values()))
    before = torch.get_rng_state()
    adapters(0)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's generator is left as it was
