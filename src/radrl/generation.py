"""Batched report generation with any policy: greedy, sampling or beam search.

Prompts are built by :mod:`radrl.models.prompts` with the processor's chat template, padded on
the left; images are opened per batch (never all at once). Returns the decoded completions,
stripped of special tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from radrl.config.sections import GenerationSettings
from radrl.data.sample import Sample
from radrl.models.prompts import DEFAULT_INSTRUCTION, prompt_messages

__all__ = ["GenerationSettings", "build_inputs", "generate_reports", "open_images"]


def open_images(paths: Sequence[str]):
    """Each image as RGB (:func:`radrl.data.images.open_image`: pixel cap, clear errors)."""
    from radrl.data.images import open_image

    return [open_image(p) for p in paths]


def build_inputs(processor, samples: Sequence[Sample], instruction: str = DEFAULT_INSTRUCTION, images=None):
    """Left-padded model inputs for a batch of samples (the exact prompt training used);
    ``images`` (one list per sample) when the caller has opened them already."""
    texts = [processor.apply_chat_template(prompt_messages(len(s.images), instruction), add_generation_prompt=True,
                                           tokenize=False) for s in samples]
    if images is None:
        images = [open_images(s.images) for s in samples]
    flat = [img for per_sample in images for img in per_sample]
    return processor(text=texts, images=flat or None, padding=True, padding_side="left", return_tensors="pt")


def _open_batch(batch: Sequence[Sample], skipped):
    """(positions kept, their images) of a batch; a sample whose image cannot be opened is recorded in
    ``skipped`` and left out, or, without ``skipped``, stops the run with a clear error."""
    from radrl.data.images import ImageError

    kept, images = [], []
    for i, s in enumerate(batch):
        try:
            images.append(open_images(s.images))
        except ImageError as err:
            if skipped is None:
                raise
            skipped.add(s.id, err.reason)
            continue
        kept.append(i)
    return kept, images


@torch.no_grad()
def generate_reports(model, processor, samples: Sequence[Sample], settings: GenerationSettings | None = None,
                     progress: bool = True, skipped=None, index_offset: int = 0) -> list[list[str] | None]:
    """``num_return_sequences`` reports per sample, in input order.

    Each batch is seeded with ``settings.seed + index_offset + (its first sample's index)``: a
    batch samples the same reports whatever ran before it, so a shard of a list (starting at
    ``index_offset``, on a batch boundary) gives what the whole list gives for those samples.

    With ``skipped`` (a :class:`radrl.data.images.SkippedImages`), a sample whose image cannot be
    opened gets ``None`` and is recorded there; without it, such an image raises ``ImageError``."""
    settings = settings or GenerationSettings()
    kwargs = settings.generate_kwargs()
    model.eval()
    device = next(model.parameters()).device
    tok = processor.tokenizer
    out: list[list[str]] = []
    from tqdm.auto import tqdm

    batches = range(0, len(samples), settings.batch_size)
    for start in tqdm(batches, desc="generate", unit="batch", disable=not progress):
        batch = samples[start:start + settings.batch_size]
        torch.manual_seed(settings.seed + index_offset + start)
        kept, images = _open_batch(batch, skipped)
        reports: list[list[str] | None] = [None] * len(batch)
        if kept:
            inputs = build_inputs(processor, [batch[i] for i in kept], settings.instruction, images).to(device)
            seqs = model.generate(**inputs, **kwargs, pad_token_id=tok.pad_token_id)
            texts = tok.batch_decode(seqs[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            k = settings.num_return_sequences
            for j, i in enumerate(kept):
                reports[i] = [t.strip() for t in texts[j * k:(j + 1) * k]]
        out.extend(reports)
    return out
