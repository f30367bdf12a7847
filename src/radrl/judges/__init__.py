"""LLM judges behind an OpenAI-compatible endpoint (``client.py``), the questions radrl asks them
(``tasks.py``, prompts in ``prompts/``), and a loopback server that speaks the protocol for tests
and benchmarks (``loopback.py``).

A recipe configures one under ``judge:``::

    judge: {base_url: http://127.0.0.1:8000/v1, model: Qwen2.5-7B-Instruct, api_key_env: JUDGE_KEY,
            concurrency: 32, timeout: 60, cache: runs/judge-cache.sqlite, on_error: fallback}
"""

from radrl.judges.client import JudgeClient, JudgeConfig, JudgeError, parse_json_answer
from radrl.judges.tasks import extract_facts, judge_consistency, judge_criticality, load_prompt


def build_judge(spec: dict | None) -> JudgeClient | None:
    """A client from a recipe's ``judge:`` mapping (``None`` when there is none)."""
    if not spec:
        return None
    try:
        return JudgeClient(JudgeConfig(**spec))
    except TypeError as err:
        raise ValueError(f"recipe judge section: {err}") from None


__all__ = ["JudgeClient", "JudgeConfig", "JudgeError", "build_judge", "extract_facts", "judge_consistency",
           "judge_criticality", "load_prompt", "parse_json_answer"]
