"""Clinical rewards from a labeler's CheXpert-14 labels: DEER's example F1 and MRG-R1's MCCS.

The labeler caches by text, so repeated reports in a group and references seen every epoch
are labelled once. Ground-truth labels from the dataset (``gt_labels``) are used when present;
otherwise the reference text is labelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from radrl.io import FieldError
from radrl.labelers import CachedLabeler, get_labeler, labels_or_labelled
from radrl.metrics.clinical import binarize, example_scores
from radrl.rewards.base import REWARDS, Extract, RewardFunction
from radrl.schema import to_mccs_vector


class LabelerReward(RewardFunction):
    needs_labeler = True

    def __init__(self, labeler: CachedLabeler | None = None, extract: Extract = "none", name: str | None = None):
        super().__init__(extract=extract, name=name)
        self.labeler = labeler if labeler is not None else get_labeler("rule")

    def _references(self, references: Sequence[str], ref_labels: Sequence[dict | None]) -> list[dict]:
        return labels_or_labelled(ref_labels, references, self.labeler)


@REWARDS.register("example_f1")
class ExampleF1Reward(LabelerReward):
    """DEER's reward: per-sample F1(C(o), C(y)) = 2TP / (2TP + FP + FN) over the 14 labels.

    ``uncertain`` maps uncertain labels (negative by default, as in evaluation); ``empty_match``
    scores a report with no positive finding against a reference with none: ``one`` (default
    for rewards: a correct normal report is right) or ``zero`` (PromptMRG's evaluation rule).
    """

    name = "example_f1"

    def __init__(self, labeler: CachedLabeler | None = None, uncertain: Literal["negative", "positive"] = "negative",
                 empty_match: Literal["zero", "one"] = "one", extract: Extract = "none", name: str | None = None):
        super().__init__(labeler, extract, name)
        self.uncertain = uncertain
        self.empty_match = empty_match

    def score(self, texts, references, ref_labels):
        pred = binarize(self.labeler.label_batch(texts), self.uncertain)
        ref = binarize(self._references(references, ref_labels), self.uncertain)
        return example_scores(pred, ref, self.empty_match)["f1"].tolist()


def mccs(z: np.ndarray, z_ref: np.ndarray, margin: float, eps: float = 1e-8) -> np.ndarray:
    """MRG-R1 Eq. 5-6 on signed (N, 13) vectors:
    CCS = <z, z*> / ((|z| + eps)(|z*| + eps));  MCCS = max((CCS - m) / (1 - m), 0)."""
    z = np.asarray(z, dtype=np.float64)
    z_ref = np.asarray(z_ref, dtype=np.float64)
    ccs = (z * z_ref).sum(-1) / ((np.linalg.norm(z, axis=-1) + eps) * (np.linalg.norm(z_ref, axis=-1) + eps))
    return np.maximum((ccs - margin) / (1.0 - margin), 0.0)


@REWARDS.register("mccs")
class MCCSReward(LabelerReward):
    """MRG-R1's margin CheXbert cosine similarity over the 13 findings (No Finding excluded),
    z = +1 positive/uncertain, -1 negative, 0 blank. ``margin`` m in (-1, 1); the paper does not
    print its value, radrl's default is 0.5 (configurable)."""

    name = "mccs"

    def __init__(self, labeler: CachedLabeler | None = None, margin: float = 0.5,
                 extract: Extract = "none", name: str | None = None):
        if not -1.0 < margin < 1.0:
            raise FieldError("margin", f"MCCS margin must lie in (-1, 1), got {margin}")
        super().__init__(labeler, extract, name)
        self.margin = margin

    def score(self, texts, references, ref_labels):
        z = [to_mccs_vector(lab) for lab in self.labeler.label_batch(texts)]
        z_ref = [to_mccs_vector(lab) for lab in self._references(references, ref_labels)]
        return mccs(np.array(z).reshape(len(texts), -1), np.array(z_ref).reshape(len(texts), -1),
                    self.margin).tolist()
