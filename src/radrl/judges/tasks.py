"""What radrl asks a judge: atomic facts (FactS), FINDINGS/IMPRESSION consistency (RadFlow) and
criticality (CAPO). Prompts live in ``prompts/NAME_vN.txt`` (``$report``-style placeholders);
the version is part of the file name, so a changed prompt never reuses old cached answers.

Each task returns one value per input, or ``None`` where the judge failed or answered something
that does not parse and the client is configured with ``on_error: fallback`` (the caller then
uses its offline default); with ``on_error: raise`` such an answer stops the run with the item
and the answer in the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from string import Template

from radrl.judges.client import JudgeClient, JudgeError, parse_json_answer

PROMPTS = {"facts": "facts_v1", "consistency": "consistency_v1", "criticality": "criticality_v1"}


def load_prompt(task: str) -> tuple[str, Template]:
    """(versioned name, template) of a task's prompt file."""
    name = PROMPTS[task]
    text = resources.files("radrl.judges").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")
    return name, Template(text)


def _ask(client: JudgeClient, task: str, fields: Sequence[dict[str, str]], expect: type, check) -> list:
    _, template = load_prompt(task)
    batch = [[{"role": "user", "content": template.substitute(f)}] for f in fields]
    answers = client.complete(batch)
    out = []
    for i, answer in enumerate(answers):
        try:
            out.append(check(parse_json_answer(answer, expect)))
        except JudgeError as err:
            if client.config.on_error == "raise":
                raise JudgeError(f"judge task {task!r}, item {i}: {err}") from None
            client._count(fallbacks=1)
            out.append(None)
    return out


def _facts(value) -> list[str]:
    if not all(isinstance(x, str) for x in value):
        raise JudgeError("facts must be a JSON array of strings")
    return [x.strip() for x in value if x.strip()]


def _flag(key: str):
    def check(value) -> bool:
        if not isinstance(value.get(key), bool):
            raise JudgeError(f"expected {{\"{key}\": true|false}}, got {value}")
        return value[key]
    return check


def extract_facts(client: JudgeClient, reports: Sequence[str]) -> list[list[str] | None]:
    return _ask(client, "facts", [{"report": r} for r in reports], list, _facts)


def judge_consistency(client: JudgeClient, findings: Sequence[str], impressions: Sequence[str]) -> list[bool | None]:
    return _ask(client, "consistency", [{"findings": f, "impression": i} for f, i in zip(findings, impressions)],
                dict, _flag("consistent"))


def judge_criticality(client: JudgeClient, reports: Sequence[str]) -> list[bool | None]:
    return _ask(client, "criticality", [{"report": r} for r in reports], dict, _flag("critical"))
