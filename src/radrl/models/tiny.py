"""A tiny Qwen2.5-VL built from a config, with a tokenizer trained on a report corpus.

Nothing can be downloaded here, so the demo and the tests use a real
``Qwen2_5_VLForConditionalGeneration`` (same classes, processor, chat template and generation
path as Qwen2.5-VL-3B/7B) with small dimensions and random initial weights, saved to a folder
that :func:`radrl.models.load_policy` opens like any hub checkpoint.

Known pitfalls handled here:

* the processor class wants a video processor even for image-only use;
* ``mrope_section`` must sum to ``head_dim / 2`` of the text model;
* the image placeholder and vision markers are suppressed at generation
  (``generation_config.suppress_tokens``), otherwise an untrained model can emit
  ``<|image_pad|>`` and break the next forward's image-token count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from radrl.config.sections import TinyVLMConfig

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]

# Qwen2.5-VL's chat template, reduced to what radrl uses (system/user/assistant turns with
# text and image parts) and with `{% generation %}` markers for assistant-only losses.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a radiologist.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}"
    "{% else %}{{ message['content'] }}<|im_end|>{% endif %}"
    "{% else %}"
    "{% if message['role'] == 'assistant' %}{% generation %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>{% endgeneration %}"
    "{% else %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>"
    "{% endif %}{% endif %}{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def train_report_tokenizer(texts: Iterable[str], vocab_size: int = 1024):
    """Byte-level BPE (the Qwen tokenizer's kind) trained on ``texts``, wrapped as a fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token=None, model_max_length=2048)
    fast.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:]})
    fast.chat_template = CHAT_TEMPLATE
    return fast


def prompt_corpus() -> list[str]:
    """Texts of the chat scaffolding, so prompts tokenize compactly too."""
    from radrl.models.prompts import DEFAULT_INSTRUCTION

    return ["system\nYou are a radiologist.", "user\n", "assistant\n", DEFAULT_INSTRUCTION] * 50


def build_tiny_vlm(out_dir: str | Path, corpus: Iterable[str], config: TinyVLMConfig | None = None) -> Path:
    """Build, save and return the folder of a tiny Qwen2.5-VL (model + processor).

    ``corpus``: report texts to train the tokenizer on (e.g. the synthetic train split).
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from radrl.models.processor import ImageOnlyQwenVLProcessor

    config = config or TinyVLMConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_report_tokenizer(list(corpus) + prompt_corpus(), config.vocab_size)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    pixels = config.image_size * config.image_size
    image_processor = Qwen2VLImageProcessorPil(min_pixels=pixels, max_pixels=pixels, patch_size=14, merge_size=2,
                                               temporal_patch_size=2)
    processor = ImageOnlyQwenVLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                         chat_template=CHAT_TEMPLATE)

    head_dim = config.hidden_size // config.num_attention_heads
    half = head_dim // 2
    t = half // 4
    mrope_section = [t, (half - t) // 2, half - t - (half - t) // 2]  # sums to head_dim / 2
    vl_config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size, num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads, num_key_value_heads=config.num_key_value_heads,
            max_position_embeddings=config.max_position_embeddings,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope_section},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=True,
        ),
        vision_config=dict(
            depth=config.vision_depth, hidden_size=config.vision_hidden_size, num_heads=config.vision_heads,
            intermediate_size=config.vision_intermediate_size, out_hidden_size=config.hidden_size,
            patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
            fullatt_block_indexes=[config.vision_depth - 1],
        ),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(config.seed)
    model = Qwen2_5_VLForConditionalGeneration(vl_config)
    gen = model.generation_config
    gen.eos_token_id = ids["<|im_end|>"]
    gen.pad_token_id = ids["<|endoftext|>"]
    gen.bos_token_id = ids["<|endoftext|>"]
    gen.suppress_tokens = [ids[t] for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>",
                                            "<|vision_end|>", "<|im_start|>", "<|endoftext|>")]
    gen.max_new_tokens = 160
    gen.do_sample = False
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    (out / "radrl_tiny.json").write_text(json.dumps(asdict(config), indent=1))
    return out
