"""DiTPO's view of a report: each token with the weight TF-IDF DiTPO would give it (DEER's
case-study figure). The report joins a group of reports sampled from the same policy for the
same image, and the weights are computed over that group exactly as in training
(:func:`radrl.algorithms.tfidf_token_weights`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from radrl.algorithms import tfidf_token_weights
from radrl.data.sample import Sample


def tfidf_pieces(reports: Sequence[str], tokenizer, alpha: float = 4.0) -> list[list[tuple[str, float]]]:
    """One group of reports -> for each report, its tokens as (text piece, weight)."""
    ids = [tokenizer(r, add_special_tokens=False)["input_ids"] or [tokenizer.pad_token_id] for r in reports]
    length = max(len(x) for x in ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batch = torch.tensor([x + [pad] * (length - len(x)) for x in ids])
    mask = torch.tensor([[1] * len(x) + [0] * (length - len(x)) for x in ids])
    weights = tfidf_token_weights(batch, mask, group_size=len(reports), alpha=alpha)
    return [[(tokenizer.decode([t]), float(w)) for t, w in zip(x, weights[i].tolist())] for i, x in enumerate(ids)]


def ditpo_weights_for_reports(model, processor, samples: Sequence[Sample], reports: Sequence[str],
                              group_size: int = 8, alpha: float = 4.0, generation=None,
                              progress: bool = False) -> list[list[tuple[str, float]]]:
    """For each sample, ``reports[i]`` shaded against ``group_size - 1`` reports sampled from
    ``model`` for the same image."""
    from radrl.generation import GenerationSettings, generate_reports

    settings = generation or GenerationSettings(mode="sample", num_return_sequences=group_size - 1,
                                                temperature=1.0, top_p=1.0)
    groups = generate_reports(model, processor, samples, settings, progress=progress)
    tokenizer = getattr(processor, "tokenizer", processor)
    return [tfidf_pieces([report, *group], tokenizer, alpha)[0] for report, group in zip(reports, groups)]
