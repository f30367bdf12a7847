"""Split a free-text radiology report into FINDINGS and IMPRESSION.

Headers are matched case-insensitively at a line start or after a sentence end, with or without
a colon: FINDINGS / FINDING / FINDINGS AND IMPRESSION / REPORT for findings; IMPRESSION /
IMPRESSIONS / CONCLUSION(S) / SUMMARY / OPINION / DIAGNOSIS for the impression. Other headers
(INDICATION, HISTORY, COMPARISON, TECHNIQUE, EXAMINATION, NOTIFICATION, ...) end a section and
are dropped. A report without any recognised header is returned as ``Sections(findings=None,
impression=None, body=text)``: callers decide what to do with it (RadFlow scores it globally).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FINDINGS = r"findings?(?:\s+and\s+impressions?)?|report|description"
_IMPRESSION = r"impressions?|conclusions?|summary|opinion|diagnosis|interpretation"
_OTHER = (r"indications?|clinical\s+(?:history|information|indication)|history|reason\s+for\s+(?:exam|study)|"
          r"comparisons?|technique|examination|exam|procedure|notification|recommendations?|wet\s+read|"
          r"addendum|final\s+report|type\s+of\s+exam")
_HEADER = re.compile(
    rf"(?:^|(?<=[\n.]))[ \t]*(?P<name>{_FINDINGS}|{_IMPRESSION}|{_OTHER})[ \t]*:[ \t]*"
    rf"|^[ \t]*(?P<bare>{_FINDINGS}|{_IMPRESSION})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_FINDINGS_RE = re.compile(rf"^(?:{_FINDINGS})$", re.IGNORECASE)
_IMPRESSION_RE = re.compile(rf"^(?:{_IMPRESSION})$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Sections:
    findings: str | None
    impression: str | None
    body: str  # text before the first header (or everything when there is none)

    @property
    def has_both(self) -> bool:
        return bool(self.findings) and bool(self.impression)


def _tidy(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def split_sections(text: str | None) -> Sections:
    """FINDINGS and IMPRESSION of a report (``None`` when a section is absent or empty)."""
    text = text or ""
    matches = list(_HEADER.finditer(text))
    if not matches:
        return Sections(None, None, _tidy(text))
    findings: list[str] = []
    impression: list[str] = []
    for i, m in enumerate(matches):
        name = re.sub(r"\s+", " ", (m.group("name") or m.group("bare")).lower())
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        content = _tidy(text[m.end() : end])
        if _FINDINGS_RE.match(name):
            findings.append(content)
        elif _IMPRESSION_RE.match(name):
            impression.append(content)
    body = _tidy(text[: matches[0].start()])
    f = " ".join(x for x in findings if x) or None
    imp = " ".join(x for x in impression if x) or None
    return Sections(f, imp, body)


def join_sections(findings: str | None, impression: str | None) -> str:
    """FINDINGS then IMPRESSION as one text (the labeler's input for a whole report)."""
    return " ".join(s.strip() for s in (findings, impression) if s and s.strip())


def format_sections(findings: str | None, impression: str | None) -> str:
    """``FINDINGS: ... IMPRESSION: ...`` on one line, the form a model learns to write when it
    must produce both sections (``split_sections`` reads it back)."""
    parts = []
    if findings and findings.strip():
        parts.append(f"FINDINGS: {findings.strip()}")
    if impression and impression.strip():
        parts.append(f"IMPRESSION: {impression.strip()}")
    return " ".join(parts)
