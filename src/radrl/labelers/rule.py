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

Speed: the phrases are tried only where their first letters fit (:mod:`prefix_dispatch`), the
mentions of each sentence are cached by its text (reports repeat sentences: 62 % of the IU
sentences repeat an earlier one), and a cache keyed by the report text serves a GRPO group's
repeated reports. ``radrl label`` labels >= 10,000 distinct reports/s on 2 cores
(``bench/label_cli_throughput.py``); the fast paths give labels identical to plain matching
(``tests/test_rule_labeler.py``).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from radrl.labelers import rule_phrases as P
from radrl.labelers.base import CachedLabeler
from radrl.labelers.prefix_dispatch import PrefixDispatch
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


_WORD_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
_WORD_START = r"(?<![a-z0-9])(?=[a-z0-9])"
"""Mentions are only looked for at word starts (letters and digits after normalisation)."""


def _compile_mentions() -> tuple[PrefixDispatch, list[_Kind]]:
    """One alternation with a named group per (observation, kind); ``lastgroup`` says which
    matched. Matched through :class:`PrefixDispatch`: only the phrases that can start with a
    position's first letters are tried there (identical matches, ~3x faster).

    Within one alternation Python takes the first alternative that matches at a position, so
    negative/uncertain phrases ("heart size is normal") come before plain mentions ("heart").
    """
    kinds: list[_Kind] = []
    alternatives: list[tuple[str, str]] = []

    def add(observation: str, fixed: str | None, patterns: list[str]) -> None:
        alternatives.extend((f"k{len(kinds)}", f"(?:{p})") for p in patterns)
        kinds.append(_Kind(observation, fixed))

    for obs, pats in P.NEGATIVE_MENTIONS.items():
        add(obs, NEGATIVE, pats)
    for obs, pats in P.UNCERTAIN_MENTIONS.items():
        add(obs, UNCERTAIN, pats)
    for obs in OBSERVATIONS:
        if obs in P.MENTIONS:
            add(obs, None, P.MENTIONS[obs])
    add(OTHER, None, P.OTHER_FINDINGS)
    return PrefixDispatch(alternatives, suffix=r"\b", k=4, first=_WORD_CHARS,
                          at=_WORD_START), kinds


_MENTIONS, _KINDS = _compile_mentions()
_MENTION_RE = _MENTIONS.full_pattern()
"""The whole mention alternation as one pattern: what ``_MENTIONS.match`` equals (tests)."""
_WORD_START_RE = re.compile(_WORD_START)
_IMPLIED_RE = {obs: _words(p) for obs, p in P.IMPLIED_UNCERTAIN.items()}
_SENTENCE_END_RE = re.compile(r"(?<!\d)[.!](?!\d)|[\n\r]+|(?:^|\s)\d{1,2}[.)](?=\s|$)|\?(?!\S)")
# The same breaks for text that does not start with a digit (no ``^1.`` list number), written
# so that the engine first checks one character: ~3x faster.
_SENTENCE_END_MID_RE = re.compile(
    r"[.!?\s](?:(?<=[.!])(?<!\d[.!])(?!\d)|(?<=[\n\r])[\n\r]*|(?<=\s)\d{1,2}[.)](?=\s|$)|(?<=\?)(?!\S))"
)
_TERMINATOR_RE = re.compile(rf"(?:;|:|\b(?:{_alternation(P.SCOPE_TERMINATORS)})\b)")
_PSEUDO_NEG_RE = _words(P.PSEUDO_NEGATIONS)
_NEG_BEFORE_RE = _words(P.NEGATION_BEFORE)
# A post-mention negation may follow a short coordination ("tube and ng tube have been removed").
_NEG_AFTER_RE = re.compile(rf"^\W*(?:(?:and|or|,)?\s*[\w/-]+\s+){{0,3}}?(?:{_alternation(P.NEGATION_AFTER)})\b")
_UNC_NEG_BEFORE_RE = _words(P.UNCERTAIN_BEFORE_NEGATION)
_UNC_NEG_AFTER_RE = re.compile(rf"^\W*(?:{_alternation(P.UNCERTAIN_AFTER_NEGATION)})")
_UNC_BEFORE_RE = re.compile(rf"(?:\b(?:{_alternation(P.UNCERTAIN_BEFORE)})\b|\?)")
_UNC_AFTER_RE = re.compile(rf"^\W*(?:{_alternation(P.UNCERTAIN_AFTER)})")
_DEID_RE = re.compile(r"x{3,}")  # on lower-cased text (only "X" folds to "x")
_SPACE_RE = re.compile(r"[ \t\f\v]+")


def normalize(text: str) -> str:
    """Lower-case, NFKC, de-identification runs (``XXXX``) as the word ``xxxx``, tidy spaces."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text[:MAX_CHARS]
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    if "xxx" in text:
        text = _DEID_RE.sub("xxxx", text)
    if "  " in text or "\t" in text or "\f" in text or "\v" in text:
        text = _SPACE_RE.sub(" ", text)
    return text


def _find_mentions(text: str) -> list[re.Match[str]]:
    """Mentions at word starts, left to right, not overlapping; at one position the first
    alternative of ``_MENTION_RE`` that matches wins (absence/hedge phrases come first)."""
    return _MENTIONS.scan(text)


def _terminators(sentence_text: str) -> list[tuple[int, int, bool]]:
    return [(t.start(), t.end(), t.group() in (";", ":")) for t in _TERMINATOR_RE.finditer(sentence_text)]


_PSEUDO_NEG_WORDS = ("no", "with", "unchanged", "gram")
"""Every pseudo-negation holds one of these ("not", "cannot" hold "no"; "without" holds "with"):
text without them needs no substitution (a test checks each phrase)."""


def _blank_pseudo_negations(text: str) -> str:
    if "no" in text or "with" in text or "unchanged" in text or "gram" in text:
        return _PSEUDO_NEG_RE.sub(" ", text)
    return text


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
    before = _blank_pseudo_negations(sentence_text[clause_start:start])
    after = sentence_text[end:clause_end]
    after_neg = _blank_pseudo_negations(after)
    if (before and _UNC_NEG_BEFORE_RE.search(before)) or (after and _UNC_NEG_AFTER_RE.match(after)):
        return UNCERTAIN
    if (before and _NEG_BEFORE_RE.search(before)) or (after_neg and _NEG_AFTER_RE.match(after_neg)):
        return NEGATIVE
    if (before and _UNC_BEFORE_RE.search(before)) or (after and _UNC_AFTER_RE.match(after)):
        return UNCERTAIN
    return POSITIVE


def _sentence_ends(text: str) -> re.Pattern[str]:
    return _SENTENCE_END_RE if text[:1].isdigit() else _SENTENCE_END_MID_RE


def _sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of normalised text."""
    spans = []
    pos = 0
    for m in _sentence_ends(text).finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


_Found = tuple[str, str, int, int, str]
"""(observation, value, start, end, text) of one mention, offsets within its sentence."""
_SENTENCE_CACHE: dict[str, tuple[_Found, ...]] = {}
_SENTENCE_CACHE_SIZE = 200_000
"""Mentions per distinct sentence (reports repeat sentences heavily: generated ones most)."""


def _mentions_in(text: str, sentences: list[tuple[int, int]]) -> list[tuple[int, _Found]]:
    """(sentence index, mention) over ``text``, mentions matched on the whole text (left to
    right, not overlapping, a match may run over a line break) with offsets in ``text``."""
    starts = [s for s, _ in sentences]
    found: list[tuple[int, _Found]] = []
    terminators: dict[int, list] = {}
    for m in _find_mentions(text):
        kind = _KINDS[int(m.lastgroup[1:])]
        si = bisect.bisect_right(starts, m.start()) - 1
        s_start, s_end = sentences[si]
        if m.start() >= s_end:  # the match sits in a sentence break
            continue
        if kind.fixed_value is not None:
            value = kind.fixed_value
        else:
            sentence_text = text[s_start:s_end]
            if si not in terminators:
                terminators[si] = _terminators(sentence_text)
            value = _classify(
                sentence_text, m.start() - s_start, min(m.end(), s_end) - s_start, terminators[si]
            )
        group = m.group()
        found.append((si, (kind.observation, value, m.start(), m.end(), group)))
        if value != NEGATIVE:
            for obs, rx in _IMPLIED_RE.items():
                if rx.fullmatch(group):
                    found.append((si, (obs, UNCERTAIN, m.start(), m.end(), group)))
    return found


def _sentence_mentions(sentence: str) -> tuple[_Found, ...]:
    """The mentions of one sentence, offsets within it; cached by the sentence's text."""
    found = _SENTENCE_CACHE.get(sentence)
    if found is None:
        found = tuple(f for _, f in _mentions_in(sentence, [(0, len(sentence))]))
        if len(_SENTENCE_CACHE) >= _SENTENCE_CACHE_SIZE:
            _SENTENCE_CACHE.clear()
        _SENTENCE_CACHE[sentence] = found
    return found


def _found_mentions(norm: str) -> list[tuple[int, int, _Found]]:
    """(sentence index, sentence start, mention) of normalised text.

    Without line breaks no phrase can run from one sentence into the next (phrases hold no
    ``.``, ``!`` or ``?``; a list number is preceded by a space and followed by ``.``/``)``),
    so each sentence is matched on its own and cached by its text: identical results, and a
    sentence seen before costs a dictionary lookup. With line breaks (``\\s`` in a phrase may
    cross one) the whole text is matched at once, as always."""
    sentences = _sentences(norm)
    if not sentences:
        return []
    if "\n" in norm or "\r" in norm:
        return [(si, 0, f) for si, f in _mentions_in(norm, sentences)]
    return [(si, start, f) for si, (start, end) in enumerate(sentences)
            for f in _sentence_mentions(norm[start:end])]


def extract_mentions(text: str) -> list[Mention]:
    """Every mention in the report with its value and sentence index (used by FactS too)."""
    return [Mention(obs, value, offset + start, offset + end, group, si)
            for si, offset, (obs, value, start, end, group) in _found_mentions(normalize(text))]


def _aggregate_values(pairs: Iterable[tuple[str, str]]) -> Labels:
    labels = {name: BLANK for name in OBSERVATIONS}
    other_abnormal = False
    for observation, value in pairs:
        if observation == OTHER:
            other_abnormal |= value in (POSITIVE, UNCERTAIN)
        elif _RANK[value] > _RANK[labels[observation]]:
            labels[observation] = value
    abnormal = other_abnormal or any(
        labels[name] in (POSITIVE, UNCERTAIN)
        for name in OBSERVATIONS
        if name not in (NO_FINDING, SUPPORT_DEVICES)
    )
    labels[NO_FINDING] = BLANK if abnormal else POSITIVE
    return labels


def aggregate(mentions: Sequence[Mention]) -> Labels:
    """Report-level labels: positive > uncertain > negative > blank; then the No Finding rule."""
    return _aggregate_values((m.observation, m.value) for m in mentions)


def label_report(text: str) -> Labels:
    """``aggregate(extract_mentions(text))`` without building the mentions (the labeler's hot
    path); an empty report says nothing: every observation blank, No Finding included."""
    if not text.strip():
        return blank_labels()
    norm = normalize(text)
    if "\n" in norm or "\r" in norm:
        return _aggregate_values((f[0], f[1]) for _, _, f in _found_mentions(norm))
    # The sentences' texts are the non-empty pieces between sentence ends (``_sentences``).
    cache = _SENTENCE_CACHE
    values = []
    for sentence in _sentence_ends(norm).split(norm):
        if sentence:
            found = cache.get(sentence)
            if found is None:
                found = _sentence_mentions(sentence)
            values.extend((f[0], f[1]) for f in found)
    return _aggregate_values(values)


class RuleLabeler(CachedLabeler):
    """The rule-based labeler. ``label_batch(texts)`` -> one ``{observation: value}`` per text."""

    name = "rule"

    def clear_cache(self) -> None:
        """Forget labelled reports and the (process-wide) mentions of known sentences."""
        super().clear_cache()
        _SENTENCE_CACHE.clear()

    def _label_uncached(self, texts: Sequence[str]) -> list[Labels]:
        return [label_report(t) for t in texts]


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
