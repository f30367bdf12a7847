"""Labelers: read a report, give each CheXpert-14 observation a value.

``get_labeler("rule")`` is the fast offline default. The CheXbert-architecture labeler
(``"chexbert"``, official weights or one trained with ``radrl labeler train``) plugs in here.
"""

from __future__ import annotations

from radrl.labelers.base import CachedLabeler
from radrl.labelers.rule import RuleLabeler, extract_mentions

LABELERS = ("rule", "chexbert")


def get_labeler(name: str = "rule", weights: str | None = None, **kwargs) -> CachedLabeler:
    """Build a labeler by name. ``weights`` is the checkpoint path of model-backed labelers."""
    if name == "rule":
        if weights:
            raise ValueError("the rule labeler takes no --weights")
        return RuleLabeler(**kwargs)
    if name == "chexbert":
        try:
            from radrl.labelers.chexbert import ChexbertLabeler
        except ImportError:
            raise ValueError(
                "the CheXbert labeler is not part of this radrl version yet; use --labeler rule"
            ) from None
        return ChexbertLabeler.from_checkpoint(weights, **kwargs)
    raise ValueError(f"unknown labeler {name!r}; choose one of {', '.join(LABELERS)}")


__all__ = ["LABELERS", "CachedLabeler", "RuleLabeler", "extract_mentions", "get_labeler"]
