"""DEER's DiTPO as registered components: token-weighted advantages A_i^t = A_i * w_i^t.

* ``tfidf``: w = 1 + alpha * TF-IDF of the token over its group (:func:`tfidf_token_weights`).
* ``gradient``: w = 1 + beta * s, s the CheXbert labeler's saliency of the reference's positive
  findings, aligned to the policy tokens (:class:`radrl.algorithms.saliency.GradientTokenWeigher`).
"""

from __future__ import annotations

from typing import Literal

from radrl.algorithms.components import COMPONENTS, TokenWeights
from radrl.algorithms.token_weights import tfidf_token_weights
from radrl.io import FieldError


@COMPONENTS.register("tfidf")
class TfidfTokenWeights(TokenWeights):
    """Rule-based DiTPO weights (DEER Eq. 7-8) over each group of reports. A group may span
    processes, so the completions are gathered first and this process's rows cut out after."""

    def __init__(self, alpha: float = 4.0, tf: Literal["relative", "raw"] = "relative"):
        if alpha < 0:
            raise FieldError("alpha", "alpha (w = 1 + alpha * tfidf) must be >= 0")
        if tf not in ("relative", "raw"):
            raise FieldError("tf", f"tf must be relative or raw, got {tf!r}")
        self.alpha, self.tf = float(alpha), tf

    def weights(self, ctx, rollouts):
        n_local, length = rollouts.completion_ids.shape
        ids = ctx.pad_across_processes(rollouts.completion_ids, dim=1, pad_index=ctx.pad_token_id)
        mask = ctx.pad_across_processes(rollouts.completion_mask, dim=1, pad_index=0)
        weights = tfidf_token_weights(ctx.gather(ids), ctx.gather(mask), rollouts.group_size,
                                      alpha=self.alpha, tf=self.tf)
        start = ctx.process_index * n_local
        return weights[start:start + n_local, :length]


@COMPONENTS.register("gradient")
class GradientTokenWeights(TokenWeights):
    """Gradient-based DiTPO weights (DEER §3.3, the paper's default): needs a CheXbert-architecture
    labeler, whose saliency it reads; w = 1 when the reference has no positive finding."""

    columns = ("reference",)
    needs_labeler = True
    labelers = ("chexbert",)

    def __init__(self, beta: float = 1.0, include_no_finding: bool = False, labeler=None, tokenizer=None):
        if beta < 0:
            raise FieldError("beta", "beta (w = 1 + beta * saliency) must be >= 0")
        self.beta, self.include_no_finding = float(beta), include_no_finding
        self.weigher = None
        if labeler is not None:
            from radrl.algorithms.saliency import GradientTokenWeigher

            self.weigher = GradientTokenWeigher(labeler, tokenizer, beta=self.beta,
                                                include_no_finding=include_no_finding)

    def weights(self, ctx, rollouts):
        if self.weigher is None:
            raise ValueError("the gradient token weights need the run's CheXbert labeler: build them with "
                             "build_components(..., labeler=..., tokenizer=...)")
        return self.weigher(rollouts.completion_ids, rollouts.completion_mask,
                            [x.get("reference") for x in rollouts.inputs])


__all__ = ["GradientTokenWeights", "TfidfTokenWeights"]
