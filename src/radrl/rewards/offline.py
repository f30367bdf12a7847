"""``radrl reward PRED.jsonl --recipe NAME``: a recipe's reward on predictions, with no model.

The rewards are built exactly as ``radrl train`` builds them (``build_rewards`` with the recipe's
labeler and judge), called with TRL's signature and the dataset columns training would give
them (``reference``, ``gt_labels``, ``reference_findings``, ``reference_impression``), and summed
with the weights the trainer uses at ``step`` (reward schedules included). Debug a reward here
before spending GPU hours on it.

Input lines: ``id``, ``prediction``, and ``reference`` or ``reference_findings`` +
``reference_impression`` (or all three), optionally ``labels`` (ground truth, as FactS and the
example-F1 reward prefer them). Output lines: ``id``, ``reward``, ``components`` (each reward by
its name; RadFlow's terms as ``syntax``, ``domain``, ``consistency``, ``impression``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from radrl.data.sections import join_sections
from radrl.schema import normalize_labels


class RewardScorer:
    """A recipe's rewards, built once, scoring rows as training does.

    ``radrl reward``, the reward server and the engine adapters all score through this class,
    so a number is the same wherever it is computed. The rewards (and the labeler's cache) live
    as long as the scorer: a server scores every request with one scorer.

    :meth:`components` gives each reward's value per row (a reward that fails on a sample gives
    ``None``, as in training); :meth:`totals` sums them with the weights in force at ``step``
    (schedules included), skipping the ``None`` ones as TRL's ``nansum`` does.
    """

    HIERARCHY_TERMS = ("syntax", "domain", "consistency", "impression")

    def __init__(self, recipe):
        from radrl.judges import JudgeClient
        from radrl.labelers import labeler_from_section
        from radrl.rewards import build_rewards

        judge = JudgeClient(recipe.judge) if recipe.judge is not None else None
        self.recipe = recipe
        self.rewards = build_rewards(recipe.rewards, labeler_from_section(recipe.labeler), judge)

    @property
    def names(self) -> list[str]:
        """The rewards' names: the keys of :meth:`components` (RadFlow adds its four terms)."""
        return self.rewards.names

    def weights_at(self, step: int = 0) -> list[float]:
        from radrl.rewards.schedule import weight_at

        return [weight_at(step, w, s) for w, s in zip(self.rewards.weights, self.rewards.schedules)]

    def components(self, rows: Sequence[dict]) -> list[dict[str, float | None]]:
        """Each reward's value on each row (``prediction``, ``reference``, optional
        ``reference_findings``, ``reference_impression``, ``labels``)."""
        from radrl.rewards.base import extract_report
        from radrl.rewards.hierarchical import HierarchicalReward

        columns = {"reference": [r["reference"] for r in rows],
                   "gt_labels": [json.dumps(r["labels"]) if r.get("labels") else "" for r in rows],
                   "reference_findings": [r.get("reference_findings") or "" for r in rows],
                   "reference_impression": [r.get("reference_impression") or "" for r in rows]}
        predictions = [r["prediction"] for r in rows]
        out: list[dict[str, float | None]] = [{} for _ in rows]
        for fn in self.rewards.functions:
            if isinstance(fn, HierarchicalReward):  # its terms once; their total is what training scores
                texts = [extract_report(p, fn.extract) for p in predictions]
                terms = fn.components(texts, columns["reference"], columns["reference_findings"],
                                      columns["reference_impression"])
                values = [t["total"] for t in terms]
                for row, t in zip(out, terms):
                    row.update({k: t[k] for k in self.HIERARCHY_TERMS})
            else:
                values = fn(prompts=None, completions=predictions, **columns)
            for row, value in zip(out, values):
                row[fn.__name__] = value
        return out

    def totals(self, components: Sequence[dict[str, float | None]], step: int = 0) -> list[float]:
        """Each row's weighted sum at ``step`` (weights looked up once), failed rewards left out."""
        weights = list(zip(self.names, self.weights_at(step)))
        out = []
        for row in components:
            reward = 0.0
            for name, weight in weights:
                value = row.get(name)
                if value is not None and not math.isnan(value):
                    reward += weight * value  # TRL: nansum of the weighted rewards
            out.append(reward)
        return out

    def score(self, rows: Sequence[dict], step: int = 0) -> list[dict]:
        """One ``{"id", "reward", "components"}`` per row (ids as given, when rows have them)."""
        components = self.components(rows)
        return [{"id": row.get("id"), "reward": reward, "components": c}
                for row, c, reward in zip(rows, components, self.totals(components, step))]


def score_rows(recipe, rows: Sequence[dict], step: int = 0) -> list[dict]:
    """``rows``: dicts with id, prediction, reference, reference_findings, reference_impression,
    labels (checked by the caller). Returns one output dict per row."""
    return RewardScorer(recipe).score(rows, step)


def prediction_rows(path) -> list[dict]:
    """The input file, read with ``radrl eval``'s rules (text values, ids, repeated ids once)."""
    from radrl.io import DuplicateIds, InputError, read_records, record_id, text_field

    rows, repeated = [], DuplicateIds(str(path))
    for lineno, row in read_records(path):
        where = f"{path}, line {lineno}"
        sample_id = record_id(row, where)
        if "prediction" not in row:
            raise InputError(f"{where}: missing 'prediction'")
        findings, impression = (text_field(row, k, where) for k in ("reference_findings", "reference_impression"))
        reference = text_field(row, "reference", where)
        if reference is None:
            if findings is None and impression is None:
                raise InputError(f"{where}: give 'reference', or 'reference_findings' and 'reference_impression'")
            reference = join_sections(findings, impression)
        labels = row.get("labels")
        if labels is not None:
            try:
                labels = normalize_labels(labels) if isinstance(labels, dict) else None
            except ValueError as err:
                raise InputError(f"{where}: labels: {err}") from None
            if labels is None:
                raise InputError(f"{where}: 'labels' must be an object (observation -> value)")
        if repeated.keep(sample_id, lineno):
            rows.append({"id": row["id"], "prediction": text_field(row, "prediction", where) or "",
                         "reference": reference, "reference_findings": findings,
                         "reference_impression": impression, "labels": labels})
    repeated.warn()
    if not rows:
        raise InputError(f"{path}: no predictions in the file")
    return rows
