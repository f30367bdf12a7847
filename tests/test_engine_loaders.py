"""The adapters loaded and called by the engines' own code, where the engine imports here.

`make test` skips these (the engines are not radrl dependencies). `make test-engines` installs
verl 0.9.1, ms-swift 4.6.0 and OpenRLHF 0.11.2 with --no-deps (plus the few modules their
loading code imports: engines-requirements.txt) into .venv-engines and runs this file there.
EasyR1 is not on PyPI: its loader (spec_from_file_location + REWARD_TYPE) is reproduced in
test_engine_adapters.py, as read from its source.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from engine_rows import TrainerState, extra_info, payload, report_rows

from radrl.integrations import backends
from radrl.integrations.__main__ import plugin_path
from radrl.recipe import load_recipe
from radrl.rewards.offline import score_rows

STEP = 250


def _want(recipe: str, rows, step: int = STEP):
    return score_rows(load_recipe(recipe), rows, step=step)


def test_verl_custom_reward_loader():
    reward = pytest.importorskip("verl.trainer.ppo.reward", reason="verl is not installed (make test-engines)")
    rows = report_rows(10)
    from omegaconf import OmegaConf

    # verl 0.9: reward.custom_reward_function.{path,name,reward_kwargs}
    config = OmegaConf.create({"reward": {"custom_reward_function": {
        "path": str(plugin_path("verl")), "name": "compute_score", "reward_kwargs": {"recipe": "radflow", "step": STEP}}}})
    fn = reward.get_custom_reward_fn(config)
    for row, want in zip(rows, _want("radflow", rows)):
        got = fn(data_source="radrl/iu", solution_str=row["prediction"], ground_truth=row["reference"],
                 extra_info={**extra_info(row), "num_turns": None, "rollout_reward_scores": {}})
        assert got["score"] == pytest.approx(want["reward"], abs=1e-9)
    config.reward.custom_reward_function.name = "compute_score_async"
    async_fn = reward.get_custom_reward_fn(config)
    got = asyncio.run(async_fn(data_source="radrl/iu", solution_str=rows[0]["prediction"],
                               ground_truth=rows[0]["reference"], extra_info=extra_info(rows[0])))
    assert got["score"] == pytest.approx(_want("radflow", rows[:1])[0]["reward"], abs=1e-9)


def test_swift_external_plugin_and_reward_loop(monkeypatch):
    pytest.importorskip("swift.rewards", reason="ms-swift is not installed (make test-engines)")
    import torch
    from swift.rewards import orms
    from swift.rl_core.data import GRPOSample
    from swift.rl_core.grpo_algorithm import compute_rewards_per_func
    from swift.utils import import_external_file

    monkeypatch.setenv(backends.RECIPE_ENV, "deer_tfidf")
    import_external_file(str(plugin_path("swift")))  # what --external_plugins does
    assert {"radrl", "radrl_remote", "radrl_example_f1", "radrl_bleu2"} <= set(orms)
    rows = report_rows(10)
    samples = [GRPOSample(messages=[{"role": "user", "content": "<image>Write."},
                                    {"role": "assistant", "content": r["prediction"]}],
                          extra={"solution": r["reference"], "reference_findings": r["reference_findings"],
                                 "reference_impression": r["reference_impression"],
                                 "labels": extra_info(r)["labels"], "id": r["id"]}) for r in rows]
    funcs = [orms["radrl"](args=None), orms["radrl_example_f1"](args=None), orms["radrl_bleu2"](args=None)]
    got = compute_rewards_per_func(samples, funcs, None, device=torch.device("cpu"), trainer_state=TrainerState(STEP))
    want = _want("deer_tfidf", rows)
    assert got[:, 0].tolist() == pytest.approx([w["reward"] for w in want], abs=1e-6)  # ms-swift holds float32
    assert got[:, 1].tolist() == pytest.approx([w["components"]["example_f1"] for w in want], abs=1e-6)


def test_openrlhf_reward_func_file_and_http_client():
    agent = pytest.importorskip("openrlhf.utils.agent", reason="OpenRLHF is not installed (make test-engines)")
    from serve_helpers import live_server

    rows = report_rows(6)
    prompt = "<|im_start|>user\nWrite.<|im_end|>\n<|im_start|>assistant\n"
    queries = [prompt + r["prediction"] + "<|im_end|>" for r in rows]
    want = _want("deer_tfidf", rows, step=0)
    import os

    os.environ[backends.RECIPE_ENV] = "deer_tfidf"
    try:
        executor = agent.SingleTurnAgentExecutor(remote_rm_url=str(plugin_path("openrlhf")))
        for q, r, w in zip(queries, rows, want):
            info = asyncio.run(executor._fetch_rewards_via_func([q], [prompt], [payload(r)]))[0]
            assert info["rewards"].item() == pytest.approx(w["reward"], abs=1e-9)
    finally:
        del os.environ[backends.RECIPE_ENV]
    with live_server("deer_tfidf") as (url, _):
        executor = agent.SingleTurnAgentExecutor(remote_rm_url=f"{url}/get_reward")
        info = asyncio.run(executor._fetch_rewards_via_http(queries, [prompt] * len(rows),
                                                           [payload(r) for r in rows]))[0]
    assert info["rewards"] == pytest.approx([w["reward"] for w in want], abs=1e-9)
    assert set(info["extra_logs"]) == {"example_f1", "bleu2"} and json.dumps(info)
