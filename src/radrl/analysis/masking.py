"""DEER's token-masking validation (Table 6): do the tokens a weighting calls important carry
the diagnosis?

For rollouts sampled from a policy (``group_size`` per image, as in GRPO), each strategy ranks a
report's tokens (policy tokenizer) by its weight and the top ``fraction`` (10 %) are deleted:

* ``random``:   uniform random scores;
* ``tfidf``:    DiTPO's rule weights over the report's group (``tfidf_token_weights``, alpha 4);
* ``gradient``: DiTPO's gradient weights (CheXbert saliency for the reference's positive findings).

Ties (e.g. the many TF-IDF weights of exactly 1) are broken at random. The masked report is
labelled again; the table gives the share of reports whose 14 labels change (label modification
ratio; higher = the weighting found diagnostic tokens) and the example-based F1 of the masked
reports' positive labels against the unmasked ones (0/0 counted as 1; lower = more damage).
Only rollouts whose reference has a positive finding are used, since the gradient weights are
all 1 otherwise. Every labeler given scores the same masked reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from radrl.algorithms import tfidf_token_weights
from radrl.metrics.clinical import binarize, example_based
from radrl.schema import OBSERVATIONS

STRATEGIES = ("random", "tfidf", "gradient")


def mask_top_tokens(text: str, spans: Sequence[tuple[int, int]], scores: Sequence[float], fraction: float,
                    generator: torch.Generator) -> tuple[str, int]:
    """``text`` with its ``ceil(fraction * n)`` highest-scoring tokens deleted (each replaced by a
    space), ties broken at random; tokens with an empty span are not candidates."""
    candidates = [i for i, (s, e) in enumerate(spans) if e > s]
    if not candidates:
        return text, 0
    k = max(1, math.ceil(fraction * len(candidates)))
    noise = torch.rand(len(candidates), generator=generator)
    key = torch.tensor([float(scores[i]) for i in candidates], dtype=torch.float64)
    order = sorted(range(len(candidates)), key=lambda j: (-key[j].item(), noise[j].item()))
    masked = sorted(candidates[j] for j in order[:k])
    out, cursor = [], 0
    for i in masked:
        s, e = spans[i]
        out.append(text[cursor:s])
        out.append(" ")
        cursor = e
    out.append(text[cursor:])
    return "".join(out), k


def masking_table(reports: Sequence[str], references: Sequence[str], group_size: int, tokenizer,
                  chexbert, labelers: dict, fraction: float = 0.1, alpha: float = 4.0, beta: float = 1.0,
                  seed: int = 0) -> dict:
    """``reports`` are rollouts in groups of ``group_size`` (adjacent), ``references[i]`` the
    reference of report i. ``chexbert`` gives the gradient weights (``None``: that row is left
    out); ``labelers`` maps a name to the labeler that judges label changes."""
    from radrl.algorithms.saliency import GradientTokenWeigher, token_char_spans

    if len(reports) != len(references) or len(reports) % group_size:
        raise ValueError("reports and references must align and come in whole groups")
    tok = getattr(tokenizer, "tokenizer", tokenizer)
    ids = [tok(r, add_special_tokens=False)["input_ids"] or [tok.pad_token_id or 0] for r in reports]
    length = max(len(x) for x in ids)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    batch = torch.tensor([x + [pad] * (length - len(x)) for x in ids])
    mask = torch.tensor([[1] * len(x) + [0] * (length - len(x)) for x in ids])
    texts, spans = zip(*(token_char_spans(tok, x) for x in ids))

    weights: dict[str, torch.Tensor] = {}
    generator = torch.Generator().manual_seed(seed)
    weights["random"] = torch.rand(batch.shape, generator=generator)
    weights["tfidf"] = tfidf_token_weights(batch, mask, group_size, alpha=alpha)
    keep = list(range(len(reports)))
    if chexbert is not None:
        weigher = GradientTokenWeigher(chexbert, tok, beta=beta)
        aligned, has_target = weigher.scores(batch, mask, references)
        weights["gradient"] = 1.0 + beta * aligned
        keep = [i for i in keep if bool(has_target[i])]
    if not keep:
        raise ValueError("no rollout has a reference with a positive finding; nothing to compare")

    originals = [texts[i] for i in keep]
    result: dict = {"n_reports": len(keep), "n_rollouts": len(reports), "group_size": group_size,
                    "fraction": fraction, "labelers": list(labelers), "strategies": {}}
    original_labels = {name: lab.label_batch(originals) for name, lab in labelers.items()}
    for strategy, w in weights.items():
        gen = torch.Generator().manual_seed(seed + 1)
        masked, counts = [], []
        for i in keep:
            text, k = mask_top_tokens(texts[i], spans[i], w[i, :len(spans[i])].tolist(), fraction, gen)
            masked.append(text)
            counts.append(k)
        row = {"masked_tokens_mean": sum(counts) / len(counts), "examples": masked[:3]}
        for name, lab in labelers.items():
            after = lab.label_batch(masked)
            before = original_labels[name]
            changed = sum(any(a[o] != b[o] for o in OBSERVATIONS) for a, b in zip(after, before))
            row[name] = {"label_change_rate": changed / len(keep),
                         "f1_vs_unmasked": example_based(binarize(after), binarize(before), empty_match="one")["f1"]}
        result["strategies"][strategy] = row
    return result


def format_masking_table(result: dict) -> str:
    names = result["labelers"]
    header = f"{'strategy':10s}" + "".join(f"{'change ' + n:>18s}{'F1 ' + n:>14s}" for n in names)
    lines = [f"top {result['fraction']:.0%} of tokens masked in {result['n_reports']} rollouts "
             f"(groups of {result['group_size']})", header]
    for strategy, row in result["strategies"].items():
        lines.append(f"{strategy:10s}" + "".join(
            f"{row[n]['label_change_rate']:>18.1%}{row[n]['f1_vs_unmasked']:>14.3f}" for n in names))
    return "\n".join(lines)


def rollout_masking(model_path: str, samples: Sequence, chexbert=None, n_prompts: int = 64, group_size: int = 8,
                    fraction: float = 0.1, temperature: float = 1.0, max_new_tokens: int = 160, seed: int = 0,
                    progress: bool = True) -> dict:
    """Sample ``group_size`` rollouts for each of the first ``n_prompts`` samples from the policy
    at ``model_path``, then :func:`masking_table` judged by the rule labeler (and by ``chexbert``
    when given)."""
    from radrl.analysis.reward_diversity import sample_groups
    from radrl.labelers import get_labeler
    from radrl.models.processor import load_processor

    chosen = list(samples)[:n_prompts]
    processor = load_processor(str(model_path))
    groups = sample_groups(str(model_path), chosen, group_size, temperature, top_p=1.0,
                           max_new_tokens=max_new_tokens, seed=seed, progress=progress)
    reports = [r for g in groups for r in g]
    references = [s.report for s in chosen for _ in range(group_size)]
    labelers = {"rule": get_labeler("rule")}
    if chexbert is not None:
        labelers["chexbert"] = chexbert
    result = masking_table(reports, references, group_size, processor, chexbert, labelers, fraction=fraction,
                           seed=seed)
    result.update(model=str(model_path), temperature=temperature)
    return result
