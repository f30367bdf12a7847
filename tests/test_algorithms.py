"""The RL algorithms on hand-computed numbers."""

import math

import pytest
import torch

from radrl.algorithms import (
    aggregate_loss,
    capo_clip_range,
    clipped_surrogate,
    dpo_loss,
    ema_update,
    group_advantages,
    group_reward_stats,
    kl_k3,
    mixing_weight,
    sequence_logp,
    tfidf_token_weights,
    token_level_advantages,
    zero_reward_groups,
)


def test_group_advantages_grpo_and_dr_grpo():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0])
    std = math.sqrt(0.5)  # Bessel: ((.5)^2 + (.5)^2) / (2 - 1)
    a = 0.5 / (std + 1e-4)
    assert torch.allclose(group_advantages(r, 2), torch.tensor([a, -a, -a, a]))
    assert torch.allclose(group_advantages(r, 2, scale="none"), torch.tensor([0.5, -0.5, -0.5, 0.5]))
    # batch scaling: std over all four = sqrt(1/3)
    b = 0.5 / (math.sqrt(1 / 3) + 1e-4)
    assert torch.allclose(group_advantages(r, 2, scale="batch"), torch.tensor([b, -b, -b, b]))


def test_group_advantages_equal_rewards_and_failed_samples_give_zero():
    assert torch.equal(group_advantages(torch.tensor([0.3, 0.3, 0.3]), 3), torch.zeros(3))
    a = group_advantages(torch.tensor([1.0, float("nan"), 0.0, 1.0]), 2)
    assert a[0] == 0 and a[1] == 0  # one scorable sample: nothing to compare with
    assert a[2] < 0 < a[3]
    with pytest.raises(ValueError):
        group_advantages(torch.zeros(5), 2)
    with pytest.raises(ValueError):
        group_advantages(torch.zeros(4), 2, scale="bogus")


def test_group_reward_stats():
    s = group_reward_stats(torch.tensor([0.0, 0.0, 1.0, 0.5, 1.0, 1.0]), 2)
    assert s["zero_std_share"] == pytest.approx(2 / 3)
    assert s["unique_per_group"] == pytest.approx(4 / 3)
    assert s["group_std"] == pytest.approx(math.sqrt(0.125) / 3)
    assert s["all_zero_share"] == pytest.approx(1 / 3)


def test_tfidf_token_weights_hand_computed():
    ids = torch.tensor([[5, 6, 6], [5, 7, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    w = tfidf_token_weights(ids, mask, group_size=2, alpha=4.0)
    ln2 = math.log(2)
    expected = torch.tensor([[1.0, 1 + 4 * (2 / 3) * ln2, 1 + 4 * (2 / 3) * ln2],
                             [1.0, 1 + 4 * 0.5 * ln2, 1.0]])
    assert torch.allclose(w, expected)


def test_tfidf_raw_term_frequency():
    ids = torch.tensor([[5, 6, 6], [5, 7, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    w = tfidf_token_weights(ids, mask, group_size=2, alpha=4.0, tf="raw")
    ln2 = math.log(2)
    assert torch.allclose(w, torch.tensor([[1.0, 1 + 8 * ln2, 1 + 8 * ln2], [1.0, 1 + 4 * ln2, 1.0]]))
    with pytest.raises(ValueError):
        tfidf_token_weights(ids, mask, group_size=2, tf="log")


def test_tfidf_groups_are_independent_and_shared_tokens_get_one():
    # token 9 is in every report of group 1 but only one report of group 2
    ids = torch.tensor([[9, 1], [9, 2], [9, 3], [4, 4]])
    mask = torch.ones_like(ids)
    w = tfidf_token_weights(ids, mask, group_size=2, alpha=1.0)
    assert torch.equal(w[0, 0], torch.tensor(1.0)) and torch.equal(w[1, 0], torch.tensor(1.0))
    assert w[2, 0] == pytest.approx(1 + 0.5 * math.log(2))
    assert w[3, 0] == pytest.approx(1 + 1.0 * math.log(2))  # tf = 2/2


def test_token_level_advantages():
    out = token_level_advantages(torch.tensor([2.0, -1.0]), torch.tensor([[1.0, 3.0], [2.0, 1.0]]))
    assert torch.equal(out, torch.tensor([[2.0, 6.0], [-2.0, -1.0]]))


def test_clipped_surrogate_hand_computed_and_per_sample_clip():
    logp = torch.log(torch.tensor([[1.5], [1.5], [0.5]]))
    old = torch.zeros(3, 1)
    adv = torch.tensor([1.0, -1.0, -1.0])
    loss = clipped_surrogate(logp, old, adv, 0.2, 0.2)
    assert torch.allclose(loss, torch.tensor([[-1.2], [1.5], [0.8]]))
    eps = capo_clip_range(torch.tensor([True, False, True]), 0.2)
    assert torch.allclose(eps, torch.tensor([0.05, 0.2, 0.05]))
    loss = clipped_surrogate(logp, old, adv, eps, eps)
    assert torch.allclose(loss, torch.tensor([[-1.05], [1.5], [0.95]]))
    # (B, T) advantages are used per token
    two = clipped_surrogate(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[1.0, 3.0]]), 0.2, 0.2)
    assert torch.equal(two, torch.tensor([[-1.0, -3.0]]))


def test_kl_k3():
    kl = kl_k3(torch.tensor([0.0, -1.0]), torch.tensor([math.log(0.5), -1.0]))
    assert kl[0] == pytest.approx(0.5 + math.log(2) - 1) and kl[1] == 0


def test_aggregate_loss_variants():
    loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert aggregate_loss(loss, mask, "sequence_mean") == pytest.approx((6 / 3 + 4 / 1) / 2)
    assert aggregate_loss(loss, mask, "token_mean") == pytest.approx(10 / 4)
    assert aggregate_loss(loss, mask, "max_length", max_completion_length=4) == pytest.approx(10 / 8)
    assert aggregate_loss(loss, mask, "generation_tokens", token_normalizer=5.0) == pytest.approx(2.0)
    assert aggregate_loss(loss, mask, "sequence_sum") == pytest.approx((6 + 4) / 2)
    assert aggregate_loss(torch.tensor([[2.0], [3.0]]), mask, "sequence_sum") == pytest.approx((2 * 3 + 3 * 1) / 2)
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate_loss(loss, mask, "cispo")


def test_ln_dpo():
    logps = torch.tensor([[-1.0, -2.0, -3.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    assert sequence_logp(logps, mask).item() == pytest.approx(-1.5)
    assert sequence_logp(logps, mask, length_normalise=False).item() == pytest.approx(-3.0)
    loss = dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), beta=0.5)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1.0)))


def test_zero_reward_rate_ema_and_lambda():
    assert torch.equal(zero_reward_groups(torch.tensor([0.0, 0.0, 0.0, 1.0]), 2), torch.tensor([1.0, 0.0]))
    assert ema_update(torch.tensor(0.5), torch.tensor(1.0), 0.9).item() == pytest.approx(0.55)
    assert mixing_weight(torch.tensor(0.5), 0.1, 0.5, 2.0).item() == pytest.approx(0.2)
    assert mixing_weight(torch.tensor(0.0), 0.1, 0.5, 2.0).item() == pytest.approx(0.1)
    assert mixing_weight(torch.tensor(1.0), 0.1, 0.5, 2.0).item() == pytest.approx(0.5)
