"""Batched report generation with any policy: greedy, sampling or beam search.

Prompts are built by :mod:`radrl.models.prompts` with the processor's chat template, padded on
the left; images are opened per batch (never all at once). Returns the decoded completions,
stripped of special tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from radrl.data.sample import Sample
from radrl.models.prompts import DEFAULT_INSTRUCTION, prompt_messages
from radrl.recipe.sections import GenerationSettings

__all__ = ["GenerationSettings", "build_inputs", "generate_reports", "open_images"]


def open_images(paths: Sequence[str]):
    from PIL import Image

    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(im.convert("RGB"))
    return out


def build_inputs(processor, samples: Sequence[Sample], instruction: str = DEFAULT_INSTRUCTION):
    """Left-padded model inputs for a batch of samples (the exact prompt training used)."""
    texts = [processor.apply_chat_template(prompt_messages(len(s.images), instruction), add_generation_prompt=True,
                                           tokenize=False) for s in samples]
    images = [img for s in samples for img in open_images(s.images)]
    return processor(text=texts, images=images or None, padding=True, padding_side="left", return_tensors="pt")


@torch.no_grad()
def generate_reports(model, processor, samples: Sequence[Sample], settings: GenerationSettings | None = None,
                     progress: bool = True) -> list[list[str]]:
    """``num_return_sequences`` reports per sample, in input order."""
    settings = settings or GenerationSettings()
    kwargs = settings.generate_kwargs()
    model.eval()
    device = next(model.parameters()).device
    torch.manual_seed(settings.seed)
    tok = processor.tokenizer
    out: list[list[str]] = []
    from tqdm.auto import tqdm

    batches = range(0, len(samples), settings.batch_size)
    for start in tqdm(batches, desc="generate", unit="batch", disable=not progress):
        batch = samples[start:start + settings.batch_size]
        inputs = build_inputs(processor, batch, settings.instruction).to(device)
        seqs = model.generate(**inputs, **kwargs, pad_token_id=tok.pad_token_id)
        texts = tok.batch_decode(seqs[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        k = settings.num_return_sequences
        out.extend([t.strip() for t in texts[i * k:(i + 1) * k]] for i in range(len(batch)))
    return out
