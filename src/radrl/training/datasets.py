"""Samples → TRL's conversational prompt/completion datasets with lazily decoded images."""

from __future__ import annotations

from collections.abc import Sequence

from radrl.data.sample import Sample
from radrl.models.prompts import DEFAULT_INSTRUCTION, completion_messages, prompt_messages


def to_trl_dataset(samples: Sequence[Sample], instruction: str = DEFAULT_INSTRUCTION,
                   with_completion: bool = True, system: str | None = None):
    """A ``datasets.Dataset`` with ``images`` (decoded from the files on access), ``prompt``,
    ``completion`` (when ``with_completion``), ``id``, ``reference``, ``gt_labels`` (JSON, empty when the sample has none),
    ``reference_findings`` and ``reference_impression`` (empty when unknown). When no sample has an
    image, there is no ``images`` column: TRL trains such a dataset as text (the pipeline's ``lm_pretrain``)."""
    import json

    from datasets import Dataset, Image
    from datasets import Sequence as HFSequence

    if not samples:
        raise ValueError("no samples to build a dataset from")
    rows = {
        "id": [s.id for s in samples],
        "images": [list(s.images) for s in samples],
        "prompt": [prompt_messages(len(s.images), instruction, system) for s in samples],
        "reference": [s.report for s in samples],
        "gt_labels": [json.dumps(s.labels) if s.labels else "" for s in samples],
        # the sections, where the loader knows them (RadFlow's R_imp and R_domain read them)
        "reference_findings": [s.findings or "" for s in samples],
        "reference_impression": [s.impression or "" for s in samples],
    }
    if with_completion:
        rows["completion"] = [completion_messages(s.report) for s in samples]
    if not any(s.images for s in samples):
        del rows["images"]
        return Dataset.from_dict(rows)
    ds = Dataset.from_dict(rows)
    return ds.cast_column("images", HFSequence(Image()))
