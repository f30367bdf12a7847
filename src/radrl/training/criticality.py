"""Which reference reports are clinically critical (RadFlow's CAPO), annotated once before training.

Offline default (a rule on the ground-truth labels): a report is critical when it states any
finding other than support devices: a label other than Support Devices / No Finding that is
positive (or uncertain: a hedged finding is still a finding to report carefully). The LLM-judge
annotation of the paper ("Does this report describe any abnormal, pathological, or clinically
significant finding?") plugs in through ``judge``: a ``radrl.judges.JudgeClient`` (batched,
``prompts/criticality_v1.txt``; an item it fails on gets the offline rule) or any callable
report -> bool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from radrl.schema import OBSERVATIONS, POSITIVE, UNCERTAIN

NOT_CRITICAL = ("Support Devices", "No Finding")


def is_critical(labels: Mapping[str, str], count_uncertain: bool = True,
                exclude: Sequence[str] = NOT_CRITICAL) -> bool:
    """True when a label outside ``exclude`` is positive (or uncertain, by default)."""
    flagged = (POSITIVE, UNCERTAIN) if count_uncertain else (POSITIVE,)
    return any(labels.get(name) in flagged for name in OBSERVATIONS if name not in exclude)


def annotate_criticality(samples, labeler=None, judge: Callable[[str], bool] | None = None,
                         count_uncertain: bool = True) -> list[bool]:
    """One flag per sample: the judge's answer when given, else :func:`is_critical` of the
    sample's ground-truth labels (or of the labeler's labels of its report when it has none)."""
    if judge is not None and not hasattr(judge, "complete"):
        return [bool(judge(s.report)) for s in samples]
    answers = [None] * len(samples)
    if judge is not None:
        from radrl.judges import judge_criticality

        answers = judge_criticality(judge, [s.report for s in samples])
    from radrl.labelers import get_labeler, labels_or_labelled

    gold = labels_or_labelled([s.labels for s in samples], [s.report for s in samples], labeler or get_labeler("rule"))
    offline = [is_critical(labels, count_uncertain) for labels in gold]
    return [rule if answer is None else bool(answer) for answer, rule in zip(answers, offline)]


__all__ = ["NOT_CRITICAL", "annotate_criticality", "is_critical"]
