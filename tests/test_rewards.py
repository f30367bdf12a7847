"""Rewards on hand-checked reports, TRL's call signature, failures, schedules and the registry."""

import json
import math

import numpy as np
import pytest

from radrl.labelers import RuleLabeler
from radrl.rewards import (
    BleuReward,
    ExampleF1Reward,
    FormatReward,
    MCCSReward,
    RewardFunction,
    build_rewards,
    extract_report,
    format_score,
    mccs,
    sentence_bleu,
    weight_at,
)


def conv(text):
    return [{"role": "assistant", "content": text}]


def test_example_f1_reward_conversational_and_gt_labels():
    reward = ExampleF1Reward()
    out = reward(prompts=None, completions=[conv("Cardiomegaly. Small left pleural effusion."), conv("No acute findings.")],
                 reference=["The heart is enlarged. No effusion.", "Normal chest."])
    assert out == pytest.approx([2 / 3, 1.0])  # {Cm, Eff} vs {Cm}; No Finding vs No Finding
    # dataset ground-truth labels take precedence over labelling the reference text
    gt = json.dumps({"Pneumothorax": "positive"})
    assert reward(completions=["Right pneumothorax."], reference=["whatever"], gt_labels=[gt]) == [1.0]


def test_mccs_formula_and_reward():
    z = np.array([[1, -1, 0]])
    z_ref = np.array([[1, -1, -1]])
    ccs = 2 / (math.sqrt(2) * math.sqrt(3))
    assert mccs(z, z_ref, 0.5)[0] == pytest.approx((ccs - 0.5) / 0.5)
    assert mccs(np.array([[1, 0, 0]]), np.array([[-1, 0, 0]]), 0.0)[0] == 0.0  # polarity flip clipped at 0
    reward = MCCSReward(margin=0.5)
    out = reward(completions=["Cardiomegaly. No pneumothorax."],
                 reference=["Heart enlarged. No pneumothorax. No effusion."])
    assert out[0] == pytest.approx((ccs - 0.5) / 0.5)
    with pytest.raises(ValueError):
        MCCSReward(margin=1.0)


def test_sentence_bleu2():
    scores = sentence_bleu(["the heart is enlarged", "normal"], ["the heart is enlarged .", "the lungs are clear"])
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    assert scores[1] == pytest.approx(0.0, abs=1e-6)
    assert BleuReward()(completions=["the heart is enlarged"], reference=["the heart is enlarged ."])[0] > 0.99


@pytest.mark.parametrize("text, score", [
    ("<think>heart big</think><report>Cardiomegaly.</report>", 1.0),
    ("  <think>a</think>\n<report>b</report>\n", 1.0),
    ("<think></think><report>b</report>", 0.5),
    ("intro <think>a</think><report>b</report>", 0.5),
    ("<report>Cardiomegaly.</report>", 0.25),
    ("<report> </report>", 0.0),
    ("<report>b</report><think>a</think>", 0.0),
    ("<think>a<report>b</report></think>", 0.0),
    ("Cardiomegaly.", 0.0),
])
def test_format_score(text, score):
    assert format_score(text) == score


def test_extract_report_modes_and_clinical_reward_on_report_block():
    text = "<think>the heart looks big</think><report>Cardiomegaly.</report>"
    assert extract_report(text, "strict") == "Cardiomegaly."
    assert extract_report("no tags", "strict") == ""
    assert extract_report("no tags", "lenient") == "no tags"
    assert extract_report("<think>x</think><report>Effusion", "lenient") == "Effusion"
    reward = ExampleF1Reward(extract="strict")
    # the think block mentions effusion; only the report block is scored
    out = reward(completions=["<think>effusion?</think><report>Cardiomegaly.</report>"],
                 reference=["Cardiomegaly."])
    assert out == [1.0]
    assert FormatReward()(completions=[text], reference=["x"]) == [1.0]


class _Flaky(RewardFunction):
    name = "flaky"

    def score(self, texts, references, ref_labels):
        if any("boom" in t for t in texts):
            raise RuntimeError("boom")
        return [1.0] * len(texts)


def test_failing_sample_is_skipped_and_counted():
    logged = {}
    reward = _Flaky()
    out = reward(completions=["ok", "boom", "fine"], reference=["a", "b", "c"],
                 log_metric=lambda k, v: logged.__setitem__(k, v))
    assert out == [1.0, None, 1.0]
    assert reward.failures == 1 and logged == {"rewards/flaky/failed": 1.0}


def test_missing_reference_column_is_a_clear_error():
    with pytest.raises(ValueError, match="reference"):
        ExampleF1Reward()(completions=["x"])


def test_weight_schedule_two_phases():
    assert weight_at(0, 0.0, [[200, 0.25]]) == 0.0
    assert weight_at(199, 0.0, [[200, 0.25]]) == 0.0
    assert weight_at(200, 0.0, [[200, 0.25]]) == 0.25
    assert weight_at(500, 1.0, [[300, 0.1], [100, 0.5]]) == 0.1
    assert weight_at(150, 1.0, [[300, 0.1], [100, 0.5]]) == 0.5


def test_build_rewards_shares_one_labeler_and_checks_input():
    labeler = RuleLabeler()
    rs = build_rewards([{"type": "mccs", "weight": 0.75, "margin": 0.3}, {"type": "format", "weight": 0.25},
                        {"type": "example_f1", "name": "f1"}], labeler)
    assert rs.names == ["mccs", "format", "f1"] and rs.weights == [0.75, 0.25, 1.0]
    assert rs.functions[0].labeler is labeler is rs.functions[2].labeler
    with pytest.raises(ValueError, match="unknown reward type .nope."):
        build_rewards([{"type": "nope"}])
    with pytest.raises(ValueError, match=r"rewards\[0\]"):
        build_rewards([{"type": "format", "bogus": 1}])
    with pytest.raises(ValueError, match="distinct"):
        build_rewards([{"type": "format"}, {"type": "format"}])
