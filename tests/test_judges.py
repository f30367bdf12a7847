"""The judge client against a real HTTP server on loopback that speaks chat completions."""

from __future__ import annotations

import time

import pytest

from radrl.judges import (
    JudgeClient,
    JudgeConfig,
    JudgeError,
    build_judge,
    extract_facts,
    judge_consistency,
    judge_criticality,
    load_prompt,
    parse_json_answer,
)
from radrl.judges.loopback import LoopbackJudge

REPORTS = ["No pleural effusion. Small left pneumothorax.", "The lungs are clear. Heart size is normal."]


def client(server, **kw) -> JudgeClient:
    return JudgeClient(JudgeConfig(base_url=server.base_url, model="loopback", **kw))


def test_tasks_get_parsed_answers():
    with LoopbackJudge() as server:
        c = client(server)
        assert extract_facts(c, REPORTS) == [["No pleural effusion.", "Small left pneumothorax."],
                                             ["The lungs are clear.", "Heart size is normal."]]
        assert judge_criticality(c, REPORTS) == [True, False]
        assert judge_consistency(c, ["Small left pneumothorax.", "Clear lungs."],
                                 ["Left pneumothorax.", "Large pleural effusion."]) == [True, False]
        assert c.stats.requests == 6 and c.stats.failures == 0


def test_api_key_only_from_the_environment_and_never_shown(monkeypatch):
    with LoopbackJudge() as server:
        with pytest.raises(JudgeError, match="RADRL_TEST_KEY"):
            client(server, api_key_env="RADRL_TEST_KEY")
        monkeypatch.setenv("RADRL_TEST_KEY", "sk-secret-123")
        c = client(server, api_key_env="RADRL_TEST_KEY")
        judge_criticality(c, REPORTS[:1])
        assert server.authorization == ["Bearer sk-secret-123"]
        assert "sk-secret" not in repr(c) and "sk-secret" not in repr(c.config)
        anonymous = client(server)
        judge_criticality(anonymous, REPORTS[1:])
        assert server.authorization[-1] is None


def test_disk_cache_answers_repeated_prompts(tmp_path):
    cache = tmp_path / "judge.sqlite"
    with LoopbackJudge() as server:
        judge_criticality(client(server, cache=str(cache)), REPORTS)
        assert server.requests == 2
        again = client(server, cache=str(cache))  # a new process would read the same file
        assert judge_criticality(again, REPORTS) == [True, False]
        assert server.requests == 2 and again.stats.cache_hits == 2
        other_model = JudgeClient(JudgeConfig(base_url=server.base_url, model="another", cache=str(cache)))
        judge_criticality(other_model, REPORTS[:1])
        assert server.requests == 3  # the key covers the model


def test_requests_run_concurrently():
    with LoopbackJudge(latency=0.2) as server:
        c = client(server, concurrency=8)
        answers = c.complete([[{"role": "user", "content": f"triage Report: r{i} Answer with"}] for i in range(16)])
        assert len(answers) == 16 and all(a is not None for a in answers)
        assert server.max_in_flight > 1


def test_a_stalled_server_times_out_without_hanging():
    with LoopbackJudge(mode="stall", stall_seconds=20) as server:
        c = client(server, timeout=0.5, max_retries=1, backoff=0.01, on_error="fallback")
        t0 = time.perf_counter()
        assert judge_criticality(c, REPORTS) == [None, None]
        assert time.perf_counter() - t0 < 8
        assert c.stats.timeouts == 4 and c.stats.failures == 2 and c.stats.fallbacks == 2
        strict = client(server, timeout=0.3, max_retries=0)
        with pytest.raises(JudgeError, match="item 0"):
            judge_criticality(strict, REPORTS[:1])


def test_garbage_answers_are_counted_and_fall_back_or_raise():
    with LoopbackJudge(mode="garbage") as server:
        c = client(server, max_retries=0, on_error="fallback")
        assert extract_facts(c, REPORTS * 2) == [None] * 4
        assert c.stats.fallbacks == 4
        with pytest.raises(JudgeError, match="facts.*item 0"):
            extract_facts(client(server, max_retries=0), REPORTS[:1])


def test_overloaded_server_is_retried_with_backoff():
    with LoopbackJudge(mode="flaky", fail_first=2) as server:
        c = client(server, max_retries=3, backoff=0.01, concurrency=1)
        assert judge_criticality(c, REPORTS[:1]) == [True]
        assert c.stats.retries == 2 and server.requests == 3


def test_parse_json_answer():
    assert parse_json_answer('```json\n["a", "b"]\n```', list) == ["a", "b"]
    assert parse_json_answer('Here you go: {"critical": true}.', dict) == {"critical": True}
    for bad, expect in [("no json here", list), ('{"a": 1}', list), ("[1, 2", list), (None, dict)]:
        with pytest.raises(JudgeError):
            parse_json_answer(bad, expect)


def test_config_errors_and_prompts():
    with pytest.raises(ValueError, match="http"):
        JudgeConfig(base_url="127.0.0.1:8000", model="m")
    with pytest.raises(ValueError, match="on_error"):
        JudgeConfig(base_url="http://x", model="m", on_error="ignore")
    with pytest.raises(ValueError, match="judge section"):
        build_judge({"base_url": "http://x", "model": "m", "colour": "red"})
    assert build_judge(None) is None
    name, template = load_prompt("facts")
    assert name.endswith("_v1") and "$report" in template.template


# -- hostile servers (issue 16): the key never leaves base_url, memory and time stay bounded ---------

def test_a_redirect_is_never_followed_and_the_key_stays_home(monkeypatch):
    monkeypatch.setenv("RADRL_TEST_KEY", "sk-secret-123")
    with LoopbackJudge() as elsewhere:
        target = elsewhere.base_url + "/chat/completions"
        with LoopbackJudge(mode="redirect", redirect_to=target) as server:
            c = client(server, api_key_env="RADRL_TEST_KEY", max_retries=3, backoff=0.01)
            assert c.complete_one([{"role": "user", "content": "triage Report: x Answer with"}]) is None
            assert server.requests == 1 and c.stats.retries == 0  # refused at once, not retried
        assert elsewhere.requests == 0 and elsewhere.authorization == []


def test_a_huge_answer_is_refused_with_bounded_memory():
    import tracemalloc

    with LoopbackJudge(mode="huge", huge_bytes=500_000_000) as server:
        c = client(server, max_retries=0, max_response_bytes=2_000_000)
        tracemalloc.start()
        t0 = time.perf_counter()
        assert c.complete_one([{"role": "user", "content": "x"}]) is None
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 20_000_000, peak       # the cap, not the 500 MB body
        assert server.bytes_sent < 100_000_000 and time.perf_counter() - t0 < 10


def test_a_trickling_server_ends_within_the_deadline():
    with LoopbackJudge(mode="trickle", trickle_interval=0.05) as server:
        c = client(server, timeout=1.0, max_retries=0)
        t0 = time.perf_counter()
        assert c.complete_one([{"role": "user", "content": "x"}]) is None
        assert time.perf_counter() - t0 < 2.0  # 1 s deadline for the whole request, not per byte
        assert c.stats.timeouts == 1 and server.bytes_sent > 5  # bytes kept coming


def test_the_answer_cache_is_owner_only(tmp_path):
    import stat

    cache = tmp_path / "judge.sqlite"
    with LoopbackJudge() as server:
        judge_criticality(client(server, cache=str(cache)), REPORTS[:1])
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
