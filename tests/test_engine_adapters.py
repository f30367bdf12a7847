"""The engine adapters and the reward server give exactly what `radrl reward` writes (1e-9), for
every shipped RL recipe's rewards, called the way each engine calls them."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from engine_rows import TrainerState, extra_info, load_file_function, payload, report_rows

from radrl.cli import main
from radrl.integrations import backends, openrlhf, swift, verl
from radrl.integrations.__main__ import plugin_path
from radrl.integrations.rows import scoring_row

RECIPES = ["deer_tfidf", "mrg_r1", "orapo", "radflow"]
STEP = 250  # past deer_tfidf's BLEU-2 switch: the schedule must apply


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """`radrl reward`'s output per recipe (the reference every adapter must equal)."""
    tmp = tmp_path_factory.mktemp("reward")
    rows = report_rows()
    src = tmp / "pred.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = {}
    for recipe in RECIPES:
        dst = tmp / f"{recipe}.jsonl"
        assert main(["reward", str(src), "--recipe", recipe, "-o", str(dst), "--step", str(STEP)]) == 0
        out[recipe] = [json.loads(line) for line in dst.read_text().splitlines()]
    return rows, out


def close(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and abs(a - b) <= 1e-9


def same(got_reward, got_components, want) -> None:
    assert close(got_reward, want["reward"]), (got_reward, want["reward"])
    assert set(got_components) == set(want["components"])
    for name, value in want["components"].items():
        assert close(got_components[name], value), (name, got_components[name], value)


@pytest.mark.parametrize("recipe", RECIPES)
def test_verl_compute_score_sync_async_and_batch(expected, recipe):
    rows, want = expected[0], expected[1][recipe]
    for row, w in zip(rows, want):
        # verl's NaiveRewardManager: by keyword, one sample, reward_kwargs merged in (get_custom_reward_fn)
        got = verl.compute_score(data_source="radrl/iu", solution_str=row["prediction"], ground_truth=row["reference"],
                                 extra_info={**extra_info(row), "num_turns": None}, recipe=recipe, step=STEP)
        same(got.pop("score"), got, w)
    got = asyncio.run(verl.compute_score_async(data_source="radrl/iu", solution_str=rows[0]["prediction"],
                                               ground_truth=rows[0]["reference"], extra_info=extra_info(rows[0]),
                                               recipe=recipe, step=STEP))
    same(got.pop("score"), got, want[0])
    batch = verl.compute_score_batch(data_sources=["radrl/iu"] * len(rows), solution_strs=[r["prediction"] for r in rows],
                                     ground_truths=[r["reference"] for r in rows],
                                     extra_infos=[extra_info(r) for r in rows], recipe=recipe, step=STEP)
    for got, w in zip(batch, want):
        same(got.pop("score"), got, w)


@pytest.mark.parametrize("recipe", RECIPES)
def test_easyr1_batch_function_loaded_from_its_file(expected, recipe, monkeypatch):
    rows, want = expected[0], expected[1][recipe]
    module, fn = load_file_function(str(plugin_path("easyr1")), "compute_score")
    assert module.REWARD_TYPE == "batch"
    inputs = [{"response": r["prediction"], "response_length": len(r["prediction"].split()),
               "ground_truth": payload(r)} for r in rows]
    monkeypatch.setenv(backends.RECIPE_ENV, recipe)  # the environment, as a launch script sets it
    for got, w in zip(fn(inputs, step=STEP), want):
        same(got.pop("overall"), got, w)


@pytest.mark.parametrize("recipe", RECIPES)
def test_swift_orms_called_as_swift_calls_them(expected, recipe):
    rows, want = expected[0], expected[1][recipe]
    registry: dict = {}
    names = swift.register(registry, recipe=recipe)
    assert {"radrl", "radrl_remote"} <= set(names)
    # ms-swift: orms[name](args=args), then reward_func(completions, **reward_kwargs) with every column batched
    kwargs = {"trainer_state": TrainerState(STEP), "solution": [r["reference"] for r in rows],
              "reference_findings": [r["reference_findings"] for r in rows],
              "reference_impression": [r["reference_impression"] for r in rows],
              "labels": [extra_info(r)["labels"] for r in rows], "id": [r["id"] for r in rows]}
    completions = [r["prediction"] for r in rows]
    totals = registry["radrl"](args=None, recipe=recipe)(completions, **kwargs)
    assert all(close(t, w["reward"]) for t, w in zip(totals, want))
    for name in (n for n in names if n not in ("radrl", "radrl_remote")):
        reward_name = name.removeprefix("radrl_")
        values = registry[name](args=None, recipe=recipe)(completions, **kwargs)
        assert all(close(v, w["components"][reward_name]) for v, w in zip(values, want))


@pytest.mark.parametrize("recipe", RECIPES)
def test_openrlhf_reward_func_loaded_from_its_file(expected, recipe, monkeypatch):
    rows, want = expected[0], expected[1][recipe]
    _, reward_func = load_file_function(str(plugin_path("openrlhf")), "reward_func", "reward_func")
    monkeypatch.setenv(backends.RECIPE_ENV, recipe)
    prompt = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Write the report.<|im_end|>\n<|im_start|>assistant\n"
    for row, w in zip(rows, want):
        # a VLM query decodes with its image tokens expanded: the prompt is not a prefix of it
        query = prompt.replace("<|image_pad|>", "<|image_pad|>" * 4) + row["prediction"] + "<|im_end|>"
        got = reward_func([query], [prompt], [payload(row)], step=STEP)  # OpenRLHF 0.11: one sample a call
        components = {k: v.item() for k, v in got["extra_logs"].items()}
        same(got["rewards"].item(), components, w)
        assert got["scores"].item() == got["rewards"].item()


def test_response_of_cuts_the_prompt_and_end_tokens():
    prompt = "<s>[INST] Write. [/INST]"
    assert openrlhf.response_of(prompt + " Clear lungs.</s>", prompt) == "Clear lungs."
    assert openrlhf.response_of("system\nuser\n<|im_start|>assistant\nNo effusion.<|im_end|><|endoftext|>",
                                "<|im_start|>user\nX<|im_end|>\n<|im_start|>assistant\n") == "No effusion."


def test_ground_truth_forms():
    plain = scoring_row("p", "Small effusion.")
    assert plain["reference"] == "Small effusion." and plain["labels"] is None
    both = scoring_row("p", json.dumps({"reference_findings": "A.", "reference_impression": "B.",
                                        "labels": {"Edema": "positive"}}))
    assert both["reference"] == "A. B." and both["labels"]["Edema"] == "positive"
    filled = scoring_row("p", "R.", {"reference_impression": "I.", "labels": '{"Edema": "negative"}'})
    assert filled["reference_impression"] == "I." and filled["labels"]["Edema"] == "negative"
    assert scoring_row("p", "{not json")["reference"] == "{not json"  # a report may start with a brace
    from radrl.io import InputError

    with pytest.raises(InputError, match="labels"):
        scoring_row("p", "R.", {"labels": {"Heart": "x"}})


def test_no_recipe_and_no_url_is_a_clear_error():
    from radrl.io import ConfigError

    with pytest.raises(ConfigError, match="RADRL_RECIPE.*RADRL_REWARD_URL"):
        verl.compute_score(solution_str="x", ground_truth="y")


def test_path_command_prints_each_adapter_file(capsys):
    from radrl.integrations.__main__ import main as integrations_main

    assert integrations_main(["path", "easyr1"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.endswith("plugins/radrl_easyr1_reward.py") and load_file_function(printed, "compute_score")
    assert integrations_main(["path", "nope"]) == 2
