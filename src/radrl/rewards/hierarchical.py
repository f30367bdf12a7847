"""RadFlow's hierarchical alignment reward (arXiv:2511.10065 §3.2, Eq. 4-7).

    R = R_global + gamma * R_imp,    R_global = R_syntax + R_domain + R_consistent

* R_syntax: BLEU-2 (default) or ROUGE-L of the whole report against the reference.
* R_domain: medical correctness of the FINDINGS against the reference FINDINGS. The paper uses
  RadGraph F1; RadGraph's model cannot be fetched here, so radrl's offline default is the
  **clinical-entity F1**: the entities of a text are its (observation, value) mentions from the
  rule labeler (a finding with its presence / absence / uncertainty, RadGraph's OBS-DP / OBS-DA /
  OBS-U analogue over the CheXpert vocabulary), F1 of the generated set against the reference set,
  1 when both are empty.
* R_consistent: +1 if the IMPRESSION follows from the FINDINGS, else -1. LLM-judge mode
  (``consistency: llm``, ``prompts/consistency_v1.txt``; a failed judgement falls back to the
  offline rule, counted); offline default (``consistency: labels``), from the labels of both
  sections: inconsistent when the impression states a finding that the findings deny or never
  mention (a diagnosis such as pneumonia or atelectasis is supported by an opacity in the
  findings), or calls the study normal while the findings have a positive finding.
* R_imp: example F1 of the IMPRESSION's labels against the reference IMPRESSION's (Eq. 7;
  0/0 -> 1), weighted by ``gamma`` (the paper does not give its value; default 1).

``domain: radgraph`` scores R_domain with the ``radgraph`` package's F1-RadGraph (install it and
put its model in the local Hugging Face cache; radrl sets ``HF_HUB_OFFLINE=1`` so nothing is
fetched), and ``domain_scorer=`` takes any callable ``(hyps, refs) -> list[float]``.

Where the terms look:

* R_consistent is about the **prediction's own** two sections; it needs no reference sections.
  A prediction without both FINDINGS and IMPRESSION headers gets -1 (its impression cannot
  follow from its findings), and R_imp 0: dropping the structure never pays. (Before, such a
  report scored 0 and no R_imp, so a headerless self-contradicting report beat a structured
  inconsistent one, 1.31 to 0.67.)
* R_imp compares the prediction's IMPRESSION with the **reference IMPRESSION column**
  (``reference_impression``, which every loader that knows the sections fills); without one, it
  falls back to the reference text's own IMPRESSION header, and is skipped for every prediction
  alike when the reference has none.
* R_domain compares the prediction's FINDINGS (its whole text when it has no headers) with the
  reference FINDINGS (``reference_findings``, else the reference's header, else the whole reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from radrl.data.sections import split_sections
from radrl.io import FieldError
from radrl.labelers import CachedLabeler, extract_mentions, get_labeler
from radrl.metrics.clinical import binarize, example_scores
from radrl.rewards.base import REWARDS, Extract, RewardFunction
from radrl.schema import FINDINGS, NEGATIVE, NO_FINDING, POSITIVE, SUPPORT_DEVICES, UNCERTAIN

OPACITY_DIAGNOSES = ("Consolidation", "Pneumonia", "Atelectasis", "Edema", "Lung Lesion")


def clinical_entities(text: str) -> set[tuple[str, str]]:
    """(observation, value) pairs of the rule labeler's mentions."""
    return {(m.observation, m.value) for m in extract_mentions(text or "")}


def entity_f1(pred: set, ref: set) -> float:
    if not pred and not ref:
        return 1.0
    tp = len(pred & ref)
    return 2 * tp / (len(pred) + len(ref))


def labels_consistent(findings: dict, impression: dict) -> bool:
    """The offline rule: does the impression (its labels) follow from the findings (theirs)?"""
    supported = (POSITIVE, UNCERTAIN)
    for c in FINDINGS:
        if c == SUPPORT_DEVICES or impression.get(c) != POSITIVE:
            continue
        if findings.get(c) == NEGATIVE:
            return False
        if findings.get(c) not in supported and not (
                c in OPACITY_DIAGNOSES and findings.get("Lung Opacity") in supported):
            return False
    if impression.get(NO_FINDING) == POSITIVE:
        return not any(findings.get(c) == POSITIVE for c in FINDINGS if c != SUPPORT_DEVICES)
    return True


def radgraph_scorer(reward_level: str = "partial", model_type: str | None = None):
    """F1-RadGraph from the ``radgraph`` package, offline only: ``(hyps, refs) -> list[float]``."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from radgraph import F1RadGraph
    except ImportError:
        raise ValueError("domain: radgraph needs the `radgraph` package (pip install radgraph) and its model in "
                         "the local Hugging Face cache; the offline default is domain: entities") from None
    scorer = F1RadGraph(reward_level=reward_level, **({"model_type": model_type} if model_type else {}))

    def score(hyps, refs):
        per_sample = scorer(hyps=list(hyps), refs=list(refs))[1]
        return [float(x) for x in per_sample]

    return score


@REWARDS.register("radflow")
class HierarchicalReward(RewardFunction):
    """``type: radflow`` in a recipe: ``syntax`` (bleu2 | rouge_l), ``domain`` (entities | radgraph),
    ``consistency`` (labels | llm), ``gamma``. ``components(texts, references, reference_findings,
    reference_impression)`` returns every term for inspection."""

    name = "radflow"
    needs_labeler = True
    needs_judge = True
    judge_modes = {"consistency": "llm"}

    def __init__(self, labeler: CachedLabeler | None = None, judge=None, syntax: Literal["bleu2", "rouge_l"] = "bleu2",
                 consistency: Literal["labels", "llm"] = "labels", gamma: float = 1.0,
                 domain: Literal["entities", "radgraph"] = "entities", domain_scorer=None,
                 radgraph_model: str | None = None, extract: Extract = "none",
                 name: str | None = None):
        super().__init__(extract=extract, name=name)
        if syntax not in ("bleu2", "rouge_l"):
            raise FieldError("syntax", f"syntax must be 'bleu2' or 'rouge_l', got {syntax!r}")
        if consistency not in ("labels", "llm"):
            raise FieldError("consistency", f"consistency must be 'labels' or 'llm', got {consistency!r}")
        if consistency == "llm" and judge is None:
            raise FieldError("consistency", "consistency 'llm' needs a judge (the recipe's judge: section)")
        if domain not in ("entities", "radgraph"):
            raise FieldError("domain", f"domain must be 'entities' or 'radgraph', got {domain!r}")
        self.labeler = labeler if labeler is not None else get_labeler("rule")
        self.judge, self.syntax, self.consistency, self.gamma = judge, syntax, consistency, gamma
        if domain_scorer is None and domain == "radgraph":
            domain_scorer = radgraph_scorer(model_type=radgraph_model)
        self.domain_scorer = domain_scorer
        self.fallbacks = 0

    def _domain(self, texts: list[str], references: list[str]) -> list[float]:
        if self.domain_scorer is not None:
            return [float(x) for x in self.domain_scorer(texts, references)]
        return [entity_f1(clinical_entities(t), clinical_entities(r)) for t, r in zip(texts, references)]

    def _syntax(self, texts, references) -> list[float]:
        if self.syntax == "bleu2":
            from radrl.rewards.text import sentence_bleu

            return sentence_bleu(texts, references, n=2)
        from radrl.metrics.nlg import literature_text
        from radrl.metrics.rouge import BoundedRouge

        rouge = BoundedRouge()
        return [float(rouge.calc_score([literature_text(t) or "."], [literature_text(r) or "."]))
                for t, r in zip(texts, references)]

    def _consistent(self, pairs: list[tuple[str, str]]) -> list[bool]:
        if not pairs:
            return []
        labels = self.labeler.label_batch([x for pair in pairs for x in pair])
        offline = [labels_consistent(labels[2 * i], labels[2 * i + 1]) for i in range(len(pairs))]
        if self.consistency == "labels":
            return offline
        from radrl.judges import judge_consistency

        answers = judge_consistency(self.judge, [f for f, _ in pairs], [i for _, i in pairs])
        self.fallbacks += sum(a is None for a in answers)
        return [rule if a is None else a for a, rule in zip(answers, offline)]

    def components(self, texts: Sequence[str], references: Sequence[str],
                   reference_findings: Sequence[str | None] | None = None,
                   reference_impression: Sequence[str | None] | None = None) -> list[dict[str, float | None]]:
        """Every term per sample: ``syntax``, ``domain``, ``consistency``, ``impression`` (None when
        no reference impression exists), ``total``."""
        n = len(texts)
        syntax = self._syntax(texts, references)
        pred = [split_sections(t) for t in texts]
        ref = [split_sections(r) for r in references]
        ref_findings = [(reference_findings[i] if reference_findings is not None else None) or ref[i].findings
                        or references[i] for i in range(n)]
        ref_imp = [(reference_impression[i] if reference_impression is not None else None) or ref[i].impression
                   for i in range(n)]
        structured = [bool(p.findings and p.impression) for p in pred]
        consistent = iter(self._consistent([(p.findings, p.impression) for p, s in zip(pred, structured) if s]))
        scored = [i for i in range(n) if structured[i] and ref_imp[i]]
        imp_scores = {}
        if scored:
            pred_imp = self.labeler.label_batch([pred[i].impression for i in scored])
            gold_imp = self.labeler.label_batch([ref_imp[i] for i in scored])
            imp_scores = dict(zip(scored, example_scores(binarize(pred_imp), binarize(gold_imp), "one")["f1"].tolist()))
        domains = self._domain([p.findings or t for p, t in zip(pred, texts)], ref_findings)
        out = []
        for i in range(n):
            cons = (1.0 if next(consistent) else -1.0) if structured[i] else -1.0
            imp = imp_scores.get(i, 0.0) if ref_imp[i] else None  # unstructured: 0, never better
            total = syntax[i] + domains[i] + cons + (self.gamma * imp if imp is not None else 0.0)
            out.append({"syntax": syntax[i], "domain": domains[i], "consistency": cons, "impression": imp,
                        "total": total})
        return out

    def score(self, texts, references, ref_labels):
        return [c["total"] for c in self.components(texts, references)]

    def score_columns(self, texts, references, ref_labels, columns):
        return [c["total"] for c in self.components(texts, references, columns.get("reference_findings"),
                                                    columns.get("reference_impression"))]
