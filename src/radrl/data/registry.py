"""One entry point for every dataset kind: ``load_dataset(kind, path, split=...)``.

=================  ===========================================  =====================
kind               path                                         splits
=================  ===========================================  =====================
``synthetic``      folder written by ``radrl synth``            train / val / test
``r2gen``          R2Gen ``annotation.json`` (IU X-Ray, MIMIC)  train / val / test
``mimic_cxr``      MIMIC-CXR's official layout (its folder)     train / val / test
``chexpert_plus``  CheXpert Plus CSV                            train / valid
``openi``          ``NLMCXR_reports.tgz`` or its folder         (none: all reports)
``records``        generic ``.jsonl`` / ``.csv``                its ``split`` column (none: all rows)
=================  ===========================================  =====================

Kinds are entries of the ``DATASETS`` registry: a loader ``(path, split=..., **options) ->
list[Sample]``; ``@DATASETS.register("mine")`` adds one that ``--data mine:PATH`` and recipes
(``data: {kind: mine}``) can name. Its keyword parameters are the options a recipe's
``data.options`` and ``--data-option`` may set, checked by :func:`loader_options`.
"""

from __future__ import annotations

from pathlib import Path

from radrl.data.loaders import load_chexpert_plus, load_openi, load_r2gen, load_records
from radrl.data.mimic_cxr import load_mimic_cxr
from radrl.data.sample import Sample
from radrl.registry import Registry

DATASETS: Registry = Registry("dataset kind")


@DATASETS.register("synthetic")
def load_synthetic_split(path, split: str | None = "train", target: str = "both",
                         image_root: str | None = None) -> list[Sample]:
    from radrl.data.synthetic import load_synthetic

    return load_synthetic(path, split or "train", target=target, image_root=image_root)


DATASETS.register("r2gen", load_r2gen)


DATASETS.register("mimic_cxr", load_mimic_cxr)
DATASETS.register("chexpert_plus", load_chexpert_plus)
DATASETS.register("records", load_records)  # a split column is honoured; without one, every row


@DATASETS.register("openi")
def load_openi_reports(path, split: str | None = None, **options) -> list[Sample]:
    return load_openi(path, **options)  # no splits: every report


load_openi_reports.options_of = load_openi


def loader_options(kind: str) -> dict:
    """Option name -> spec of a kind's loader (what ``data.options`` and ``--data-option`` may
    hold): the keyword parameters of the registered loader, or of the function it forwards its
    ``**options`` to when it names one as ``options_of``; the same for a user's own kind."""
    from radrl.config.fields import signature_specs

    loader = DATASETS.get(kind)
    specs = signature_specs(getattr(loader, "options_of", loader))
    for positional in list(specs)[:1] + ["split"]:  # the path, and the split the section names itself
        specs.pop(positional, None)
    return specs


def load_dataset(kind: str, path: str | Path, split: str | None = "train", limit: int | None = None,
                 **options) -> list[Sample]:
    """Samples of ``split`` (ignored by kinds without splits); ``options`` go to the loader
    (``views``, ``target``, ``image_root``, ``strict``, ``check_images``)."""
    samples = DATASETS.get(kind)(path, split=split, **options)
    return samples[:limit] if limit is not None else samples
