"""A big leftmost-first alternation, matched through only the alternatives that can start there.

The rule labeler tries one regular expression with some 400 alternatives at every word start of
a report. Python's ``re`` tries the alternatives one after the other, so most of the labeler's
time went into alternatives that fail on their first letters. :class:`PrefixDispatch` reads
each alternative's parse tree (``re._parser``) once and works out every string of ``K``
characters its matches can begin with (an over-approximation: anything it cannot bound, such as
``\\w`` at the start, puts the alternative in every bucket). At a position it compiles, once per
distinct ``K``-character key, the alternation of only the alternatives whose prefix set allows
that key, in their original order, and matches that.

The result is identical to matching the whole alternation: an alternative left out cannot match
at that position, and the kept ones keep their order, so leftmost-first still picks the same
alternative and the same text. ``tests/test_rule_labeler.py`` checks this against the full
pattern on real reports and on random text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from re import _constants as C
from re import _parser as sre_parse

# ``\s`` of a str pattern: ASCII white space plus Unicode's (what ``str.isspace`` accepts).
_SPACE_CHARS = "".join(chr(i) for i in [*range(9, 14), *range(28, 33), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                                        0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
_MAX_CLASS = 64  # a wider character class (``\w``, a negated class) stands for any character
ANY = "\x00"
"""In a listed prefix: any character (``.``, ``\\w``, a negated class ...)."""
_MAX_STRINGS = 50_000  # more prefixes than this: unbounded (keeps the build fast)


class _Unbounded(Exception):
    """The prefixes of this piece cannot be listed; its alternative goes in every bucket."""


def _class_chars(items: list) -> str:
    chars: list[str] = []
    for op, av in items:
        if op is C.LITERAL:
            chars.append(chr(av))
        elif op is C.RANGE:
            lo, hi = av
            if hi - lo >= _MAX_CLASS:
                return ANY
            chars.extend(chr(i) for i in range(lo, hi + 1))
        elif op is C.CATEGORY and av in (C.CATEGORY_SPACE, C.CATEGORY_UNI_SPACE):
            chars.extend(_SPACE_CHARS)
        else:  # NEGATE, \w, \d (Unicode digits), ...
            return ANY
    return "".join(chars)


def _concat(heads: set[str], tail, k: int, first: frozenset[str] | None) -> set[str]:
    """Prefixes of ``head`` followed by ``tail``. ``tail(n, first)`` lists the tail's prefixes of
    ``n`` characters (whose first character is in ``first``, when given); it is computed only
    for heads shorter than ``k``. ``first`` applies only where nothing is consumed yet ("")."""
    out = {h for h in heads if len(h) >= k}
    if "" in heads:
        out.update(t[:k] for t in tail(k, first))
    short = [h for h in heads if 0 < len(h) < k]
    if short:
        tails = tail(k - min(len(h) for h in short), None)
        for h in short:
            out.update((h + t)[:k] for t in tails)
    if len(out) > _MAX_STRINGS:
        raise _Unbounded
    return out


def _sequence(items, k: int, first: frozenset[str] | None) -> set[str]:
    strings = {""}
    for op, av in items:
        strings = _concat(strings, lambda n, f, op=op, av=av: _item(op, av, n, f), k, first)
    return strings


def _item(op, av, k: int, first: frozenset[str] | None) -> set[str]:
    """Strings of at most ``k`` characters: a shorter one is a whole match, a ``k``-long one a
    match's first ``k`` characters; with ``first``, only those starting with one of its
    characters (and the empty match)."""
    if op is C.LITERAL:
        c = chr(av)
        return {c} if first is None or c in first else set()
    if op is C.IN:
        chars = _class_chars(av)
        return {c for c in chars if first is None or c in first or c == ANY}
    if op in (C.ANY, C.NOT_LITERAL):
        return {ANY}
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):  # zero width (a lookaround only narrows: ignore it)
        return {""}
    if op is C.SUBPATTERN:
        return _sequence(av[-1], k, first)
    if op is C.BRANCH:
        out = set()
        for branch in av[1]:
            out |= _sequence(branch, k, first)
        return out
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) or op is getattr(C, "POSSESSIVE_REPEAT", None):
        low, high, body = av
        out: set[str] = set()
        current = {""}
        count = 0
        while True:
            if count >= low:
                out |= current
            if count >= high or (count >= low and all(len(s) >= k for s in current)):
                return out
            grown = _concat(current, lambda n, f: _sequence(body, n, f), k, first)
            if count >= low and grown == current:  # the body only matches "": nothing new
                return out
            current = grown
            count += 1
    if op is getattr(C, "ATOMIC_GROUP", None):
        return _sequence(av, k, first)
    raise _Unbounded  # GROUPREF, ...


def prefixes(pattern: str, k: int, first: str | None = None) -> set[str] | None:
    """Every string of ``k`` characters a match of ``pattern`` can begin with, plus every whole
    match shorter than ``k``; with ``first``, only those whose first character is one of
    ``first``'s (and the empty match). :data:`ANY` in a string stands for any character.
    None when that cannot be bounded."""
    try:
        return _sequence(sre_parse.parse(pattern), k, None if first is None else frozenset(first))
    except _Unbounded:
        return None


def _fits(prefix: str, key: str) -> bool:
    """Whether text starting with ``key`` (``k`` characters, fewer at the end of the text) can
    start with ``prefix`` (a whole match when shorter than ``k``)."""
    return len(prefix) <= len(key) and all(p == ANY or p == c for p, c in zip(prefix, key))


def _trie(words: set[str]) -> str:
    """A regular expression matching exactly ``words``, as a trie (one branch per letter)."""
    root: dict = {}
    for word in words:
        node = root
        for c in word:
            node = node.setdefault(c, {})
        node[""] = {}

    def char(c: str) -> str:
        return r"[\s\S]" if c == ANY else re.escape(c)

    def emit(node: dict) -> str:
        ends = "" in node
        leaves = sorted(c for c, sub in node.items() if c and list(sub) == [""])
        branches = [char(c) + emit(sub) for c, sub in sorted(node.items()) if c and list(sub) != [""]]
        if leaves:
            branches.append(char(leaves[0]) if len(leaves) == 1 else
                            "[" + "".join(char(c)[1:-1] if c == ANY else re.escape(c) for c in leaves) + "]")
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return emit(root)


class PrefixDispatch:
    """``match(text, pos)`` equal to ``full_pattern().match(text, pos)``, but each position tries
    only the alternatives that can start there.

    ``alternatives`` are ``(group, pattern)`` pairs in order: consecutive patterns with the same
    group name form one named group (``lastgroup`` says which matched); ``group`` None for none.
    A pattern must be self-contained (no group references, no named groups of its own).

    ``first``: the characters a position passed to ``match`` usually starts with (the rule
    labeler calls it at word starts: ``[a-z0-9]``). Prefixes are listed for those only, which
    keeps the tables small; at any other position ``match`` uses the full pattern.
    ``at``: a zero-width pattern for the positions ``scan`` tries (e.g. a word start).
    """

    def __init__(self, alternatives: Sequence[tuple[str | None, str]], suffix: str = "", k: int = 3,
                 first: str | None = None, at: str = ""):
        self.alternatives = [(name, pattern) for name, pattern in alternatives]
        names = [name for i, (name, _) in enumerate(self.alternatives)
                 if name is not None and (i == 0 or self.alternatives[i - 1][0] != name)]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"group {name!r}: its patterns must be consecutive")
        self.suffix = suffix
        self.k = k
        self.first = None if first is None else frozenset(first)
        found = [prefixes(pattern, k, first) for _, pattern in self.alternatives]
        self._always = [i for i, p in enumerate(found) if p is None]
        self._by_key: dict[str, list[int]] = {}
        self._short: list[tuple[str, int]] = []  # shorter than k, or holding ANY
        for i, strings in enumerate(found):
            for p in strings or ():
                if len(p) == k and ANY not in p:
                    self._by_key.setdefault(p, []).append(i)
                else:
                    self._short.append((p, i))
        self._for_key: dict[str, re.Pattern[str] | None] = {}
        self._compiled: dict[tuple[int, ...], re.Pattern[str]] = {}
        self._full = self.full_pattern()
        if first is None:
            self._candidates = re.compile(at or r"(?=[\s\S])")
        elif self._always:  # every position starting with a ``first`` character, as documented
            self._candidates = re.compile(f"{at}(?=[{''.join(re.escape(c) for c in sorted(first))}])")
        else:
            keys = set(self._by_key) | {p for p, _ in self._short}
            self._candidates = re.compile(f"{at}(?={_trie(keys)})" if keys else r"(?!)")

    def _source(self, indices: Sequence[int]) -> str:
        parts: list[str] = []
        run_name, run = None, []

        def close() -> None:
            if run:
                body = "|".join(run)
                parts.append(f"(?P<{run_name}>{body})" if run_name is not None else f"(?:{body})")

        for i in indices:
            name, pattern = self.alternatives[i]
            if name != run_name or name is None:
                close()
                run_name, run = name, []
            run.append(pattern)
        close()
        return "(?:" + "|".join(parts) + ")" + self.suffix

    def _pattern(self, key: str) -> re.Pattern[str] | None:
        chosen = self._by_key.get(key, [])
        shorts = [i for p, i in self._short if _fits(p, key)]
        if not chosen and not shorts and not self._always:
            return None
        indices = tuple(sorted({*self._always, *chosen, *shorts}))
        rx = self._compiled.get(indices)
        if rx is None:
            rx = self._compiled[indices] = re.compile(self._source(indices))
        return rx

    def _pattern_for(self, key: str) -> re.Pattern[str] | None:
        try:
            return self._for_key[key]
        except KeyError:
            if len(self._for_key) > 100_000:  # bounded memory on adversarial input
                self._for_key.clear()
            rx = self._for_key[key] = self._pattern(key)
            return rx

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        key = text[pos:pos + self.k]
        if self.first is not None and key[:1] not in self.first:
            return self._full.match(text, pos)
        rx = self._pattern_for(key)
        return None if rx is None else rx.match(text, pos)

    def scan(self, text: str) -> list[re.Match[str]]:
        """Left to right, not overlapping: at each position where ``at`` holds (a position
        ``match`` could start from; with ``first``, only those starting with one of its
        characters), the match of ``match``; a position inside an earlier match is skipped.

        Positions whose first ``k`` characters no alternative can start with are skipped by
        the regular-expression engine itself (a trie of the keys), not in Python."""
        out = []
        pos = 0
        k = self.k
        for_key = self._for_key
        for candidate in self._candidates.finditer(text):
            start = candidate.start()
            if start < pos:
                continue
            key = text[start:start + k]
            rx = for_key[key] if key in for_key else self._pattern_for(key)
            if rx is not None:
                m = rx.match(text, start)
                if m is not None:
                    out.append(m)
                    pos = m.end()
        return out

    def full_pattern(self) -> re.Pattern[str]:
        """The one big pattern this dispatch is equal to (for tests and reference)."""
        return re.compile(self._source(range(len(self.alternatives))))
