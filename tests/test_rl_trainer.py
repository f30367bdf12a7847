"""RadRLTrainer against stock TRL GRPOTrainer, and each extension on a tiny VLM."""

from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch
from helpers import LengthReward

from radrl.algorithms import CapoClipRange, OrapoDpoLoss, TfidfTokenWeights
from radrl.data.synthetic import load_synthetic
from radrl.models import load_policy
from radrl.rewards import ExampleF1Reward, RewardFunction
from radrl.training.component_context import for_completion, forward_kwargs
from radrl.training.datasets import to_trl_dataset
from radrl.training.rl_trainer import RadRLConfig, RadRLTrainer

COMMON = dict(per_device_train_batch_size=8, num_generations=4, max_completion_length=24, learning_rate=0.1,
              optim="sgd", report_to=[], save_strategy="no", activation_checkpointing=False, bf16=False, seed=0,
              logging_steps=1, disable_tqdm=True, dataloader_pin_memory=False, max_steps=1, lr_scheduler_type="constant")


@pytest.fixture(scope="module")
def rl_data(tiny_bench):
    samples = load_synthetic(tiny_bench, "train")[:8]
    return samples, to_trl_dataset(samples, with_completion=False)


def _trainer(cls, config_cls, tiny_vlm, dataset, tmp_path, rewards=None, components=(), **kwargs):
    """``cls`` is GRPOTrainer (with GRPOConfig) or RadRLTrainer (with RadRLConfig and ``components``)."""
    model, processor = load_policy(str(tiny_vlm))
    extra = {k: kwargs.pop(k) for k in ("policy_loss", "advantage") if k in kwargs}
    args = config_cls(output_dir=str(tmp_path / cls.__name__), **{**COMMON, **kwargs})
    if components:
        extra["components"] = list(components)
    return cls(model=model, reward_funcs=rewards or [ExampleF1Reward()], args=args, train_dataset=dataset,
               processing_class=processor, **extra)


def _rollout_logps(trainer, batch):
    """The policy's per-token log-probs of the batch's completions: one plain forward over
    prompt + completion (TRL's own per-token function), no gradient."""
    with torch.no_grad():
        ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
        attn = torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1)
        return trainer._get_per_token_logps_and_entropies(trainer.model, ids, attn, batch["completion_ids"].size(1),
                                                          **forward_kwargs(batch))[0]


TRL_LOSSES = [  # every TRL 1.16 loss_type, and GSPO (grpo at sequence level); beta > 0 puts the KL term in
    ("grpo", {}, 0.0), ("dapo", {}, 0.04), ("dr_grpo", {}, 0.0), ("bnpo", {}, 0.04),
    ("luspo", {"importance_sampling_level": "sequence"}, 0.0), ("cispo", {"epsilon_high": 1.1}, 0.04),
    ("sapo", {}, 0.0), ("vespo", {}, 0.04),
    ("grpo", {"importance_sampling_level": "sequence", "use_bias_correction_kl": True}, 0.04),  # GSPO
]


@pytest.mark.parametrize("loss_type, settings, beta", TRL_LOSSES,
                         ids=[f"{t}-{s.get('importance_sampling_level', 'token')}" for t, s, _ in TRL_LOSSES])
def test_extensions_off_give_stock_loss_advantages_and_gradients(tiny_vlm, rl_data, tmp_path, loss_type, settings,
                                                                 beta):
    from trl import GRPOConfig, GRPOTrainer

    _, dataset = rl_data
    rewards = [LengthReward(), ExampleF1Reward()]
    kwargs = dict(loss_type=loss_type, beta=beta, **settings)
    stock = _trainer(GRPOTrainer, GRPOConfig, tiny_vlm, dataset, tmp_path, rewards, **kwargs)
    ours = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, rewards, **kwargs)
    assert ours._radrl_loss  # radrl's own loss path is the one under test
    want = "gspo" if settings.get("importance_sampling_level") == "sequence" and loss_type == "grpo" else loss_type
    assert ours.policy_loss_name == want
    batch = [dataset[i] for i in range(2) for _ in range(4)]  # 2 prompts x 4 rollouts, TRL's order
    outputs = []
    for trainer in (stock, ours):
        trainer.model.train()
        torch.manual_seed(0)
        outputs.append(trainer._generate_and_score_completions(copy.deepcopy(batch)))
    for key, value in outputs[0].items():
        if torch.is_tensor(value):
            torch.testing.assert_close(outputs[1][key], value, rtol=0, atol=0, msg=key)
    assert outputs[0]["advantages"].abs().sum() > 0  # a batch with signal, or the test proves little
    # as if the policy had moved since sampling: ratios away from 1, so the clips, caps and gates act
    generator = torch.Generator().manual_seed(1)
    noise = 0.3 * torch.randn(outputs[0]["completion_mask"].shape, generator=generator)
    outputs[0]["old_per_token_logps"] = _rollout_logps(stock, outputs[0]) + noise

    grads = []
    for trainer in (stock, ours):
        trainer.current_gradient_accumulation_steps = 1
        trainer.model.zero_grad()
        loss = trainer._compute_loss(trainer.model, outputs[0])
        loss.backward()
        grads.append((loss.detach(), {n: p.grad.clone() for n, p in trainer.model.named_parameters()
                                      if p.grad is not None}))
    assert grads[0][0] != 0
    torch.testing.assert_close(grads[1][0], grads[0][0])
    assert grads[0][1].keys() == grads[1][1].keys() and grads[0][1]
    for name, g in grads[0][1].items():
        torch.testing.assert_close(grads[1][1][name], g, msg=name)


@pytest.mark.parametrize("loss_type, settings, beta", TRL_LOSSES,
                         ids=[f"{t}-{s.get('importance_sampling_level', 'token')}" for t, s, _ in TRL_LOSSES])
def test_every_policy_loss_trains_with_tfidf_token_weights_and_orapo(tiny_vlm, rl_data, tmp_path, loss_type, settings, beta):
    _, dataset = rl_data
    trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, [LengthReward()],
                       components=[TfidfTokenWeights(alpha=4.0), OrapoDpoLoss()], loss_type=loss_type, beta=beta,
                       **settings)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    trainer.train()
    log = trainer.state.log_history[0]
    assert math.isfinite(log["loss"]) and log["token_weights/mean"] > 1.0  # the weights were on
    assert log["orapo/lambda_mean"] > 0 and "orapo/dpo_loss" in log  # and OraPO's scale and DPO term
    moved = [n for n, p in trainer.model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert moved  # the step changed the policy


def test_a_registered_policy_loss_and_rloo_advantages_reach_the_trainer(tiny_vlm, rl_data, tmp_path):
    """``policy_loss`` / ``advantage`` given to the trainer replace TRL's: the advantages are RLOO's
    of the weighted rewards, and the loss is the registered function's, aggregated as it declares."""
    from radrl.algorithms import POLICY_LOSSES, PolicyLossOutput, register_policy_loss

    @register_policy_loss("half_pg_test", aggregation="token_mean", clip=None)
    def half_pg(x, coef: float = 0.5):
        return PolicyLossOutput(-coef * x.advantages * x.logps, x.logps.exp(), {})

    _, dataset = rl_data
    try:
        trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, [LengthReward()], loss_type="grpo",
                           policy_loss=("half_pg_test", {"coef": 2.0}), advantage=("rloo", {}))
        batch = [dataset[i] for i in range(2) for _ in range(4)]
        trainer.model.train()
        torch.manual_seed(0)
        out = trainer._generate_and_score_completions(batch)
        mask = out["completion_mask"].float()
        texts = trainer.processing_class.batch_decode(out["completion_ids"], skip_special_tokens=True)
        grouped = torch.tensor([len(t) / 100 for t in texts]).view(2, 4)  # LengthReward, from the raw texts
        rloo = grouped - (grouped.sum(1, keepdim=True) - grouped) / 3
        torch.testing.assert_close(out["advantages"], rloo.reshape(-1), rtol=1e-5, atol=1e-6)
        trainer.current_gradient_accumulation_steps = 1
        loss = trainer._compute_loss(trainer.model, out)
        logps = _rollout_logps(trainer, out)
        want = (-2.0 * out["advantages"].unsqueeze(1) * logps * mask).sum() / mask.sum()
        torch.testing.assert_close(loss.detach(), want, rtol=1e-5, atol=1e-6)
    finally:
        POLICY_LOSSES.unregister("half_pg_test")


def test_one_training_step_matches_stock(tiny_vlm, rl_data, tmp_path):
    from trl import GRPOConfig, GRPOTrainer

    _, dataset = rl_data
    runs = []
    for cls, cfg in ((GRPOTrainer, GRPOConfig), (RadRLTrainer, RadRLConfig)):
        trainer = _trainer(cls, cfg, tiny_vlm, dataset, tmp_path, [LengthReward()], loss_type="grpo")
        trainer.train()
        runs.append((trainer.state.log_history[0], dict(trainer.model.named_parameters())))
    (log_a, params_a), (log_b, params_b) = runs
    assert log_a["loss"] == log_b["loss"] and log_a["reward"] == log_b["reward"]
    for name, p in params_a.items():
        torch.testing.assert_close(params_b[name], p, msg=name)


def test_ditpo_capo_orapo_train_and_log_diagnostics(tiny_vlm, rl_data, tmp_path):
    samples, dataset = rl_data
    dataset = dataset.add_column("critical", [i % 2 == 0 for i in range(len(dataset))])
    trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, max_steps=2, loss_type="grpo",
                       components=[TfidfTokenWeights(), CapoClipRange(), OrapoDpoLoss()], learning_rate=1e-3)
    trainer.train()
    logs = trainer.state.log_history
    for key in ("diagnostics/zero_std_share", "diagnostics/unique_per_group", "diagnostics/group_std",
                "diagnostics/all_zero_share", "token_weights/mean", "token_weights/max", "orapo/lambda_mean",
                "orapo/dpo_loss", "capo/critical_share", "rewards/example_f1/mean"):
        assert key in logs[0], key
    assert logs[0]["token_weights/max"] >= logs[0]["token_weights/mean"] >= 1.0
    assert 0.05 <= logs[0]["orapo/lambda_mean"] <= 0.5
    assert set(trainer.components["aux_loss"].zrr_ema) <= {s.id for s in samples} and trainer.components["aux_loss"].zrr_ema
    # OraPO's reference is the initial checkpoint, loaded afresh as TRL loads its reference model
    # (a deepcopy would copy one rank's shards under ZeRO-3), frozen while the policy moved
    start = load_policy(str(tiny_vlm))[0].state_dict()
    ref = dict(trainer.accelerator.unwrap_model(trainer._frozen_ref).state_dict())
    policy = dict(trainer.accelerator.unwrap_model(trainer.model).state_dict())
    matched = [k for k in start if k in ref]
    assert len(matched) == len(start) == len(ref)
    for key in matched:
        torch.testing.assert_close(ref[key], start[key].to(ref[key].dtype), rtol=0, atol=0, msg=key)
    assert any(not torch.equal(policy[k], ref[k]) for k in matched)  # the policy trained, its reference did not
    assert not any(p.requires_grad for p in trainer._frozen_ref.parameters())


def test_orapo_with_lora_uses_the_disabled_adapters_as_reference(tiny_vlm, rl_data, tmp_path):
    from radrl.config.sections import LoraSettings

    _, dataset = rl_data
    model, processor = load_policy(str(tiny_vlm), lora=LoraSettings(r=2, alpha=4))
    args = RadRLConfig(output_dir=str(tmp_path / "lora"), **{**COMMON, "loss_type": "grpo"})
    trainer = RadRLTrainer(model=model, reward_funcs=[ExampleF1Reward()], args=args, train_dataset=dataset,
                           processing_class=processor, components=[OrapoDpoLoss()])
    assert trainer._frozen_ref is None and trainer.ref_model is None  # no second copy of the model
    trainer.train()
    assert "orapo/dpo_loss" in trainer.state.log_history[0]


def test_token_weighted_advantages_are_tfidf_weights_by_hand_times_the_group_advantage(tiny_vlm, rl_data, tmp_path):
    """Expected values from the raw batch, not through radrl's functions: the group advantage
    from the rewards (mean and sample std of each group of 4), and each token's weight
    1 + alpha * (count in its report / report length) * log(4 / reports of the group holding it)."""
    import math

    _, dataset = rl_data
    alpha = 4.0
    trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, [LengthReward()],
                       components=[TfidfTokenWeights(alpha=alpha)])
    trainer.model.train()
    torch.manual_seed(0)
    out = trainer._generate_and_score_completions([dataset[i] for i in range(2) for _ in range(4)])
    ids, mask = out["completion_ids"].tolist(), out["completion_mask"].tolist()
    rewards = trainer._last_rewards_per_func[:, 0].tolist()  # what TRL scored: the raw input here
    tokens = [[t for t, m in zip(row, mrow) if m] for row, mrow in zip(ids, mask)]
    assert len(set(rewards)) > 1  # the batch has signal
    for g in range(2):
        rows = range(4 * g, 4 * g + 4)
        mean = sum(rewards[r] for r in rows) / 4
        std = math.sqrt(sum((rewards[r] - mean) ** 2 for r in rows) / 3)  # torch.std: unbiased, as TRL
        for r in rows:
            advantage = (rewards[r] - mean) / (std + 1e-4)
            for t, (token, valid) in enumerate(zip(ids[r], mask[r])):
                if not valid:
                    expected = advantage  # padding keeps weight 1 (and is masked out of the loss)
                else:
                    holders = sum(token in tokens[q] for q in rows)
                    tf = tokens[r].count(token) / len(tokens[r])
                    expected = advantage * (1 + alpha * tf * math.log(4 / holders))
                assert float(out["advantages"][r, t]) == pytest.approx(expected, rel=1e-4, abs=1e-5), (r, t)


def test_capo_needs_the_critical_column(tiny_vlm, rl_data, tmp_path):
    _, dataset = rl_data
    with pytest.raises(ValueError, match="needs the dataset column.*critical.*criticality stage"):
        _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, components=[CapoClipRange()])


class _FailsOnSome(RewardFunction):
    name = "flaky_len"

    def score(self, texts, references, ref_labels):
        if len(texts) > 1:
            raise RuntimeError("batch failed")
        if len(texts[0]) % 3 == 0:
            raise RuntimeError("this sample cannot be scored")
        return [len(texts[0]) / 100]


def test_a_failing_reward_sample_is_skipped_not_fatal(tiny_vlm, rl_data, tmp_path):
    _, dataset = rl_data
    flaky = _FailsOnSome()
    trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, rewards=[flaky, ExampleF1Reward()],
                       max_steps=2)
    trainer.model.train()
    torch.manual_seed(0)
    out = trainer._generate_and_score_completions([dataset[i] for i in range(2) for _ in range(4)])
    failed = torch.isnan(trainer._last_rewards_per_func[:, 0])
    assert flaky.failures == int(failed.sum()) and failed.any()
    assert torch.all(out["advantages"][failed] == 0)
    trainer.train()  # and training goes on
    assert trainer.state.global_step == 2


def test_reward_schedule_switches_weights(tiny_vlm, rl_data, tmp_path):
    from radrl.rewards import BleuReward

    _, dataset = rl_data
    trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, max_steps=3,
                       rewards=[ExampleF1Reward(), BleuReward()], reward_weights=[1.0, 0.0],
                       reward_schedules=[None, [[2, 0.25]]])
    trainer.train()
    weights = [h.get("reward_weights/bleu2") for h in trainer.state.log_history if "loss" in h]
    assert weights == [0.0, 0.0, 0.25]


def test_capo_without_a_moved_policy_warns_that_it_is_inert(tiny_vlm, rl_data, tmp_path):
    # one optimizer step per rollout batch: ratio 1, clipping never applies, CAPO == GRPO
    _, dataset = rl_data
    dataset = dataset.add_column("critical", [True] * len(dataset))
    with pytest.warns(UserWarning, match="capo has no effect"):
        _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, components=[CapoClipRange()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, components=[CapoClipRange()], num_iterations=2)
    assert not [w for w in caught if "capo" in str(w.message)]


def test_bad_components_are_refused(tiny_vlm, rl_data, tmp_path):
    from radrl.io import FieldError

    with pytest.raises(FieldError, match="lambda"):
        OrapoDpoLoss(lambda_min=0.6, lambda_max=0.5)
    with pytest.raises(FieldError, match="tf must be"):
        TfidfTokenWeights(tf="idf")
    _, dataset = rl_data
    with pytest.raises(ValueError, match="two token_weights components"):
        _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, components=[TfidfTokenWeights()] * 2)
    with pytest.raises(TypeError, match="not a radrl.algorithms component"):
        _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, components=[object()])
    with pytest.raises(ValueError, match="absolute cap on the ratio"):
        _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, components=[CapoClipRange()],
                 loss_type="cispo")
    with pytest.raises(ValueError, match="do not combine with TRL's top_entropy_quantile"):
        _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, components=[TfidfTokenWeights()],
                 top_entropy_quantile=0.5)
    stock = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, top_entropy_quantile=0.5)
    assert not stock._radrl_loss and stock.policy_loss_fn is None  # no algorithm entry: TRL's own loss runs


class ZeroReward(RewardFunction):
    """Every completion scores 0: every group is a zero-reward group (OraPO's lambda at its max)."""

    name = "zero"

    def score(self, texts, references, ref_labels):
        return [0.0] * len(texts)


def test_orapo_loss_is_composed_as_eq4_inside_the_trainer(tiny_vlm, rl_data, tmp_path):
    """loss = (1 - lambda) * L_GRPO (with beta * KL inside, Eq. 4) + lambda * L_DPO, recomputed
    here from the batch by hand: on-policy ratios are 1, so L_GRPO's per-token term is
    -A + beta * k3; LN-DPO is -log sigmoid(beta_dpo * (length-normalised log-ratio margin)) with
    the ground truth + EOS as the chosen sequence."""
    samples, dataset = rl_data
    first_reference = dataset[0]["reference"]

    class FirstPromptZero(RewardFunction):  # prompt 0: a zero-reward group; prompt 1: signal
        name = "first_prompt_zero"

        def score(self, texts, references, ref_labels):
            return [0.0 if r == first_reference else len(t) / 100 for t, r in zip(texts, references)]

    trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, [FirstPromptZero()],
                       loss_type="grpo", beta=0.05, per_device_train_batch_size=8,
                       components=[OrapoDpoLoss(lambda_min=0.1, lambda_max=0.6, kappa=1.0, dpo_beta=0.3)])
    batch = [dataset[i] for i in range(2) for _ in range(4)]
    trainer.model.train()
    torch.manual_seed(0)
    out = trainer._generate_and_score_completions(copy.deepcopy(batch))
    # the chosen sequence of each row: its reference tokens + EOS
    tok = trainer._tokenizer
    for row, x in zip(range(len(batch)), batch):
        want = tok(x["reference"], add_special_tokens=False)["input_ids"][: trainer.max_completion_length - 1]
        n = int(out["gt_mask"][row].sum())
        assert out["gt_ids"][row, :n].tolist() == want + [tok.eos_token_id]
    with torch.no_grad():  # move the policy away from the reference, so the KL term is not 0
        for p in trainer.model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    trainer.current_gradient_accumulation_steps = 1
    loss = trainer._compute_loss(trainer.model, out)

    lam = out["orapo_lambda"]
    assert lam[:4].tolist() == pytest.approx([0.6] * 4) and lam[4:].tolist() == pytest.approx([0.1] * 4)
    assert out["advantages"][4:].abs().sum() > 0
    fwd = forward_kwargs(out)
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    attn = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    gt_ids, gt_attn = torch.cat([out["prompt_ids"], out["gt_ids"]], 1), torch.cat([out["prompt_mask"], out["gt_mask"]], 1)
    gt_fwd = for_completion(fwd, out["prompt_ids"].size(1), out["gt_ids"])
    with torch.no_grad():  # every row's log-probs, each pass over the whole batch
        logps = trainer._get_per_token_logps_and_entropies(trainer.model, ids, attn, out["completion_ids"].size(1),
                                                           **fwd)[0]
        gt_logps = trainer._get_per_token_logps_and_entropies(trainer.model, gt_ids, gt_attn, out["gt_ids"].size(1),
                                                              **gt_fwd)[0]
        ref_gt = trainer._get_per_token_logps_and_entropies(trainer.ref_model, gt_ids, gt_attn, out["gt_ids"].size(1),
                                                            **gt_fwd)[0]
        ref_rollout = trainer._get_per_token_logps_and_entropies(trainer.ref_model, ids, attn,
                                                                 out["completion_ids"].size(1), **fwd)[0]
    mask, gt_mask = out["completion_mask"].float(), out["gt_mask"].float()
    # the step computed the reference's ground-truth log-probs once per prompt: equal to every row's
    torch.testing.assert_close(out["ref_gt_logps"] * gt_mask, ref_gt * gt_mask, rtol=1e-5, atol=1e-5)
    diff = ref_rollout - logps
    kl = torch.exp(diff) - diff - 1
    per_token = -out["advantages"].unsqueeze(1) + 0.05 * kl
    grpo_i = (per_token * mask).sum(1) / mask.sum(1)
    norm = lambda lp, m: (lp * m).sum(1) / m.sum(1)  # noqa: E731
    margin = 0.3 * ((norm(gt_logps, gt_mask) - norm(ref_gt, gt_mask))
                    - (norm(logps, mask) - norm(ref_rollout, mask)))
    dpo_i = -torch.nn.functional.logsigmoid(margin)
    expected = ((1 - lam) * grpo_i).mean() + (lam * dpo_i).mean()
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-6)
    outside = ((1 - lam) * (((-out["advantages"].unsqueeze(1)) * mask).sum(1) / mask.sum(1))).mean() + \
        (0.05 * (kl * mask).sum(1) / mask.sum(1)).mean() + (lam * dpo_i).mean()
    assert abs(float(outside - expected)) > 1e-5  # the old placement (KL outside 1 - lambda) differs here


def test_orapo_runs_no_dpo_pass_for_prompts_whose_lambda_is_zero(tiny_vlm, rl_data, tmp_path):
    """lambda_min 0: a prompt with signal (EMA 0) has lambda 0, so its rows get no reference or
    policy pass on the ground truth and no reference pass on their rollouts (beta 0: TRL has no
    reference log-probs to reuse); the loss still equals (1 - lambda) L_GRPO + lambda L_DPO by hand,
    and the ground truth is run once for the zero-reward prompt, not once per rollout."""
    _, dataset = rl_data
    first_reference = dataset[0]["reference"]

    class FirstPromptZero(RewardFunction):
        name = "first_prompt_zero"

        def score(self, texts, references, ref_labels):
            return [0.0 if r == first_reference else len(t) / 100 for t, r in zip(texts, references)]

    trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, [FirstPromptZero()],
                       loss_type="grpo", beta=0.0,
                       components=[OrapoDpoLoss(lambda_min=0.0, lambda_max=0.5, kappa=1.0, dpo_beta=0.2)])
    batch = [dataset[i] for i in range(2) for _ in range(4)]
    trainer.model.train()
    rows_per_pass = []
    original = trainer._get_per_token_logps_and_entropies

    def counting(model, input_ids, *args, **kwargs):
        rows_per_pass.append(input_ids.size(0))
        return original(model, input_ids, *args, **kwargs)

    trainer._get_per_token_logps_and_entropies = counting
    reference_rows = []  # rows of each forward of the frozen reference
    trainer._frozen_ref.register_forward_pre_hook(
        lambda _, args, kwargs: reference_rows.append(kwargs["input_ids"].size(0)), with_kwargs=True)
    torch.manual_seed(0)
    out = trainer._generate_and_score_completions(copy.deepcopy(batch))
    assert out["orapo_lambda"].tolist() == pytest.approx([0.5] * 4 + [0.0] * 4)
    assert out["orapo_gt_group"].tolist() == [0] * 4 + [-1] * 4
    # one reference pass: prompt 0 once, then after it its 4 rollouts and its ground truth once
    assert rows_per_pass == [] and reference_rows == [1, 5]
    assert out["ref_rollout_logps"][4:].abs().sum() == 0
    rows_per_pass.clear()
    trainer.current_gradient_accumulation_steps = 1
    loss = trainer._compute_loss(trainer.model, out)
    assert rows_per_pass == [8, 1]  # the policy on every rollout, then on prompt 0's ground truth once

    reference = trainer._frozen_ref
    fwd = forward_kwargs(out)
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    attn = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    gt_ids, gt_attn = torch.cat([out["prompt_ids"], out["gt_ids"]], 1), torch.cat([out["prompt_mask"], out["gt_mask"]], 1)
    gt_fwd = for_completion(fwd, out["prompt_ids"].size(1), out["gt_ids"])
    with torch.no_grad():
        n_completion, n_gt = out["completion_ids"].size(1), out["gt_ids"].size(1)
        logps = original(trainer.model, ids, attn, n_completion, **fwd)[0]
        gt_logps = original(trainer.model, gt_ids, gt_attn, n_gt, **gt_fwd)[0]
        ref_gt = original(reference, gt_ids, gt_attn, n_gt, **gt_fwd)[0]
        ref_rollout = original(reference, ids, attn, n_completion, **fwd)[0]
    mask, gt_mask = out["completion_mask"].float(), out["gt_mask"].float()
    norm = lambda lp, m: (lp * m).sum(1) / m.sum(1)  # noqa: E731
    grpo_i = ((-out["advantages"].unsqueeze(1)) * mask).sum(1) / mask.sum(1)
    margin = 0.2 * ((norm(gt_logps, gt_mask) - norm(ref_gt, gt_mask)) - (norm(logps, mask) - norm(ref_rollout, mask)))
    lam = out["orapo_lambda"]
    expected = ((1 - lam) * grpo_i).mean() + (lam * -torch.nn.functional.logsigmoid(margin)).mean()
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-6)


def test_capo_critical_rows_get_a_quarter_of_epsilon_and_the_zrr_ema_evolves(tiny_vlm, rl_data, tmp_path):
    _, dataset = rl_data
    dataset = dataset.add_column("critical", [i % 2 == 0 for i in range(len(dataset))])
    trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, [ZeroReward()], loss_type="grpo",
                       components=[CapoClipRange(), OrapoDpoLoss(momentum=0.9, lambda_min=0.05, lambda_max=0.5,
                                                                 kappa=2.0)], epsilon=0.2)
    batch = [dataset[i] for i in range(2) for _ in range(4)]  # prompt 0 critical, prompt 1 not
    trainer.model.train()  # the EMA is kept in training mode only
    torch.manual_seed(0)
    out = trainer._generate_and_score_completions(copy.deepcopy(batch))
    low, high = out["clip_low"], out["clip_high"]
    critical = torch.tensor([x["critical"] for x in batch])
    assert torch.allclose(low[critical], torch.full_like(low[critical], 0.05))       # eps / 4
    assert torch.allclose(low[~critical], torch.full_like(low[~critical], 0.2))
    assert torch.allclose(high[critical], torch.full_like(high[critical], trainer.epsilon_high / 4))
    # OraPO's EMA per prompt: all-zero groups twice -> the EMA stays 1 (first visit starts at the rate)
    key = str(batch[0]["id"])
    assert trainer.components["aux_loss"].zrr_ema[key] == 1.0 and torch.allclose(out["orapo_lambda"], torch.full((8,), 0.5))
    trainer.components["aux_loss"].zrr_ema[key] = 0.5  # as after earlier visits with signal
    out = trainer._generate_and_score_completions(copy.deepcopy(batch))
    assert trainer.components["aux_loss"].zrr_ema[key] == pytest.approx(0.9 * 0.5 + 0.1 * 1.0)  # z <- mu z + (1 - mu) zrr
    want = 0.05 + (0.5 - 0.05) * (0.9 * 0.5 + 0.1) ** 2
    assert float(out["orapo_lambda"][0]) == pytest.approx(want, rel=1e-5)


def test_capo_with_two_iterations_changes_the_loss_exactly_on_critical_cases(tiny_vlm, rl_data, tmp_path):
    """num_iterations = 2: the batch is reused after the policy moved, so the ratio leaves 1. The
    loss equals the clipped surrogate computed by hand with eps/4 on critical rows and eps on the
    others; the rows whose terms differ from GRPO's (eps everywhere) are all critical ones."""
    _, dataset = rl_data
    dataset = dataset.add_column("critical", [i % 2 == 0 for i in range(len(dataset))])
    trainer = _trainer(RadRLTrainer, RadRLConfig, tiny_vlm, dataset, tmp_path, [LengthReward()], loss_type="grpo",
                       components=[CapoClipRange()], epsilon=0.2, num_iterations=2)
    batch = [dataset[i] for i in range(2) for _ in range(4)]  # prompt 0 critical, prompt 1 not
    trainer.model.train()
    torch.manual_seed(0)
    out = trainer._generate_and_score_completions(copy.deepcopy(batch))
    assert "old_per_token_logps" in out  # TRL keeps pi_old when the batch is used twice
    with torch.no_grad():  # the first iteration's update, as it were
        for p in trainer.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    trainer.current_gradient_accumulation_steps = 1
    loss = trainer._compute_loss(trainer.model, out)

    logps = _rollout_logps(trainer, out)
    mask = out["completion_mask"].float()
    ratio, adv = torch.exp(logps - out["old_per_token_logps"]), out["advantages"].unsqueeze(1)
    critical = torch.tensor([x["critical"] for x in batch])

    def per_row(eps):  # (1/|o_i|) sum_t -min(r A, clip(r, 1 - eps_i, 1 + eps_i) A), by hand
        e = eps.unsqueeze(1)
        clipped = torch.minimum(torch.maximum(ratio, 1 - e), 1 + e)
        return (-torch.minimum(ratio * adv, clipped * adv) * mask).sum(1) / mask.sum(1)

    capo_rows = per_row(torch.where(critical, 0.05, 0.2))
    grpo_rows = per_row(torch.full((8,), 0.2))
    torch.testing.assert_close(loss.detach(), capo_rows.mean(), rtol=1e-5, atol=1e-6)
    differs = ~torch.isclose(capo_rows, grpo_rows, rtol=1e-6, atol=1e-7)
    assert differs.any() and bool(critical[differs].all())
    # the clipped-token share, logged on critical and on other cases apart, by hand from the same ratios
    low, high = out["clip_low"].unsqueeze(1), out["clip_high"].unsqueeze(1)
    clipped = (((ratio < 1 - low) & (adv < 0)) | ((ratio > 1 + high) & (adv > 0))).float()
    logged = trainer._metrics["train"]
    for name, rows in (("critical", critical), ("other", ~critical)):
        m = mask * rows.float().unsqueeze(1)
        assert logged[f"clip_ratio/region_mean/{name}"][-1] == pytest.approx(float((clipped * m).sum() / m.sum()))
    assert logged["clip_ratio/region_mean/critical"][-1] > logged["clip_ratio/region_mean/other"][-1]
