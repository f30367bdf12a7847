"""Gradient-based DiTPO token weights for the RL trainer (DEER §3.3, Eq. 9-12).

For each rollout o_i: the reference's positive findings T (labelled by the same CheXbert labeler,
as in the paper), the labeler's saliency of o_i for T (``ChexbertLabeler.saliency``), aligned to
the policy's own tokens by character offsets (max over overlapping labeler tokens), then
w = 1 + beta * s (``radrl.algorithms.saliency_token_weights``).

The policy tokens' character spans come from incremental decoding of the completion (linear
time), so they match the text the labeler reads exactly, for any tokenizer (byte-level BPE
pieces of one unicode character share that character's span).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from radrl.algorithms.token_weights import align_scores_by_offsets, saliency_token_weights
from radrl.schema import NO_FINDING, OBSERVATION_INDEX, OBSERVATIONS, POSITIVE


def token_char_spans(tokenizer, ids: Sequence[int], window: int = 6) -> tuple[str, list[tuple[int, int]]]:
    """The decoded text of ``ids`` (special tokens skipped) and each token's ``(start, end)`` in it.

    Token t covers the characters that decoding up to t adds. A token that completes no character
    on its own (the first bytes of a multi-byte character) gets the span of the character it
    starts. Special tokens get an empty span.

    Linear time: incremental detokenization as in TGI and vLLM. Each step decodes only the tokens
    since the last emitted text plus a few before them (``window``; they carry context such as
    SentencePiece's leading space) and keeps what the newest token adds, instead of decoding
    every prefix (quadratic: 512 tokens decoded 131k tokens). Equal to the prefix method, which
    tests keep as the reference.
    """
    ids = [int(i) for i in ids]
    text = tokenizer.decode(ids, skip_special_tokens=True)
    spans: list[tuple[int, int]] = []
    prefix_offset = read_offset = 0  # context starts at prefix_offset; text emitted up to read_offset
    end = 0
    context = ""  # decode(ids[prefix_offset:read_offset]): changes only when text is emitted
    for k in range(1, len(ids) + 1):
        current = tokenizer.decode(ids[prefix_offset:k], skip_special_tokens=True)
        complete = current.rstrip("\ufffd")  # an unfinished character decodes to U+FFFD
        grown = min(end + max(len(complete) - len(context), 0), len(text))
        if grown > end:
            spans.append((end, grown))
            end = grown
            prefix_offset, read_offset = max(0, k - window), k
            context = tokenizer.decode(ids[prefix_offset:read_offset], skip_special_tokens=True)
        elif len(current) > len(complete) and end < len(text):  # partial character: point at it
            spans.append((end, end + 1))
        else:
            spans.append((end, end))
    return text, spans


def positive_targets(labels: dict, include_no_finding: bool = False) -> list[int]:
    """Head indices of the positive labels (No Finding left out unless asked: it is not a finding)."""
    return [OBSERVATION_INDEX[name] for name in OBSERVATIONS
            if labels.get(name) == POSITIVE and (include_no_finding or name != NO_FINDING)]


class GradientTokenWeigher:
    """DEER's gradient-based DiTPO weights (the ``gradient`` component): the labeler's saliency of the
    reference's positive findings, aligned to the policy tokens, as w = 1 + beta * s."""

    def __init__(self, labeler, tokenizer, beta: float = 1.0, include_no_finding: bool = False):
        if not hasattr(labeler, "saliency"):
            raise ValueError(f"gradient token weights need a differentiable labeler (chexbert); "
                             f"the {getattr(labeler, 'name', labeler)!r} labeler has no saliency")
        self.labeler = labeler
        self.tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
        self.beta = beta
        self.include_no_finding = include_no_finding

    def scores(self, completion_ids: torch.Tensor, completion_mask: torch.Tensor,
               references: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Aligned saliency s~ (B, T) on the policy tokens and whether each row has a target."""
        batch, length = completion_ids.shape
        ref_labels = self.labeler.label_batch([r or "" for r in references])
        targets = [positive_targets(lab, self.include_no_finding) for lab in ref_labels]
        texts, spans = [], []
        for row in range(batch):
            n = int(completion_mask[row].sum())
            text, row_spans = token_char_spans(self.tokenizer, completion_ids[row, :n].tolist())
            texts.append(text)
            spans.append(row_spans)
        saliency = self.labeler.saliency(texts, targets)
        aligned = torch.zeros((batch, length))
        for row, (src_spans, src_scores) in enumerate(saliency):
            if targets[row] and spans[row]:
                aligned[row, :len(spans[row])] = align_scores_by_offsets(src_spans, src_scores, spans[row])
        has_target = torch.tensor([bool(t) for t in targets])
        return aligned.to(completion_ids.device), has_target.to(completion_ids.device)

    def __call__(self, completion_ids, completion_mask, references) -> torch.Tensor:
        """(B, T) weights w = 1 + beta * s~ of each completion against its reference."""
        aligned, has_target = self.scores(completion_ids, completion_mask, references)
        return saliency_token_weights(aligned, completion_mask, has_target, beta=self.beta)

