"""What every radrl reward is: a batched callable with TRL's reward signature.

``reward(prompts, completions, completion_ids=None, **columns) -> list[float | None]``

``completions`` are strings or TRL's conversational ``[{"role": "assistant", "content": ...}]``;
the dataset columns arrive as keyword lists (radrl's datasets carry ``reference`` and
``gt_labels``). A reward that raises on a batch is retried sample by sample; a sample that
still raises scores ``None`` (TRL turns it into NaN; radrl's trainer then skips it: it gets
advantage 0 and is left out of its group's statistics) and is counted in ``failures``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any, Literal

from radrl.io import FieldError
from radrl.registry import Registry

logger = logging.getLogger(__name__)

_REPORT_TAG = re.compile(r"<report>(.*?)</report>", re.DOTALL)
EXTRACT_MODES = ("none", "lenient", "strict")
Extract = Literal["none", "lenient", "strict"]

REWARDS: Registry[type] = Registry("reward type")
"""Reward types by the name a recipe gives them (``rewards: [{type: NAME, ...}]``)."""


def completion_text(completion: Any) -> str:
    """The generated text of one completion, plain or conversational."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content", "")
        if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
            return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        return str(content)
    raise TypeError(f"cannot read a completion of type {type(completion).__name__}")


def extract_report(text: str, mode: str = "lenient") -> str:
    """The report part of an MRG-R1 style output ``<think>...</think><report>...</report>``.

    ``none``: the whole text. ``lenient``: the last ``<report>`` block, else the text after an
    unclosed ``<report>``, else the whole text. ``strict``: the last ``<report>`` block, else ``""``
    (a missing report scores like an empty one).
    """
    if mode not in EXTRACT_MODES:
        raise ValueError(f"extract must be one of {EXTRACT_MODES}, got {mode!r}")
    if mode == "none":
        return text
    blocks = _REPORT_TAG.findall(text)
    if blocks:
        return blocks[-1].strip()
    if mode == "strict":
        return ""
    if "<report>" in text:
        return text.split("<report>")[-1].strip()
    return text


def _raised_at(err: BaseException) -> str:
    """``file:line`` where ``err`` was raised (for a log line that must not quote report text)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb is not None else "?"


class RewardFunction:
    """Base class: subclasses implement :meth:`score` on report texts and references.

    Class attributes say what ``build_rewards`` hands the constructor: ``needs_labeler`` (the
    run's shared, cached labeler as ``labeler=``), ``needs_judge`` (the recipe's LLM judge as
    ``judge=``, when it has one); ``judge_modes`` lists the parameter values that cannot work
    without a judge (checked when the recipe is loaded).
    """

    name = "reward"
    needs_labeler = False
    needs_judge = False
    judge_modes: dict[str, str] = {}

    def __init__(self, extract: Extract = "none", name: str | None = None):
        if extract not in EXTRACT_MODES:
            raise FieldError("extract", f"extract must be one of {EXTRACT_MODES}, got {extract!r}")
        self.extract = extract
        self.__name__ = name or self.name  # TRL names the logged component after __name__
        self.failures = 0
        self._parsed_labels: dict[str, dict | None] = {}

    def score(self, texts: Sequence[str], references: Sequence[str],
              ref_labels: Sequence[dict | None]) -> list[float]:
        raise NotImplementedError

    SECTION_COLUMNS = ("reference_findings", "reference_impression")
    PARSED_LABELS_CACHE = 100_000

    def score_columns(self, texts: Sequence[str], references: Sequence[str], ref_labels: Sequence[dict | None],
                      columns: dict[str, list]) -> list[float]:
        """:meth:`score` with the dataset's section columns (``reference_findings``,
        ``reference_impression``) at hand; rewards that use them override this."""
        return self.score(texts, references, ref_labels)

    def _labels_of(self, gt: Any) -> dict | None:
        if isinstance(gt, dict):
            return gt
        if not gt:
            return None
        if gt not in self._parsed_labels:
            if len(self._parsed_labels) >= self.PARSED_LABELS_CACHE:  # bounded: a reward server runs for days
                self._parsed_labels.clear()
            self._parsed_labels[gt] = json.loads(gt)
        return self._parsed_labels[gt]

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (),
                 completion_ids: Any = None, reference: Sequence[str] | None = None,
                 gt_labels: Sequence[Any] | None = None, **kwargs) -> list[float | None]:
        texts = [extract_report(completion_text(c), self.extract) for c in completions]
        if reference is None:
            raise ValueError(f"reward {self.__name__!r} needs a 'reference' column in the dataset")
        labels = [self._labels_of(g) for g in gt_labels] if gt_labels is not None else [None] * len(texts)
        columns = {k: [v or None for v in kwargs[k]] for k in self.SECTION_COLUMNS if kwargs.get(k) is not None}
        try:
            return [float(x) for x in self.score_columns(texts, list(reference), labels, columns)]
        except Exception:  # noqa: BLE001 - one bad sample must not kill the run
            logger.warning("reward %s failed on a batch of %d; scoring one by one", self.__name__, len(texts))
        out: list[float | None] = []
        for i, (text, ref, lab) in enumerate(zip(texts, reference, labels)):
            try:
                one = {k: [v[i]] for k, v in columns.items()}
                out.append(float(self.score_columns([text], [ref], [lab], one)[0]))
            except Exception as err:  # noqa: BLE001
                self.failures += 1
                # the type and where it was raised, never the message: it may quote the report
                logger.warning("reward %s skipped a sample (%s at %s)", self.__name__, type(err).__name__,
                               _raised_at(err))
                out.append(None)
        failed = sum(x is None for x in out)
        log_metric = kwargs.get("log_metric")
        if failed and callable(log_metric):
            log_metric(f"rewards/{self.__name__}/failed", float(failed))
        return out
