"""Labelers: read a report, give each CheXpert-14 observation a value.

``get_labeler("rule")`` is the fast offline default. The CheXbert-architecture labeler
(``"chexbert"``, official weights or one trained with ``radrl labeler train``) plugs in here.
Both are entries of the ``LABELERS`` registry (factories ``(weights, **options) -> labeler``);
``@LABELERS.register("mine")`` adds one that recipes and ``--labeler`` can name.
"""

from __future__ import annotations

from radrl.io import ConfigError
from radrl.labelers.base import CachedLabeler, labels_or_labelled
from radrl.labelers.rule import RuleLabeler, extract_mentions
from radrl.registry import Registry

LABELERS: Registry = Registry("labeler")


@LABELERS.register("rule")
def _rule(weights: str | None = None, **kwargs) -> CachedLabeler:
    if weights:
        raise ConfigError("the rule labeler takes no --weights")
    return RuleLabeler(**kwargs)


@LABELERS.register("chexbert")
def _chexbert(weights: str | None = None, **kwargs) -> CachedLabeler:
    from radrl.labelers.chexbert import ChexbertLabeler

    return ChexbertLabeler.from_checkpoint(weights, **kwargs)


def get_labeler(name: str = "rule", weights: str | None = None, **kwargs) -> CachedLabeler:
    """Build a labeler by name. ``weights`` is the checkpoint path of model-backed labelers."""
    return LABELERS.get(name)(weights, **kwargs)


def labeler_from_section(spec, device=None) -> CachedLabeler:
    """The labeler a recipe's ``labeler:`` section (``radrl.config.LabelerSection``) names, on
    ``device`` when it is model-backed. Trains nothing: the labeler stage does that first."""
    options = spec.options()
    if spec.name != "rule" and device is not None:
        options.setdefault("device", str(device))
    return get_labeler(spec.name, spec.weights, **options)


__all__ = ["LABELERS", "CachedLabeler", "RuleLabeler", "extract_mentions", "get_labeler", "labeler_from_section", "labels_or_labelled"]
