"""MRG-R1's format reward for ``<think>...</think>`` then ``<report>...</report>`` outputs."""

from __future__ import annotations

import re

from radrl.rewards.base import REWARDS, RewardFunction

_TAGS = re.compile(r"</?(think|report)>")


def format_score(text: str) -> float:
    """Structure only, never content.

    1.0   exactly ``<think>A</think><report>B</report>`` (whitespace around allowed), A and B
          non-empty;
    0.5   both blocks present, balanced and in order, but one is empty or text lies outside;
    0.25  a single well-formed, non-empty ``<report>`` block and no think block;
    0.0   anything else (missing, unbalanced, nested or reversed tags).
    """
    tags = _TAGS.findall(text)
    opens_closes = re.findall(r"<(/?)(think|report)>", text)
    if tags == ["think", "think", "report", "report"] and opens_closes == [
        ("", "think"), ("/", "think"), ("", "report"), ("/", "report")
    ]:
        m = re.fullmatch(r"\s*<think>(.*?)</think>\s*<report>(.*?)</report>\s*", text, re.DOTALL)
        if m and m.group(1).strip() and m.group(2).strip():
            return 1.0
        return 0.5
    if opens_closes == [("", "report"), ("/", "report")]:
        m = re.search(r"<report>(.*?)</report>", text, re.DOTALL)
        return 0.25 if m and m.group(1).strip() else 0.0
    return 0.0


@REWARDS.register("format")
class FormatReward(RewardFunction):
    name = "format"

    def __init__(self, name: str | None = None):
        super().__init__(extract="none", name=name)

    def score(self, texts, references, ref_labels):
        return [format_score(t) for t in texts]
