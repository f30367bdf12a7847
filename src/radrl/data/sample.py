"""The data sample every loader produces and every trainer consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Sample:
    """One study (or one image of it, with the per-image view policy).

    ``report`` is the text the model learns to write (FINDINGS, or FINDINGS + IMPRESSION,
    depending on the loader's ``target``); ``findings`` / ``impression`` are the sections when
    known; ``labels`` the ground-truth CheXpert-14 labels when known; ``meta`` anything else
    (split, view, patient id, ...).
    """

    id: str
    images: list[str]
    report: str
    findings: str | None = None
    impression: str | None = None
    labels: dict[str, str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        return cls(
            id=str(d["id"]),
            images=list(d.get("images") or []),
            report=d.get("report") or "",
            findings=d.get("findings"),
            impression=d.get("impression"),
            labels=d.get("labels"),
            meta=dict(d.get("meta") or {}),
        )
