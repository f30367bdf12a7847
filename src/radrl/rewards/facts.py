"""OraPO's FactS reward (arXiv:2509.18600 §3.3): atomic clinical facts checked against the ground-truth labels.

1. **Facts.** Offline default: the rule labeler's sentence-level mentions, each a fact
   (observation, value, the words that state it). LLM mode (``mode: llm``): the judge lists the
   report's atomic facts (``prompts/facts_v1.txt``) and each fact sentence is labelled by the
   labeler; a report the judge fails on falls back to the offline facts (counted).
2. **Per-label entailment** over the 13 findings (No Finding is not a fact): with g_c the
   ground truth (positive, or uncertain when ``uncertain: positive``),

   * a positive fact on a label with g_c -> *supported* (true positive);
   * a positive fact on a label without g_c -> *contradicted* (false positive: an unsupported
     claim);
   * only negative facts on a label with g_c -> *contradicted* (an explicit contradiction: a
     false positive) and the label is missed (false negative);
   * no positive fact on a label with g_c -> missed (false negative); anything else -> absent.
3. **Reward**: P = TP / (TP + FP), R = TP / (TP + FN),
   F_beta = (1 + beta^2) P R / (beta^2 P + R + eps), beta = 2 by default (recall-weighted, as
   OraPO wants; the paper's value was lost in its text). No positive and no contradiction on
   either side (TP = FP = FN = 0) scores ``empty_match`` (1: a correct normal report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from radrl.io import FieldError
from radrl.labelers import CachedLabeler, extract_mentions, get_labeler, labels_or_labelled
from radrl.rewards.base import REWARDS, Extract, RewardFunction
from radrl.schema import BLANK, FINDINGS, NEGATIVE, POSITIVE, UNCERTAIN

SUPPORTED, CONTRADICTED, MISSED, ABSENT = "supported", "contradicted", "missed", "absent"


@dataclass(frozen=True)
class Fact:
    text: str
    observation: str
    value: str


def rule_facts(report: str) -> list[Fact]:
    """The offline facts: every labeler mention of one of the 13 findings, with its value."""
    return [Fact(m.text, m.observation, m.value) for m in extract_mentions(report) if m.observation in FINDINGS]


def statement_facts(statements: Sequence[str], labeler: CachedLabeler) -> list[Fact]:
    """Facts from free-text statements (an LLM's list): each statement's non-blank findings."""
    facts = []
    for text, labels in zip(statements, labeler.label_batch(list(statements))):
        facts.extend(Fact(text, c, labels[c]) for c in FINDINGS if labels.get(c, BLANK) != BLANK)
    return facts


def entail_facts(facts: Sequence[Fact], gt_labels: Mapping[str, str], uncertain: str = "negative") -> dict[str, str]:
    """Per finding: supported / contradicted / missed / absent (see the module doc).
    ``contradicted`` on a ground-truth positive label also counts as missed in :func:`facts_score`."""
    positive_values = (POSITIVE, UNCERTAIN) if uncertain == "positive" else (POSITIVE,)
    out = {}
    for c in FINDINGS:
        values = {f.value for f in facts if f.observation == c}
        claims = bool(values & set(positive_values))
        denies = NEGATIVE in values
        truth = gt_labels.get(c, BLANK) in positive_values
        if claims:
            out[c] = SUPPORTED if truth else CONTRADICTED
        elif truth:
            out[c] = CONTRADICTED if denies else MISSED
        else:
            out[c] = ABSENT
    return out


def facts_score(entailment: Mapping[str, str], gt_labels: Mapping[str, str], beta: float = 2.0,
                eps: float = 1e-8, empty_match: float = 1.0, uncertain: str = "negative") -> float:
    """F_beta of the per-label entailment (TP supported; FP contradicted; FN ground-truth
    positives not supported)."""
    positive_values = (POSITIVE, UNCERTAIN) if uncertain == "positive" else (POSITIVE,)
    tp = sum(v == SUPPORTED for v in entailment.values())
    fp = sum(v == CONTRADICTED for v in entailment.values())
    fn = sum(gt_labels.get(c, BLANK) in positive_values and v != SUPPORTED for c, v in entailment.items())
    if tp + fp + fn == 0:
        return empty_match
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall + eps)


@REWARDS.register("facts")
class FactSReward(RewardFunction):
    """``type: facts`` in a recipe: ``beta``, ``mode`` (rule | llm), ``uncertain``, ``empty_match``."""

    name = "facts"
    needs_labeler = True
    needs_judge = True
    judge_modes = {"mode": "llm"}

    def __init__(self, labeler: CachedLabeler | None = None, judge=None, mode: Literal["rule", "llm"] = "rule",
                 beta: float = 2.0, uncertain: Literal["negative", "positive"] = "negative", empty_match: float = 1.0,
                 extract: Extract = "none", name: str | None = None):
        super().__init__(extract=extract, name=name)
        if mode not in ("rule", "llm"):
            raise FieldError("mode", f"facts mode must be 'rule' or 'llm', got {mode!r}")
        if mode == "llm" and judge is None:
            raise FieldError("mode", "facts mode 'llm' needs a judge (the recipe's judge: section)")
        if beta <= 0:
            raise FieldError("beta", "beta must be positive")
        self.labeler = labeler if labeler is not None else get_labeler("rule")
        self.judge, self.mode, self.beta = judge, mode, beta
        self.uncertain, self.empty_match = uncertain, empty_match
        self.fallbacks = 0

    def facts(self, texts: Sequence[str]) -> list[list[Fact]]:
        if self.mode == "rule":
            return [rule_facts(t) for t in texts]
        from radrl.judges import extract_facts

        out = []
        for text, statements in zip(texts, extract_facts(self.judge, texts)):
            if statements is None:
                self.fallbacks += 1
                out.append(rule_facts(text))
            else:
                out.append(statement_facts(statements, self.labeler))
        return out

    def score(self, texts, references, ref_labels):
        gts = labels_or_labelled(ref_labels, references, self.labeler)
        return [facts_score(entail_facts(f, g, self.uncertain), g, self.beta, empty_match=self.empty_match,
                            uncertain=self.uncertain) for f, g in zip(self.facts(texts), gts)]
