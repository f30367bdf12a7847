"""Rule-based CheXpert-14 labeler: radrl's fast offline default.

It follows the conventions of the CheXpert labeler (Irvin et al., 2019) in three stages:

1. **Mention extraction.** The report is normalised (lower case, ``XXXX`` de-identification
   tokens kept as a word, list numbering turned into sentence breaks) and split into sentences
   and clauses. Phrase lists (``rule_phrases``) find mentions of each observation.
2. **Classification of each mention**, in the CheXpert order: an uncertainty cue that contains
   a negation ("cannot be excluded") -> uncertain; else a negation cue in the mention's scope
   ("no", "without", "... is not seen") -> negative; else an uncertainty cue ("may", "possible",
   "... versus ...") -> uncertain; else positive. A cue's scope is the mention's clause: it
   ends at sentence ends, semicolons and words such as "but", "however", "which".
   Double negations such as "no change in the effusion" are not negations.
3. **Aggregation per report**: positive beats uncertain beats negative beats blank. No Finding is
   positive only when no observation other than Support Devices is positive or uncertain and
   no other abnormality (emphysema, scoliosis, granuloma, hernia, ...) is mentioned positively;
   otherwise blank. A heart-failure mention makes Cardiomegaly at least uncertain.

It runs at thousands of reports per second in one process (``bench/labeler_throughput.py``)
and keeps a cache keyed by the report text, since a GRPO group repeats reports often.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from radrl.labelers import rule_phrases as P
from radrl.labelers.base import CachedLabeler
from radrl.schema import (
    BLANK,
    NEGATIVE,
    NO_FINDING,
    OBSERVATIONS,
    POSITIVE,
    SUPPORT_DEVICES,
    UNCERTAIN,
    Labels,
    blank_labels,
)

OTHER = "Other finding"
"""Pseudo-observation for abnormalities outside the 14 (they only affect No Finding)."""

_RANK = {BLANK: 0, NEGATIVE: 1, UNCERTAIN: 2, POSITIVE: 3}
MAX_CHARS = 20_000
"""Longer inputs are cut: no real report is this long, and the cut keeps a 100 kB input fast."""


def _alternation(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


def _words(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{_alternation(patterns)})\b")


@dataclass(frozen=True)
class Mention:
    """One mention of an observation in a report, with the value its context gives it."""

    observation: str
    value: str
    start: int
    end: int
    text: str
    sentence: int


@dataclass(frozen=True)
class _Kind:
    observation: str
    fixed_value: str | None  # None: decided by the cues around the mention


def _compile_mentions() -> tuple[re.Pattern[str], list[_Kind]]:
    """One regex with a named group per (observation, kind); ``lastgroup`` says which matched.

    Within one alternation Python takes the first alternative that matches at a position, so
    negative/uncertain phrases ("heart size is normal") come before plain mentions ("heart").
    """
    kinds: list[_Kind] = []
    groups: list[str] = []

    def add(observation: str, fixed: str | None, patterns: list[str]) -> None:
        groups.append(f"(?P<k{len(kinds)}>{_alternation(patterns)})")
        kinds.append(_Kind(observation, fixed))

    for obs, pats in P.NEGATIVE_MENTIONS.items():
        add(obs, NEGATIVE, pats)
    for obs, pats in P.UNCERTAIN_MENTIONS.items():
        add(obs, UNCERTAIN, pats)
    for obs in OBSERVATIONS:
        if obs in P.MENTIONS:
            add(obs, None, P.MENTIONS[obs])
    add(OTHER, None, P.OTHER_FINDINGS)
    return re.compile(r"(?:" + "|".join(groups) + r")\b"), kinds


_MENTION_RE, _KINDS = _compile_mentions()
# Mentions start at word starts: trying the big alternation only there is ~1.5x faster than
# letting ``finditer`` try every character position.
_WORD_START_RE = re.compile(r"(?<![a-z0-9])(?=[a-z0-9])")
_IMPLIED_RE = {obs: _words(p) for obs, p in P.IMPLIED_UNCERTAIN.items()}
_SENTENCE_END_RE = re.compile(r"(?<!\d)[.!](?!\d)|[\n\r]+|(?:^|\s)\d{1,2}[.)](?=\s|$)|\?(?!\S)")
_TERMINATOR_RE = re.compile(rf"(?:;|:|\b(?:{_alternation(P.SCOPE_TERMINATORS)})\b)")
_PSEUDO_NEG_RE = _words(P.PSEUDO_NEGATIONS)
_NEG_BEFORE_RE = _words(P.NEGATION_BEFORE)
# A post-mention negation may follow a short coordination ("tube and ng tube have been removed").
_NEG_AFTER_RE = re.compile(rf"^\W*(?:(?:and|or|,)?\s*[\w/-]+\s+){{0,3}}?(?:{_alternation(P.NEGATION_AFTER)})\b")
_UNC_NEG_BEFORE_RE = _words(P.UNCERTAIN_BEFORE_NEGATION)
_UNC_NEG_AFTER_RE = re.compile(rf"^\W*(?:{_alternation(P.UNCERTAIN_AFTER_NEGATION)})")
_UNC_BEFORE_RE = re.compile(rf"(?:\b(?:{_alternation(P.UNCERTAIN_BEFORE)})\b|\?)")
_UNC_AFTER_RE = re.compile(rf"^\W*(?:{_alternation(P.UNCERTAIN_AFTER)})")
_DEID_RE = re.compile(r"x{3,}", re.IGNORECASE)
_SPACE_RE = re.compile(r"[ \t\f\v]+")


def normalize(text: str) -> str:
    """Lower-case, NFKC, de-identification runs (``XXXX``) as the word ``xxxx``, tidy spaces."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text[:MAX_CHARS]
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = _DEID_RE.sub("xxxx", text.lower())
    return _SPACE_RE.sub(" ", text)


def _find_mentions(text: str) -> list[re.Match[str]]:
    """Mentions at word starts, left to right, not overlapping; at one position the first
    alternative of ``_MENTION_RE`` that matches wins (absence/hedge phrases come first)."""
    out = []
    pos = 0
    match = _MENTION_RE.match
    for w in _WORD_START_RE.finditer(text):
        start = w.start()
        if start < pos:
            continue
        m = match(text, start)
        if m is not None:
            out.append(m)
            pos = m.end()
    return out


def _terminators(sentence_text: str) -> list[tuple[int, int, bool]]:
    return [(t.start(), t.end(), t.group() in (";", ":")) for t in _TERMINATOR_RE.finditer(sentence_text)]


def _classify(
    sentence_text: str, start: int, end: int, terminators: list[tuple[int, int, bool]] | None = None
) -> str:
    """Value of the mention at ``sentence_text[start:end]`` from the cues in its clause."""
    if terminators is None:
        terminators = _terminators(sentence_text)
    clause_start = 0
    clause_end = len(sentence_text)
    for t_start, t_end, is_punct in terminators:
        if t_end <= start:
            clause_start = t_end if is_punct else t_start
        elif t_start >= end:
            clause_end = t_start
            break
    before = sentence_text[clause_start:start]
    after = sentence_text[end:clause_end]
    if before:
        before = _PSEUDO_NEG_RE.sub(" ", before)
    after_neg = _PSEUDO_NEG_RE.sub(" ", after) if after else after
    if (before and _UNC_NEG_BEFORE_RE.search(before)) or (after and _UNC_NEG_AFTER_RE.match(after)):
        return UNCERTAIN
    if (before and _NEG_BEFORE_RE.search(before)) or (after_neg and _NEG_AFTER_RE.match(after_neg)):
        return NEGATIVE
    if (before and _UNC_BEFORE_RE.search(before)) or (after and _UNC_AFTER_RE.match(after)):
        return UNCERTAIN
    return POSITIVE


def _sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of normalised text."""
    spans = []
    pos = 0
    for m in _SENTENCE_END_RE.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


def extract_mentions(text: str) -> list[Mention]:
    """Every mention in the report with its value and sentence index (used by FactS too)."""
    norm = normalize(text)
    sentences = _sentences(norm)
    if not sentences:
        return []
    starts = [s for s, _ in sentences]
    mentions = []
    terminators: dict[int, list] = {}
    for m in _find_mentions(norm):
        kind = _KINDS[int(m.lastgroup[1:])]
        si = bisect.bisect_right(starts, m.start()) - 1
        s_start, s_end = sentences[si]
        if m.start() >= s_end:  # the match sits in a sentence break
            continue
        if kind.fixed_value is not None:
            value = kind.fixed_value
        else:
            sentence_text = norm[s_start:s_end]
            if si not in terminators:
                terminators[si] = _terminators(sentence_text)
            value = _classify(
                sentence_text, m.start() - s_start, min(m.end(), s_end) - s_start, terminators[si]
            )
        mentions.append(Mention(kind.observation, value, m.start(), m.end(), m.group(), si))
        if value != NEGATIVE:
            for obs, rx in _IMPLIED_RE.items():
                if rx.fullmatch(m.group()):
                    mentions.append(Mention(obs, UNCERTAIN, m.start(), m.end(), m.group(), si))
    return mentions


def aggregate(mentions: Sequence[Mention]) -> Labels:
    """Report-level labels: positive > uncertain > negative > blank; then the No Finding rule."""
    labels = {name: BLANK for name in OBSERVATIONS}
    other_abnormal = False
    for m in mentions:
        if m.observation == OTHER:
            other_abnormal |= m.value in (POSITIVE, UNCERTAIN)
        elif _RANK[m.value] > _RANK[labels[m.observation]]:
            labels[m.observation] = m.value
    abnormal = other_abnormal or any(
        labels[name] in (POSITIVE, UNCERTAIN)
        for name in OBSERVATIONS
        if name not in (NO_FINDING, SUPPORT_DEVICES)
    )
    labels[NO_FINDING] = BLANK if abnormal else POSITIVE
    return labels


class RuleLabeler(CachedLabeler):
    """The rule-based labeler. ``label_batch(texts)`` -> one ``{observation: value}`` per text."""

    name = "rule"

    def _label_uncached(self, texts: Sequence[str]) -> list[Labels]:
        # An empty report says nothing: every observation blank, No Finding included.
        return [aggregate(extract_mentions(t)) if t.strip() else blank_labels() for t in texts]


def _label_chunk(texts: list[str]) -> list[Labels]:
    return RuleLabeler(cache_size=0)._label_uncached(texts)


def label_in_processes(texts: Sequence[str], workers: int, chunk: int = 2048, on_chunk=None) -> list[Labels]:
    """The rule labels of ``texts`` computed by ``workers`` processes (each distinct text once);
    identical to ``RuleLabeler().label_batch(texts)``. For big files: the labeler is pure Python."""
    from concurrent.futures import ProcessPoolExecutor

    distinct = list(dict.fromkeys("" if t is None else str(t) for t in texts))
    parts = [distinct[i:i + chunk] for i in range(0, len(distinct), chunk)]
    done: dict[str, Labels] = {}
    with ProcessPoolExecutor(workers) as pool:
        for part, labels in zip(parts, pool.map(_label_chunk, parts)):
            done.update(zip(part, labels))
            if on_chunk is not None:
                on_chunk(len(part))
    return [dict(done["" if t is None else str(t)]) for t in texts]
