"""The registered policy losses and advantage estimators, each against values computed by hand,
and user code named by dotted path."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from radrl.algorithms import (
    ADVANTAGES,
    POLICY_LOSSES,
    PolicyLossInputs,
    pairing_problem,
    register_policy_loss,
    rloo_advantages,
)
from radrl.io import ConfigError


def _inputs(logps, old, adv, mask=None, low=0.2, high=0.2, sampling=None):
    logps = torch.tensor(logps, requires_grad=True)
    old = torch.tensor(old)
    mask = torch.ones_like(old) if mask is None else torch.tensor(mask)
    return PolicyLossInputs(logps, old, torch.tensor(adv), mask, low, high, sampling)


def test_every_trl_loss_type_and_gspo_is_registered():
    for name in ("grpo", "bnpo", "dr_grpo", "dapo", "luspo", "cispo", "sapo", "vespo", "gspo"):
        assert name in POLICY_LOSSES
    expected = {"grpo": "sequence_mean", "bnpo": "token_mean", "dr_grpo": "max_length", "dapo": "generation_tokens",
                "gspo": "sequence_mean", "luspo": "sequence_sum", "cispo": "generation_tokens",
                "sapo": "sequence_mean", "vespo": "generation_tokens"}
    assert {n: POLICY_LOSSES.get(n).aggregation for n in expected} == expected


def test_gspo_clips_the_sequence_ratio():
    # one sequence of 2 tokens: log r = (0.3 + 0.1) / 2 = 0.2, r = e^0.2 = 1.2214 > 1.2 -> clipped, A = 1
    x = _inputs([[0.3, 0.1]], [[0.0, 0.0]], [[1.0]])
    out = POLICY_LOSSES.get("gspo")(x)
    assert out.per_token_loss.shape == (1, 1)
    assert out.per_token_loss.item() == pytest.approx(-1.2)
    assert out.ratio.item() == pytest.approx(math.exp(0.2))
    assert out.metrics["clip_ratio/high_mean"].item() == 1.0
    # the token-level loss sees each token's own ratio: e^0.3 is clipped to 1.2, e^0.1 is not
    token = POLICY_LOSSES.get("grpo")(x).per_token_loss
    torch.testing.assert_close(token, torch.tensor([[-1.2, -math.exp(0.1)]]))


def test_cispo_caps_the_ratio_and_keeps_the_log_prob_gradient():
    # r = (e^1, e^0) with cap 2: loss = -min(r, 2) A log pi; d/dlogp = -min(r, 2) A (the cap is detached)
    x = _inputs([[1.0, 0.0]], [[0.0, 0.0]], [[2.0]], high=2.0)
    out = POLICY_LOSSES.get("cispo")(x)
    torch.testing.assert_close(out.per_token_loss, torch.tensor([[-2.0 * 2.0 * 1.0, -1.0 * 2.0 * 0.0]]))
    out.per_token_loss.sum().backward()
    torch.testing.assert_close(x.logps.grad, torch.tensor([[-4.0, -2.0]]))
    assert out.metrics["cispo_clip_ratio"].tolist() == [[1.0, 0.0]]


def test_sapo_gate_at_ratio_one_has_the_slope_of_r_times_a():
    # at r = 1: loss = -(4/tau) sigmoid(0) A = -2A/tau; d/dlogp = -(4/tau) tau sigmoid'(0) r A = -A
    x = _inputs([[0.0, 0.0]], [[0.0, 0.0]], [[1.0, -1.0]])
    out = POLICY_LOSSES.get("sapo")(x, temperature_pos=2.0, temperature_neg=4.0)
    torch.testing.assert_close(out.per_token_loss, torch.tensor([[-2.0 / 2.0, 2.0 / 4.0]]))
    out.per_token_loss.sum().backward()
    torch.testing.assert_close(x.logps.grad, torch.tensor([[-1.0, 1.0]]))


def test_vespo_gamma_weight_by_hand():
    # w = prod r = e^(log 2) = 2, k = 2, lambda = 3: phi = e^3 * 2^2 * e^-6 = 4 e^-3; at w = 1 phi = 1
    x = _inputs([[math.log(2), -1.0]], [[0.0, -1.0]], [[1.0]])
    out = POLICY_LOSSES.get("vespo")(x, k_pos=2.0, lambda_pos=3.0)
    phi = 4 * math.exp(-3)
    torch.testing.assert_close(out.per_token_loss, torch.tensor([[-phi * math.log(2), phi * 1.0]]))
    same = POLICY_LOSSES.get("vespo")(_inputs([[0.5, 0.5]], [[0.5, 0.5]], [[-1.0]]))
    assert same.metrics["vespo/phi_seq_mean"].item() == pytest.approx(1.0)


def test_rloo_baseline_is_the_mean_of_the_others():
    # group [1, 0, 0.5]: baselines (0.25, 0.75, 0.5) -> A = (0.75, -0.75, 0)
    torch.testing.assert_close(rloo_advantages(torch.tensor([1.0, 0.0, 0.5]), 3), torch.tensor([0.75, -0.75, 0.0]))
    # a failed sample gets 0 and leaves the others' baselines; a lone valid sample has no baseline: 0
    a = rloo_advantages(torch.tensor([1.0, float("nan"), 0.0, 1.0]), 2)
    torch.testing.assert_close(a, torch.tensor([0.0, 0.0, -1.0, 1.0]))
    assert ADVANTAGES.get("rloo") is rloo_advantages


def test_clip_components_pair_only_with_clip_range_losses():
    assert pairing_problem("grpo", POLICY_LOSSES.get("grpo"), "capo") is None
    assert pairing_problem("cispo", POLICY_LOSSES.get("cispo"), None) is None
    assert "absolute cap" in pairing_problem("cispo", POLICY_LOSSES.get("cispo"), "capo")
    assert "no clip range" in pairing_problem("sapo", POLICY_LOSSES.get("sapo"), "capo")


def test_register_policy_loss_refuses_an_unknown_aggregation():
    with pytest.raises(ValueError, match="aggregation must be one of"):
        register_policy_loss("bad_test_loss", aggregation="median")


def test_a_dotted_path_imports_user_code_and_a_bad_one_says_why(tmp_path, monkeypatch):
    (tmp_path / "my_losses_test.py").write_text(
        "from radrl.algorithms import PolicyLossOutput, register_policy_loss\n"
        "@register_policy_loss('my_short_name_test', aggregation='token_mean')\n"
        "def half_pg(x, coef: float = 0.5):\n"
        "    return PolicyLossOutput(-coef * x.advantages * x.logps, x.logps.exp(), {})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert "my_losses_test:half_pg" in POLICY_LOSSES
        fn = POLICY_LOSSES.get("my_losses_test:half_pg")
        assert fn.aggregation == "token_mean" and POLICY_LOSSES.get("my_short_name_test") is fn
        with pytest.raises(ConfigError, match="could not be imported from module 'no_such_module_test'.*"
                                              "ModuleNotFoundError"):
            POLICY_LOSSES.get("no_such_module_test:f")
        with pytest.raises(ConfigError, match="AttributeError"):
            POLICY_LOSSES.get("my_losses_test:missing")
        with pytest.raises(ConfigError, match="did you mean gspo"):
            POLICY_LOSSES.get("gspoo")
    finally:
        for name in ("my_losses_test:half_pg", "my_short_name_test"):
            POLICY_LOSSES.unregister(name)
        sys.modules.pop("my_losses_test", None)


def test_an_installed_plugin_registers_through_the_radrl_plugins_entry_point(tmp_path, monkeypatch):
    """A package that declares ``[project.entry-points."radrl.plugins"]`` has its module imported
    the first time a name is not found; its registrations then work as short names."""
    from radrl import registry

    dist = tmp_path / "radrl_plugin_test-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: radrl-plugin-test\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[radrl.plugins]\nmine = radrl_plugin_mod_test\n")
    (tmp_path / "radrl_plugin_mod_test.py").write_text(
        "from radrl.algorithms import ADVANTAGES\n"
        "@ADVANTAGES.register('centred_test')\n"
        "def centred(rewards, group_size):\n"
        "    g = rewards.view(-1, group_size)\n"
        "    return (g - g.mean(1, keepdim=True)).reshape(-1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry, "_plugin_errors", [])
    try:
        assert "centred_test" in ADVANTAGES
        torch.testing.assert_close(ADVANTAGES.get("centred_test")(torch.tensor([1.0, 3.0]), 2),
                                   torch.tensor([-1.0, 1.0]))
    finally:
        ADVANTAGES.unregister("centred_test")
        sys.modules.pop("radrl_plugin_mod_test", None)


def test_the_clip_slot_takes_per_token_ranges():
    # r = e^0.3 = 1.35 on both tokens, A = 1: eps 0.5 leaves token 0 unclipped, eps 0.1 clips token 1 to 1.1
    x = _inputs([[0.3, 0.3]], [[0.0, 0.0]], [[1.0]], low=torch.tensor([[0.5, 0.1]]), high=torch.tensor([[0.5, 0.1]]))
    out = POLICY_LOSSES.get("grpo")(x)
    torch.testing.assert_close(out.per_token_loss, torch.tensor([[-math.exp(0.3), -1.1]]))
    assert out.metrics["clip_ratio/high_mean"].tolist() == [[0.0, 1.0]]


def test_a_policy_loss_must_declare_its_aggregation():
    from radrl.algorithms import aggregation_problem

    def undeclared(x):
        return x

    assert "declares no aggregation" in aggregation_problem("undeclared", undeclared)
    assert aggregation_problem("grpo", POLICY_LOSSES.get("grpo")) is None
