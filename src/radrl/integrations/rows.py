"""The ground truth an engine hands a reward function, turned into the rows radrl scores.

Engines carry one ground-truth value per prompt. ``radrl export`` writes it as

* the reference report (verl's ``reward_model.ground_truth``, ms-swift's ``solution``), with
  the sections and gold labels beside it (verl's ``extra_info``, ms-swift's dataset columns);
* or, for engines that carry nothing else (EasyR1's ``answer``, OpenRLHF's ``label``), a JSON
  object ``{"reference", "reference_findings", "reference_impression", "labels"}``.

:func:`scoring_row` reads both, so a plain reference string works too.
"""

from __future__ import annotations

import json
from typing import Any

from radrl.data.sections import join_sections
from radrl.io import InputError
from radrl.schema import normalize_labels

GROUND_TRUTH_KEYS = ("reference", "reference_findings", "reference_impression", "labels")


def ground_truth_payload(reference: str, findings: str | None = None, impression: str | None = None,
                         labels: dict | None = None) -> str:
    """The JSON ground truth of engines that carry one string (EasyR1, OpenRLHF)."""
    return json.dumps({"reference": reference, "reference_findings": findings, "reference_impression": impression,
                       "labels": labels}, ensure_ascii=False)


def _labels(value: Any) -> dict | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError("labels: not a JSON object (observation -> value)") from None
    if not isinstance(value, dict):
        raise InputError("labels: must be an object (observation -> value)")
    try:
        return normalize_labels(value)
    except ValueError as err:
        raise InputError(f"labels: {err}") from None


def _parse(ground_truth: Any) -> dict:
    """A JSON payload (an object with ``reference`` or the sections), or the plain reference."""
    if isinstance(ground_truth, dict):
        return dict(ground_truth)
    text = "" if ground_truth is None else str(ground_truth)
    if text.lstrip().startswith("{"):
        try:
            payload = json.loads(text)
        except json.JSONDecodeError:
            payload = None
        if isinstance(payload, dict) and set(payload) & set(GROUND_TRUTH_KEYS):
            return payload
    return {"reference": text}


def scoring_row(prediction: str, ground_truth: Any, extra: dict | None = None) -> dict:
    """One row for :class:`~radrl.rewards.offline.RewardScorer`: ``prediction``, ``reference``
    (or the joined sections), ``reference_findings``, ``reference_impression``, ``labels``.
    ``extra`` (verl's ``extra_info``, ms-swift's columns) fills what the ground truth lacks."""
    fields = _parse(ground_truth)
    for key in GROUND_TRUTH_KEYS:
        if fields.get(key) in (None, "") and extra and extra.get(key) not in (None, ""):
            fields[key] = extra[key]
    for key in GROUND_TRUTH_KEYS[:3]:
        if fields.get(key) is not None and not isinstance(fields[key], str):
            raise InputError(f"ground truth: {key} must be text or null, not {type(fields[key]).__name__}")
    findings, impression = fields.get("reference_findings") or None, fields.get("reference_impression") or None
    reference = fields.get("reference") or join_sections(findings, impression) or ""
    if not reference.strip():
        raise InputError("ground truth: no reference report (reference, or reference_findings and "
                         "reference_impression, all empty or missing). Scored against nothing, every reward "
                         "would be 0: check that the engine passes the dataset's label / ground-truth column "
                         "(radrl export writes it)")
    return {"prediction": "" if prediction is None else str(prediction), "reference": str(reference),
            "reference_findings": findings, "reference_impression": impression,
            "labels": _labels(fields.get("labels"))}


def nan_for_none(components: dict[str, float | None]) -> dict[str, float]:
    """Engines log a metric per key and need a number in every row: a failed reward is NaN."""
    return {k: float("nan") if v is None else float(v) for k, v in components.items()}
