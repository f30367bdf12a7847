"""One entry point for every dataset kind: ``load_dataset(kind, path, split=...)``.

=================  ===========================================  =====================
kind               path                                         splits
=================  ===========================================  =====================
``synthetic``      folder written by ``radrl synth``            train / val / test
``r2gen``          R2Gen ``annotation.json`` (IU X-Ray, MIMIC)  train / val / test
``chexpert_plus``  CheXpert Plus CSV                            train / valid
``openi``          ``NLMCXR_reports.tgz`` or its folder         (none: all reports)
``records``        generic ``.jsonl`` / ``.csv``                (none: all rows)
=================  ===========================================  =====================
"""

from __future__ import annotations

from pathlib import Path

from radrl.data.loaders import load_chexpert_plus, load_openi, load_r2gen, load_records
from radrl.data.sample import Sample

KINDS = ("synthetic", "r2gen", "chexpert_plus", "openi", "records")


def load_dataset(kind: str, path: str | Path, split: str | None = "train", limit: int | None = None,
                 **options) -> list[Sample]:
    """Samples of ``split`` (ignored by kinds without splits); ``options`` go to the loader
    (``views``, ``target``, ``image_root``, ``strict``, ``check_images``)."""
    if kind == "synthetic":
        from radrl.data.synthetic import load_synthetic

        samples = load_synthetic(path, split or "train", target=options.get("target", "both"))
    elif kind == "r2gen":
        samples = load_r2gen(path, split=split, **options)
    elif kind == "chexpert_plus":
        samples = load_chexpert_plus(path, split=split, **options)
    elif kind == "openi":
        samples = load_openi(path, **options)
    elif kind == "records":
        samples = load_records(path, **options)
    else:
        raise ValueError(f"unknown dataset kind {kind!r}; use one of {', '.join(KINDS)}")
    return samples[:limit] if limit is not None else samples
