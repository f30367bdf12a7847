"""DiTPO token weights (DEER, Eq. 7-8) and token-level advantages.

The gradient-based weights (w = 1 + beta * s) take saliencies the CheXbert labeler computes
(``ChexbertLabeler.saliency``) once they are aligned to the policy tokens here;
they return the same ``(B, T)`` tensor as :func:`tfidf_token_weights`, so
:func:`token_level_advantages` takes either.
"""

from __future__ import annotations

import torch


def tfidf_token_weights(completion_ids: torch.Tensor, mask: torch.Tensor, group_size: int,
                        alpha: float = 4.0, tf: str = "relative") -> torch.Tensor:
    """w_i^t = 1 + alpha * TF(o_i^t, o_i) * IDF(o_i^t, {o_1..o_N}) over each group of N reports.

    IDF(t) = log(N / df(t)), df(t) = number of reports of the group that contain t. TF is the
    token's count in o_i divided by |o_i| (``tf="relative"``) or the raw count (``tf="raw"``; the
    paper says only "the frequency of the token within the report"). A token present in every
    report of the group gets IDF = 0, hence weight 1 (boilerplate); padding positions (mask 0)
    get weight 1 and are not counted. ``completion_ids`` and ``mask`` are ``(B, T)`` with
    B = groups * group_size, rows of a group adjacent. Returns float ``(B, T)``.
    """
    if tf not in ("relative", "raw"):
        raise ValueError(f"tf must be 'relative' or 'raw', got {tf!r}")
    if completion_ids.shape != mask.shape:
        raise ValueError("completion_ids and mask must have the same shape")
    batch, length = completion_ids.shape
    if batch % group_size:
        raise ValueError(f"batch {batch} is not a multiple of the group size {group_size}")
    if batch == 0 or length == 0:
        return torch.ones(completion_ids.shape, dtype=torch.float32, device=completion_ids.device)
    n_groups = batch // group_size
    valid = mask.bool()
    # Compact vocabulary: only the token ids that occur in this batch.
    vocab, inverse = torch.unique(completion_ids, return_inverse=True)
    counts = torch.zeros(batch, vocab.numel(), dtype=torch.float32, device=completion_ids.device)
    counts.scatter_add_(1, inverse, valid.float())
    lengths = valid.sum(1, keepdim=True).clamp(min=1).float()
    term_freq = counts / lengths if tf == "relative" else counts            # (B, U)
    df = (counts.view(n_groups, group_size, -1) > 0).sum(1).float()         # (G, U)
    idf = torch.log(group_size / df.clamp(min=1))                           # (G, U)
    tfidf = term_freq.view(n_groups, group_size, -1) * idf.unsqueeze(1)     # (G, N, U)
    per_token = torch.gather(tfidf.view(batch, -1), 1, inverse)             # (B, T)
    return torch.where(valid, 1.0 + alpha * per_token, torch.ones_like(per_token))


def token_level_advantages(advantages: torch.Tensor, token_weights: torch.Tensor) -> torch.Tensor:
    """DiTPO: A_i^t = A_i * w_i^t. ``advantages`` (B,), ``token_weights`` (B, T) -> (B, T)."""
    if advantages.dim() != 1 or token_weights.dim() != 2 or token_weights.size(0) != advantages.size(0):
        raise ValueError(f"expected advantages (B,) and weights (B, T), got {tuple(advantages.shape)} "
                         f"and {tuple(token_weights.shape)}")
    return advantages.unsqueeze(1) * token_weights


def align_scores_by_offsets(source_spans, source_scores, target_spans) -> torch.Tensor:
    """Map scores from one tokenisation of a text to another by character overlap (DEER §3.3):
    s~_t = max{ s_j : span_j overlaps span_t }, 0 when no source token overlaps target token t.

    Spans are half-open ``(start, end)`` character ranges of the same text; an empty span
    (``start == end``, e.g. a special token) overlaps nothing. Returns float ``(len(target_spans),)``.
    """
    scores = torch.as_tensor(source_scores, dtype=torch.float32).flatten()
    if len(source_spans) != scores.numel():
        raise ValueError(f"{len(source_spans)} source spans but {scores.numel()} scores")
    if not len(target_spans):
        return torch.zeros(0)
    if not len(source_spans):
        return torch.zeros(len(target_spans))
    src = torch.as_tensor(source_spans, dtype=torch.long).view(-1, 2)
    dst = torch.as_tensor(target_spans, dtype=torch.long).view(-1, 2)
    overlap = (src[None, :, 0] < dst[:, None, 1]) & (src[None, :, 1] > dst[:, None, 0])   # (T, L)
    overlap &= (src[None, :, 1] > src[None, :, 0]) & (dst[:, None, 1] > dst[:, None, 0])
    return torch.where(overlap, scores[None, :], torch.zeros(())).amax(dim=1).clamp(min=0)


def saliency_token_weights(aligned_scores: torch.Tensor, mask: torch.Tensor, has_target: torch.Tensor,
                           beta: float = 1.0) -> torch.Tensor:
    """Gradient-based DiTPO weights (DEER Eq. 12): w_i^t = 1 + beta * s~_i^t, no normalisation.

    ``aligned_scores`` (B, T) are the labeler saliencies mapped onto the policy tokens; rows whose
    reference has no positive finding (``has_target`` False) and padding get w = 1.
    """
    if aligned_scores.shape != mask.shape or has_target.shape != aligned_scores.shape[:1]:
        raise ValueError(f"shapes differ: scores {tuple(aligned_scores.shape)}, mask {tuple(mask.shape)}, "
                         f"has_target {tuple(has_target.shape)}")
    keep = mask.bool() & has_target.bool().unsqueeze(1)
    return torch.where(keep, 1.0 + beta * aligned_scores.float(), torch.ones_like(aligned_scores, dtype=torch.float32))
