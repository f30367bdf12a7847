"""PrefixDispatch: the labeler's matcher must equal the one big alternation it replaces."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from radrl.labelers.prefix_dispatch import ANY, PrefixDispatch, prefixes


def test_prefixes_by_hand():
    assert prefixes("effusions?", 3) == {"eff"}
    assert prefixes("fx", 3) == {"fx"}  # a whole match shorter than k
    assert prefixes("(?:a?icd|defib)", 3) == {"aic", "icd", "def"}
    assert prefixes(r"(?<!pericardial\s)effusion", 2) == {"ef"}  # a lookbehind is zero width
    assert prefixes(r"cp\s+x", 3, first="c") == {f"cp{c}" for c in " \t\n\r\x0b\x0c"} | {
        f"cp{c}" for c in "\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"} | {
        f"cp{chr(c)}" for c in range(0x2000, 0x200B)}
    assert prefixes(r"a\w+", 3) == {"a" + ANY, "a" + ANY + ANY}  # "ab" is a whole match
    assert prefixes(r"(?:b|c)?\s*de", 2, first="abcdefghijklmnopqrstuvwxyz") == {
        "de", "bd", "cd", *("b" + s for s in " \t\n\r\x0b\x0c"), *("c" + s for s in " \t\n\r\x0b\x0c"),
        *("b" + s for s in "\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"),
        *("c" + s for s in "\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"),
        *("b" + chr(c) for c in range(0x2000, 0x200B)), *("c" + chr(c) for c in range(0x2000, 0x200B))}
    assert prefixes(r"no|not", 4) == {"no", "not"}


def test_space_chars_are_what_backslash_s_matches():
    from radrl.labelers.prefix_dispatch import _SPACE_CHARS

    assert set(_SPACE_CHARS) == {chr(i) for i in range(0x110000) if re.fullmatch(r"\s", chr(i))}


ALTERNATIVES = [
    ("a", r"(?:no\s+(?:\w+\s+)?effusion)"), ("a", r"(?:effusions?)"), ("b", r"(?:(?<!pericardial\s)effusion)"),
    ("b", r"(?:heart\s+(?:size\s+)?(?:is\s+)?normal)"), ("c", r"(?:heart)"), ("c", r"(?:fx)"),
    ("d", r"(?:(?:hilar|mediastinal)?\s*(?:lymph)?adenopathy)"), ("d", r"(?:cp\s+(?:\w+\s+){0,2}?blunt\w*)"),
    (None, r"(?:x.x)"), ("e", r"(?:[^a]b)"), ("e", r"(?:e)"),
]
WORDS = ["no", "effusion", "effusions", "pericardial", "heart", "size", "is", "normal", "fx", "hilar",
         "adenopathy", "lymphadenopathy", "cp", "angle", "blunting", "x", "xyx", "e", "b", "\n", "  ", ".", "-"]


DISPATCHES = {k: (PrefixDispatch(ALTERNATIVES, suffix=r"\b", k=k),
                  PrefixDispatch(ALTERNATIVES, suffix=r"\b", k=k, first="abcdefghijklmnopqrstuvwxyz",
                                 at=r"(?<![a-z])(?=[a-z])"))
              for k in (2, 3, 4)}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=25), st.sampled_from([2, 3, 4]))
def test_match_and_scan_equal_the_full_alternation(words, k):
    text = " ".join(words)
    plain, at_words = DISPATCHES[k]
    full = plain.full_pattern()
    for pos in range(len(text) + 1):
        expected = full.match(text, pos)
        for dispatch in (plain, at_words):
            got = dispatch.match(text, pos)
            assert (got and (got.span(), got.lastgroup)) == (expected and (expected.span(), expected.lastgroup))
    # scan: the old loop over word starts, with the full pattern
    expected, end = [], 0
    for w in re.finditer(r"(?<![a-z])(?=[a-z])", text):
        if w.start() >= end and (m := full.match(text, w.start())):
            expected.append((m.span(), m.lastgroup))
            end = m.end()
    assert [(m.span(), m.lastgroup) for m in at_words.scan(text)] == expected


def test_consecutive_patterns_share_their_group():
    d = PrefixDispatch([("neg", "heart size normal"), ("neg", "normal heart"), ("pos", "heart")], k=3)
    assert d.full_pattern().pattern == "(?:(?P<neg>heart size normal|normal heart)|(?P<pos>heart))"
    assert d.match("heart size normal").lastgroup == "neg"
    assert d.match("heart size large").group() == "heart"
    assert d.match("normal heart").lastgroup == "neg"


def test_a_group_name_may_not_come_back():
    import pytest

    with pytest.raises(ValueError, match="neg"):
        PrefixDispatch([("neg", "a"), ("pos", "b"), ("neg", "c")])


def test_scan_with_an_unbounded_alternative_tries_only_first_characters():
    """Four free letters overflow the prefix table: that alternative is tried everywhere, but
    scan still tries only positions whose character is in ``first`` (as with the trie)."""
    d = PrefixDispatch([(None, "dog"), (None, "[a-z][a-z][a-z][a-z]"), (None, "cat")], k=4, first="abc")
    assert d._always == [1]
    text = "dogs cats bird"
    expected, end = [], 0
    for pos in range(len(text)):
        if text[pos] in "abc" and pos >= end and (m := d.full_pattern().match(text, pos)):
            expected.append(m.span())
            end = m.end()
    assert [m.span() for m in d.scan(text)] == expected == [(5, 9), (10, 14)]
