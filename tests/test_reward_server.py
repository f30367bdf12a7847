"""`radrl serve`: the endpoints, bad bodies, batching, the remote adapters, and its safety rules
(loopback by default, a token off loopback, no report text in any log)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import subprocess
import sys
import time

import httpx
import pytest
from engine_rows import TrainerState, extra_info, report_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helpers import free_port, live_server
from starlette.testclient import TestClient

from radrl.cli import main
from radrl.config.commands import ServeOptions
from radrl.integrations import backends, swift, verl
from radrl.integrations.backends import request_body
from radrl.integrations.serve import check_bind
from radrl.integrations.serve.app import create_app
from radrl.io import InputError
from radrl.recipe import load_recipe
from radrl.rewards import REWARDS, RewardFunction
from radrl.rewards.offline import RewardScorer, score_rows

MARKER = "ZZQX-PATIENT-7731"  # report text that must never reach a log


@pytest.fixture(scope="module")
def client():
    scorer = RewardScorer(load_recipe("radflow"))
    with TestClient(create_app(scorer, ServeOptions(max_items=64, max_body_mb=0.05), recipe_name="radflow")) as c:
        yield c, scorer


def test_rewards_endpoint_equals_radrl_reward(client):
    c, scorer = client
    rows = report_rows(12)
    answer = c.post("/v1/rewards", json=request_body(rows, step=7)).json()
    want = score_rows(load_recipe("radflow"), rows, step=7)
    assert [pytest.approx(w["reward"], abs=1e-9) for w in want] == answer["rewards"]
    for name in want[0]["components"]:
        assert answer["components"][name] == [w["components"][name] for w in want]
    info = c.get("/v1/info").json()
    assert info["recipe"] == "radflow" and info["rewards"] == ["radflow"] and info["radrl_version"]


def test_openrlhf_protocol(client):
    c, _ = client
    prompt = "<|im_start|>user\nWrite.<|im_end|>\n<|im_start|>assistant\n"
    rows = report_rows(4)
    body = {"query": [prompt + r["prediction"] + "<|im_end|>" for r in rows], "prompts": [prompt] * 4,
            "labels": [r["reference"] for r in rows]}
    answer = c.post("/get_reward", json=body).json()
    plain = [{**r, "reference_findings": None, "reference_impression": None, "labels": None} for r in rows]
    want = score_rows(load_recipe("radflow"), plain)
    assert answer["rewards"] == answer["scores"] == pytest.approx([w["reward"] for w in want], abs=1e-9)
    assert set(answer["extra_logs"]) == set(want[0]["components"])


@pytest.mark.parametrize(("body", "status", "field"), [
    (b"not json", 400, "body"),
    (b"[1, 2]", 422, "body"),
    (b'{"predictions": "one"}', 422, "predictions"),
    (b'{"predictions": ["a"], "references": ["b", "c"]}', 422, "references"),
    (b'{"predictions": ["a"]}', 422, "references"),
    (b'{"predictions": [1], "references": ["b"]}', 422, "predictions.0"),
    (b'{"predictions": ["a"], "references": ["b"], "labels": [{"Heart": "positive"}]}', 422, "labels.0"),
    (b'{"predictions": ["a"], "references": ["b"], "labels": [{"Edema": "maybe"}]}', 422, "labels.0"),
    (b'{"predictions": ["a"], "references": ["b"], "step": -1}', 422, "step"),
    (b'{"predictions": ["a"], "refrences": ["b"]}', 422, "refrences"),
    (json.dumps({"predictions": ["a"] * 65, "references": ["b"] * 65}).encode(), 413, "predictions"),
    (b'{"predictions": ["' + b"x" * 60_000 + b'"], "references": ["b"]}', 413, "body"),
])
def test_bad_bodies_get_a_4xx_naming_the_field_and_the_server_keeps_serving(client, body, status, field):
    c, _ = client
    r = c.post("/v1/rewards", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.json()["field"] == field, r.json()
    assert c.get("/health").json() == {"status": "ok"}


def test_misspelt_field_suggests_the_right_one(client):
    r = client[0].post("/v1/rewards", json={"predictions": ["a"], "refrences": ["b"]})
    assert "did you mean references" in r.json()["error"]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
fields = st.sampled_from(["predictions", "references", "reference_findings", "reference_impression", "labels", "step",
                          "query", "prompts"])
bodies = st.one_of(json_values.map(json.dumps).map(str.encode), st.binary(max_size=200),
                   st.dictionaries(fields, json_values, max_size=6).map(json.dumps).map(str.encode),
                   st.dictionaries(fields, st.lists(st.text(max_size=30) | st.none(), max_size=3),
                                   max_size=6).map(json.dumps).map(str.encode))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, path=st.sampled_from(["/v1/rewards", "/get_reward"]))
def test_fuzzed_bodies_never_get_a_5xx(client, body, path):
    c, _ = client
    r = c.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code < 500, (r.status_code, body, r.text)
    assert r.status_code in (200, 400, 413, 422)


def test_health_answers_after_the_fuzz(client):
    assert client[0].get("/health").status_code == 200


class FlakyReward(RewardFunction):
    """Fails on a prediction that says FAIL (a reward that breaks on one sample)."""

    name = "flaky"

    def score(self, texts, references, ref_labels):
        if any("FAIL" in t for t in texts):
            raise RuntimeError(f"cannot score {texts}")  # the message holds report text: it must not be logged
        return [0.5 for _ in texts]


@pytest.fixture
def flaky_registered():
    REWARDS.register("flaky_test")(FlakyReward)
    yield
    REWARDS.unregister("flaky_test")


def test_a_reward_failing_on_one_sample_gives_null_not_500(flaky_registered, caplog):
    caplog.set_level(logging.DEBUG)
    with live_server("deer_tfidf", overrides=["rewards.1.type=flaky_test", "rewards.1.weight=1.0"]) as (url, _):
        r = httpx.post(f"{url}/v1/rewards", json={"predictions": [f"ok {MARKER}", f"FAIL {MARKER}"],
                                                  "references": [f"Effusion {MARKER}.", "Clear."]})
    assert r.status_code == 200
    assert r.json()["components"]["flaky"] == [0.5, None]
    assert r.json()["rewards"][1] == r.json()["components"]["example_f1"][1]  # the failed one left out
    assert MARKER not in caplog.text


def test_concurrent_requests_are_scored_in_shared_batches():
    rows = report_rows(16)
    with live_server("deer_tfidf", max_wait_ms=200) as (url, scorer):
        async def one(client, row):
            return (await client.post("/v1/rewards", json=request_body([row]))).json()

        async def run():
            async with httpx.AsyncClient(base_url=url) as client:
                return await asyncio.gather(*(one(client, r) for r in rows))

        answers = asyncio.run(run())
        info = httpx.get(f"{url}/v1/info").json()
    assert info["rows"] == 16 and info["batches"] < 16  # 16 single-sample requests, fewer labeler batches
    want = score_rows(load_recipe("deer_tfidf"), rows)
    assert [a["rewards"][0] for a in answers] == pytest.approx([w["reward"] for w in want], abs=1e-9)


def test_adapters_through_the_server_equal_in_process(monkeypatch):
    rows = report_rows(8)
    want = score_rows(load_recipe("deer_tfidf"), rows, step=300)
    with live_server("deer_tfidf") as (url, _):
        monkeypatch.setenv(backends.URL_ENV, url)
        got = [verl.compute_score(solution_str=r["prediction"], ground_truth=r["reference"], extra_info=extra_info(r),
                                  step=300) for r in rows]
        assert [g["score"] for g in got] == pytest.approx([w["reward"] for w in want], abs=1e-9)
        got = asyncio.run(verl.compute_score_async(solution_str=rows[0]["prediction"], ground_truth=rows[0]["reference"],
                                                   extra_info=extra_info(rows[0]), step=300))
        assert got["score"] == pytest.approx(want[0]["reward"], abs=1e-9)
        kwargs = {"trainer_state": TrainerState(300), "solution": [r["reference"] for r in rows],
                  "reference_findings": [r["reference_findings"] for r in rows],
                  "reference_impression": [r["reference_impression"] for r in rows],
                  "labels": [extra_info(r)["labels"] for r in rows]}
        remote = asyncio.run(swift.RadrlRemoteReward(url=url)([r["prediction"] for r in rows], **kwargs))
        assert remote == pytest.approx([w["reward"] for w in want], abs=1e-9)
        from radrl.integrations.trl import RemoteReward

        logged = {}
        trl_out = asyncio.run(RemoteReward(url)(prompts=[None] * len(rows),
                                                completions=[[{"role": "assistant", "content": r["prediction"]}] for r in rows],
                                                reference=[r["reference"] for r in rows],
                                                reference_findings=kwargs["reference_findings"],
                                                reference_impression=kwargs["reference_impression"],
                                                gt_labels=kwargs["labels"], trainer_state=TrainerState(300),
                                                log_metric=lambda k, v: logged.__setitem__(k, v)))
        assert trl_out == pytest.approx([w["reward"] for w in want], abs=1e-9)
        assert set(logged) == {"rewards/example_f1", "rewards/bleu2"}


def test_the_default_bind_is_loopback():
    from radrl.cli import build_parser

    assert ServeOptions().host == "127.0.0.1"
    assert build_parser().parse_args(["serve", "--recipe", "deer"]).host == "127.0.0.1"
    assert check_bind("127.0.0.1", None) is None and check_bind("localhost", None) is None


def test_a_public_bind_without_a_token_refuses_to_start(monkeypatch, capsys):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the server must not start"))
    assert main(["serve", "--recipe", "deer_tfidf", "--host", "0.0.0.0"]) == 2
    assert "not loopback" in capsys.readouterr().err
    assert main(["serve", "--recipe", "deer_tfidf", "--host", "0.0.0.0", "--token-env", "RADRL_TEST_UNSET"]) == 2
    assert "RADRL_TEST_UNSET" in capsys.readouterr().err
    monkeypatch.setenv("RADRL_TEST_TOKEN", "s3cret-token")
    assert check_bind("0.0.0.0", "RADRL_TEST_TOKEN") == "s3cret-token"
    with pytest.raises(InputError):
        check_bind("10.1.2.3", None)


def test_a_request_without_the_token_gets_401(monkeypatch):
    with live_server("deer_tfidf", token="s3cret-token") as (url, _):
        body = {"predictions": ["a"], "references": ["b"]}
        assert httpx.post(f"{url}/v1/rewards", json=body).status_code == 401
        assert httpx.post(f"{url}/v1/rewards", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{url}/v1/info").status_code == 401
        assert httpx.get(f"{url}/health").status_code == 200
        ok = httpx.post(f"{url}/v1/rewards", json=body, headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        monkeypatch.setenv(backends.URL_ENV, url)
        with pytest.raises(InputError, match="RADRL_REWARD_TOKEN"):
            verl.compute_score(solution_str="a", ground_truth="b")
        backends.clear_backends()
        monkeypatch.setenv(backends.TOKEN_ENV, "s3cret-token")
        assert verl.compute_score(solution_str="a", ground_truth="b")["score"] == ok.json()["rewards"][0]


@pytest.mark.slow
def test_no_report_text_in_the_logs_of_a_real_server_at_debug_level(tmp_path):
    """`radrl serve --log-level debug` in its own process: good, bad and failing requests, then
    its whole output is searched for the report text."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "radrl.cli", "serve", "--recipe", "radflow", "--port", str(port),
                             "--log-level", "debug"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        bodies = [{"predictions": [f"Effusion {MARKER}."], "references": [f"No effusion {MARKER}."]},
                  {"predictions": [f"x {MARKER}"], "references": ["y"], "labels": [{f"Heart {MARKER}": "positive"}]},
                  {"predictions": [f"x {MARKER}"], "references": [f"{MARKER}"] * 2},
                  {"query": [f"q {MARKER}"], "prompts": ["q"], "labels": [f"{MARKER}"]}]
        for body in bodies:
            path = "/get_reward" if "query" in body else "/v1/rewards"
            assert httpx.post(url + path, json=body).status_code < 500
        httpx.post(f"{url}/v1/rewards", content=f"{{not json {MARKER}".encode())
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert "POST /v1/rewards" in output  # the debug log is on: it logged the requests
    assert MARKER not in output


def test_remote_backend_rejects_a_server_error_clearly():
    backend = backends.RemoteBackend("http://127.0.0.1:9")
    with pytest.raises(httpx.TransportError):
        backend.score([{"prediction": "a", "reference": "b"}])
    assert math.isfinite(ServeOptions().max_body_mb)


# ---- what a probe with the engines' own clients found (each failed before its fix) ---------------

DEEP = b'{"predictions": ' + b"[" * 10_000 + b"]" * 10_000 + b', "references": ["b"]}'
BIG_STEP = b'{"predictions": ["a"], "references": ["b"], "step": ' + b"7" * 5001 + b"}"


@pytest.mark.parametrize(("path", "body", "status", "field"), [
    ("/v1/rewards", DEEP, 400, "body"),                                          # RecursionError: was 500
    ("/v1/rewards", BIG_STEP, 400, "body"),                                      # int-size ValueError: was 500
    ("/get_reward", json.dumps({"query": ["a"], "labels": [json.dumps({"reference_findings": 5})]}).encode(),
     422, "labels.0"),                                                           # AttributeError: was 500
    ("/get_reward", json.dumps({"query": ["a"], "labels": [json.dumps({"reference_impression": ["x"]})]}).encode(),
     422, "labels.0"),
    ("/get_reward", json.dumps({"query": ["a"], "labels": [{"reference": 3}]}).encode(), 422, "labels.0"),
])
def test_bodies_that_used_to_get_a_500_get_a_4xx_naming_the_field(client, path, body, status, field):
    r = client[0].post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.json()["field"] == field, (r.status_code, r.text[:300])


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/rewards", {"predictions": ["a"], "references": [None]}, "references.0"),
    ("/v1/rewards", {"predictions": ["a", "b"], "references": ["ok", "  "]}, "references.1"),
    ("/v1/rewards", {"predictions": ["a"], "reference_findings": [None], "reference_impression": [""]}, "references.0"),
    ("/get_reward", {"query": ["a"], "labels": [None]}, "labels.0"),
    ("/get_reward", {"query": ["a"], "labels": [""]}, "labels.0"),
    ("/get_reward", {"query": ["a"]}, "labels"),                    # OpenRLHF run without its label key
])
def test_a_missing_reference_is_refused_not_scored_zero(client, path, body, field):
    r = client[0].post(path, json=body)
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert "reference" in r.json()["error"] or "label" in r.json()["error"]


def test_the_adapters_raise_on_a_missing_reference_instead_of_scoring_zero(monkeypatch):
    from radrl.integrations import openrlhf

    monkeypatch.setenv("RADRL_RECIPE", "deer_tfidf")
    with pytest.raises(InputError, match="no reference report"):
        verl.compute_score("mimic", "No acute findings.", None, {})
    with pytest.raises(InputError, match="no reference report"):
        openrlhf.reward_func(["prompt answer"], ["prompt"], [""])
    with pytest.raises(InputError, match="must be text"):
        verl.compute_score("mimic", "No acute findings.", json.dumps({"reference_findings": 5}), {})


def _open_sockets() -> int:
    count = 0
    for f in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{f}").startswith("socket:")
        except OSError:  # closed while we looked
            pass
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts sockets through /proc")
def test_async_remote_calls_from_a_new_event_loop_each_step_leave_no_socket_open():
    """ms-swift runs each step's rewards in asyncio.run: 500 steps used to leave 500 open sockets."""
    rows = report_rows(2)
    with live_server() as (url, _):
        remote = backends.RemoteBackend(url)
        first = asyncio.run(remote.ascore(rows))
        before = _open_sockets()
        for _ in range(500):
            assert asyncio.run(remote.ascore(rows)) == first
        assert _open_sockets() - before <= 2, (before, _open_sockets())


class SlowScorer:
    """The recipe's scorer, 20 ms a row: a labeler slow enough to see what is scored."""

    def __init__(self, scorer):
        self._scorer, self.scored = scorer, 0

    def __getattr__(self, name):
        return getattr(self._scorer, name)

    def components(self, rows):
        time.sleep(0.02 * len(rows))
        self.scored += len(rows)
        return self._scorer.components(rows)


def test_rows_of_clients_that_hung_up_are_not_scored():
    """20 clients send 50 rows each and hang up: their rows used to be scored all the same (1,000
    rows, 20 s here) before the next request's one row."""
    import socket

    holder = {}

    def wrap(scorer):
        holder["s"] = SlowScorer(scorer)
        return holder["s"]

    rows = report_rows(50)
    body = json.dumps(request_body(rows)).encode()
    with live_server(wrap=wrap, max_batch=50, max_wait_ms=1) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        for _ in range(20):
            with socket.create_connection((host, int(port))) as s:
                s.sendall(b"POST /v1/rewards HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.2)  # the server has read them and seen the connections close
        start = time.monotonic()
        r = httpx.post(url + "/v1/rewards", json=request_body(report_rows(1)), timeout=60)
        waited = time.monotonic() - start
    assert r.status_code == 200
    assert holder["s"].scored <= 2 * 50 + 1, holder["s"].scored  # at most the batches already in flight
    assert waited < 5, waited


def test_the_bearer_scheme_is_case_insensitive_and_a_blank_token_is_refused(monkeypatch):
    with live_server(token="s3cret") as (url, _):
        body = request_body(report_rows(1))
        for scheme in ("Bearer", "bearer", "BEARER"):
            r = httpx.post(url + "/v1/rewards", json=body, headers={"Authorization": f"{scheme} s3cret"})
            assert r.status_code == 200, scheme
        assert httpx.post(url + "/v1/rewards", json=body, headers={"Authorization": "Basic s3cret"}).status_code == 401
        assert httpx.post(url + "/v1/rewards", json=body, headers={"Authorization": "Bearer s3cre"}).status_code == 401
    for blank in ("   ", "\t"):
        monkeypatch.setenv("RADRL_TEST_TOKEN", blank)
        with pytest.raises(InputError, match="blank"):
            check_bind("0.0.0.0", "RADRL_TEST_TOKEN")
    monkeypatch.setenv("RADRL_TEST_TOKEN", "two words")
    with pytest.raises(InputError, match="white space"):
        check_bind("127.0.0.1", "RADRL_TEST_TOKEN")


def test_radrl_reward_prints_the_weights_applied_at_its_step(tmp_path, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": str(i), **r}) + "\n" for i, r in enumerate(report_rows(2))))
    assert main(["reward", str(preds), "--recipe", "deer_tfidf", "--tiny", "--step", "2500",
                 "-o", str(tmp_path / "o.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "bleu2 x 0.25" in err and "example_f1 x 1" in err, err  # the schedule's 0.25 from step 120


# ---- the scoring process (radrl serve's default) -------------------------------------------------

def test_the_scoring_process_gives_the_in_process_components_and_totals():
    """What the worker process computes equals RewardScorer in this process, at two steps of the
    bleu2 schedule, over HTTP too; the worker exits when the server shuts it down."""
    from radrl.integrations.serve.worker import ScoringProcess

    recipe = load_recipe("deer_tfidf")
    rows = report_rows(12)
    here = RewardScorer(recipe)
    there = ScoringProcess(recipe)
    try:
        assert there.names == here.names
        got = there.executor.submit(there.components, rows).result()
        assert got == here.components(rows)
        for step in (0, 5000):
            assert there.totals(got, step) == here.totals(here.components(rows), step)
        options = ServeOptions(max_items=64)
        with TestClient(create_app(there, options, recipe_name="deer_tfidf")) as c:
            r = c.post("/v1/rewards", json=request_body(rows))
            assert r.status_code == 200
            assert r.json()["rewards"] == pytest.approx(here.totals(here.components(rows)), abs=0)
            assert c.get("/v1/info").json()["score_in"] == "process"
        assert _gone(there.pid, 10)  # the app's shutdown ended it
    finally:
        there.close()


def test_a_recipe_that_cannot_build_fails_in_the_server_not_in_its_worker():
    from radrl.integrations.serve.worker import ScoringProcess

    recipe = load_recipe("deer_tfidf", overrides=["labeler.name=chexbert", "labeler.weights=/nonexistent/chexbert.pt"])
    with pytest.raises(Exception) as err:
        RewardScorer(recipe)
    with pytest.raises(type(err.value), match="nonexistent"):
        ScoringProcess(recipe)


def test_the_scoring_process_exits_when_the_server_is_killed(tmp_path):
    """A server killed with SIGKILL cannot shut its worker down: the worker sees it gone and exits."""
    script = tmp_path / "server.py"
    script.write_text("import os, sys, time\n"
                      "from radrl.integrations.serve.worker import ScoringProcess\n"
                      "from radrl.recipe import load_recipe\n"
                      "if __name__ == '__main__':\n"
                      "    p = ScoringProcess(load_recipe('deer_tfidf'))\n"
                      "    print(p.pid, flush=True)\n"
                      "    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(proc.stdout.readline())
    assert not _gone(worker, 1)
    proc.kill()
    proc.wait(10)
    assert _gone(worker, 15)


def _gone(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` has exited (or is a zombie) within ``seconds``."""
    import psutil

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False
