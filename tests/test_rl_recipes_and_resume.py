"""Recipes, the ``radrl train`` command, and exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from radrl.io import ConfigError
from radrl.recipe import RECIPES_DIR, apply_override, load_recipe
from radrl.training.rl import rl_config

SCRIPT = Path(__file__).parent / "scripts" / "rl_run.py"
RECIPES = ("grpo", "deer", "deer_tfidf", "mrg_r1", "orapo", "radflow")


@pytest.mark.parametrize("name", RECIPES)
@pytest.mark.parametrize("tiny", [False, True])
def test_every_recipe_loads_and_builds_its_config(name, tiny, tmp_path):
    recipe = load_recipe(name, tiny=tiny)
    assert recipe.rewards and recipe.model.path
    cfg = rl_config(recipe, tmp_path)
    assert cfg.num_generations >= 2
    assert cfg.reward_weights == [r.weight for r in recipe.rewards]
    if tiny:
        assert recipe.model.path == "tiny-sft" and recipe.data.kind == "synthetic"


def test_recipe_flags_match_their_papers():
    deer = load_recipe("deer")  # DEER as reported: DDSampling 20 % + gradient weights
    assert deer.algorithm.token_weights.type == "gradient" and deer.labeler.name == "chexbert"
    assert deer.select.method == "ddsampling" and deer.select.fraction == 0.2 and deer.data.subset
    assert load_recipe("deer_tfidf").algorithm.token_weights.type == "tfidf"
    assert deer.rewards[1].schedule and load_recipe("deer_tfidf").rewards[1].schedule
    radflow = load_recipe("radflow")
    assert (radflow.rl["learning_rate"], radflow.model.lora.r, radflow.rl["num_generations"]) == (1e-5, 8, 4)
    mrg = load_recipe("mrg_r1")
    assert [r.weight for r in mrg.rewards] == [0.75, 0.25] and mrg.model.lora.r == 128
    assert load_recipe("orapo").algorithm.aux_loss.type == "orapo_dpo" and load_recipe("orapo").rl["loss_type"] == "dr_grpo"
    assert load_recipe("radflow").algorithm.clip.type == "capo"


def test_overrides_and_errors(tmp_path):
    r = apply_override({"rl": {"learning_rate": 1.0}}, "rl.learning_rate=3e-4")
    assert r["rl"]["learning_rate"] == 3e-4
    assert apply_override({}, "data.limit=5")["data"]["limit"] == 5
    with pytest.raises(ConfigError):
        apply_override({}, "no-equals-sign")
    with pytest.raises(ConfigError, match="known"):
        load_recipe("nonexistent")
    bad = tmp_path / "bad.yaml"
    bad.write_text("modle: {}\n")
    with pytest.raises(ConfigError, match="did you mean model"):
        load_recipe(str(bad))
    assert (RECIPES_DIR / "deer.yaml").is_file()


def test_cli_train_reports_a_bad_recipe(capsys):
    from radrl.cli import main

    assert main(["train", "--recipe", "nonexistent"]) == 2
    assert "no recipe named" in capsys.readouterr().err


def _recipe(tiny_vlm, tiny_bench, steps):
    return {
        "model": {"path": str(tiny_vlm)},
        "data": {"kind": "synthetic", "path": str(tiny_bench), "limit": 16},
        "rewards": [{"type": "example_f1"}, {"type": "bleu2", "weight": 0.0, "schedule": [[3, 0.25]]}],
        "rl": {"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 24,
               "learning_rate": 1e-3, "max_steps": steps, "save_steps": 2, "report_to": [],
               "dataloader_pin_memory": False, "disable_tqdm": True, "loss_type": "grpo"},
        "algorithm": {"token_weights": "tfidf", "clip": "capo", "aux_loss": "orapo_dpo"},
    }


def _run(recipe_path, out, *extra, timeout=300):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, str(SCRIPT), str(recipe_path), str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_sigkill_mid_training_then_resume_gives_the_same_model(tiny_vlm, tiny_bench, tmp_path):
    recipe_path = tmp_path / "recipe.json"
    recipe_path.write_text(json.dumps(_recipe(tiny_vlm, tiny_bench, steps=4)))

    straight = _run(recipe_path, tmp_path / "straight")
    out, _ = straight.communicate(timeout=300)
    assert straight.returncode == 0, out[-3000:]

    killed = _run(recipe_path, tmp_path / "killed", "--stall-at", "3")
    deadline = time.time() + 300
    while "STALLING" not in (line := killed.stdout.readline()):
        assert line or killed.poll() is None, "the run ended before stalling"
        assert time.time() < deadline
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed" / "final").exists()
    assert (tmp_path / "killed" / "checkpoints" / "checkpoint-2" / "radrl_state.json").is_file()

    resumed = _run(recipe_path, tmp_path / "killed", "--resume")
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out[-3000:]
    assert "resuming from" in out

    a = load_file(tmp_path / "straight" / "final" / "model.safetensors")
    b = load_file(tmp_path / "killed" / "final" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] == b[key]).all(), key  # bitwise on CPU
    state_a = json.loads((tmp_path / "straight" / "final" / "radrl_rl.json").read_text())
    state_b = json.loads((tmp_path / "killed" / "final" / "radrl_rl.json").read_text())
    assert state_a["components"]["aux_loss"]["zrr_ema"] == state_b["components"]["aux_loss"]["zrr_ema"]
    assert state_a["components"]["aux_loss"]["zrr_ema"]  # OraPO's EMA was kept, and resumed
    logs_a = [json.loads(x) for x in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    logs_b = [json.loads(x) for x in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    steps_b = [r["step"] for r in logs_b if "loss" in r]
    assert steps_b == [1, 2, 3, 4]  # no duplicated steps after the resume
    for ra, rb in zip([r for r in logs_a if "loss" in r], [r for r in logs_b if "loss" in r]):
        assert ra["loss"] == rb["loss"] and ra["reward"] == rb["reward"]
    assert (tmp_path / "killed" / "metrics.csv").is_file() and (tmp_path / "killed" / "rl_curves.png").is_file()


def test_cli_train_runs_a_recipe_file_with_overrides(tiny_vlm, tiny_bench, tmp_path, capsys):
    from radrl.cli import main

    recipe = _recipe(tiny_vlm, tiny_bench, steps=1)
    recipe["evaluate"] = {"split": "test", "limit": 2, "meteor": False,
                          "generation": {"max_new_tokens": 8, "batch_size": 2}}
    path = tmp_path / "r.yaml"
    path.write_text(json.dumps(recipe))  # JSON is YAML
    out = tmp_path / "run"
    assert main(["train", "--recipe", str(path), "-o", str(out), "algorithm.aux_loss=null", "rl.max_steps=2"]) == 0
    assert "RL model ->" in capsys.readouterr().out
    assert json.loads((out / "recipe.json").read_text())["rl"]["max_steps"] == 2
    assert (out / "final" / "model.safetensors").is_file() and (out / "eval" / "metrics.json").is_file()
    # a second run into the same folder must say --resume instead of mixing two runs
    assert main(["train", "--recipe", str(path), "-o", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_a_component_registered_in_user_code_trains_from_a_recipe(tiny_vlm, tiny_bench, tmp_path):
    """The extension contract: a new auxiliary loss, registered here (outside src/radrl), named in a
    recipe's algorithm: section, trains two steps through `radrl train`'s own code with no edit to
    radrl; its parameter is checked against its constructor, its state lands in every checkpoint."""

    from radrl.algorithms import COMPONENTS, AuxiliaryLoss
    from radrl.io import ConfigError
    from radrl.recipe import recipe_from_dict
    from radrl.stages import run_rl

    calls = []

    class MeanLogprobBonus(AuxiliaryLoss):
        """-coef * mean log-prob of the completion tokens (a toy term, easy to check)."""

        def __init__(self, coef: float = 0.1):
            self.coef, self.steps = coef, 0

        def loss(self, ctx, model, batch, per_token_logps, mask):
            calls.append(float(self.coef))
            self.steps += 1
            ctx.log("bonus/steps", self.steps)
            return -self.coef * (per_token_logps * mask).sum() / mask.sum().clamp(min=1)

        def state_dict(self):
            return {"steps": self.steps}

    COMPONENTS.register("mean_logprob_bonus_test", MeanLogprobBonus)
    try:
        recipe = _recipe(tiny_vlm, tiny_bench, steps=2)
        recipe["algorithm"] = {"aux_loss": {"type": "mean_logprob_bonus_test", "coef": 0.5}}
        with pytest.raises(ConfigError, match="did you mean coef"):
            recipe_from_dict({**recipe, "algorithm": {"aux_loss": {"type": "mean_logprob_bonus_test", "cof": 1}}})
        result = run_rl(recipe_from_dict(recipe), tmp_path / "run", evaluate=False)
    finally:
        COMPONENTS.unregister("mean_logprob_bonus_test")
    assert calls == [0.5, 0.5]
    final = json.loads((result["model"] / "radrl_rl.json").read_text())
    assert final["components"] == {"aux_loss": {"steps": 2}}
    state = json.loads((tmp_path / "run" / "checkpoints" / "checkpoint-2" / "radrl_state.json").read_text())
    assert state["components"] == {"aux_loss": {"steps": 2}}
    assert [h["bonus/steps"] for h in final["log_history"] if "loss" in h] == [1.0, 2.0]


PLUGIN = """
from radrl.algorithms import PolicyLossOutput, register_policy_loss
from radrl.rewards import RewardFunction

CALLS = {"loss": 0, "reward": 0}


def scaled_pg(x, coef: float = 1.0):
    \"\"\"-coef * A * log pi per token (REINFORCE with the group baseline).\"\"\"
    CALLS["loss"] += 1
    return PolicyLossOutput(-coef * x.advantages * x.logps, (x.logps - x.old_logps).exp(), {})


scaled_pg.aggregation = "token_mean"


class VowelShare(RewardFunction):
    name = "vowel_share"

    def score(self, texts, references, ref_labels):
        CALLS["reward"] += len(texts)
        return [sum(c in "aeiou" for c in t) / max(len(t), 1) for t in texts]
"""


def test_a_policy_loss_and_a_reward_named_by_dotted_path_train_with_radrl_train(tiny_vlm, tiny_bench, tmp_path,
                                                                               monkeypatch, capsys):
    """User code in a folder on the path, named module:attribute in a recipe, no registration and no
    edit to radrl: `radrl train` checks its parameters, then trains two steps with both."""
    from radrl.cli import main

    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "my_radrl_plugin_test.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "plugin"))
    recipe = _recipe(tiny_vlm, tiny_bench, steps=2)
    recipe["rl"].pop("loss_type")
    recipe["rewards"] = [{"type": "example_f1"}, {"type": "my_radrl_plugin_test:VowelShare", "weight": 0.5}]
    recipe["algorithm"] = {"policy_loss": {"type": "my_radrl_plugin_test:scaled_pg", "coef": 0.5},
                           "token_weights": "tfidf"}
    path = tmp_path / "r.json"
    bad = json.loads(json.dumps(recipe))
    bad["algorithm"]["policy_loss"]["coeff"] = 1
    path.write_text(json.dumps(bad))
    assert main(["train", "--recipe", str(path), "-o", str(tmp_path / "bad"), "--no-eval"]) == 2
    assert "did you mean coef" in capsys.readouterr().err
    path.write_text(json.dumps(recipe))
    try:
        assert main(["train", "--recipe", str(path), "-o", str(tmp_path / "run"), "--no-eval"]) == 0
        plugin = sys.modules["my_radrl_plugin_test"]
        assert plugin.CALLS["loss"] == 2 and plugin.CALLS["reward"] == 2 * 8
    finally:
        sys.modules.pop("my_radrl_plugin_test", None)
        from radrl.algorithms import POLICY_LOSSES
        from radrl.rewards import REWARDS

        POLICY_LOSSES.unregister("my_radrl_plugin_test:scaled_pg")
        REWARDS.unregister("my_radrl_plugin_test:VowelShare")
    history = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in history if "loss" in r] == [1, 2]
    assert all("rewards/vowel_share/mean" in r for r in history if "loss" in r)


def test_a_clip_component_with_a_loss_that_has_no_clip_range_is_refused_when_the_recipe_loads():
    with pytest.raises(ConfigError, match="absolute cap"):
        load_recipe("radflow", tiny=True, overrides=["rl.loss_type=cispo"])
    with pytest.raises(ConfigError, match="rl.loss_type.*did you mean cispo"):
        load_recipe("deer_tfidf", tiny=True, overrides=["rl.loss_type=cipso"])
    with pytest.raises(ConfigError, match="decides the loss"):
        load_recipe("deer_tfidf", tiny=True, overrides=["algorithm.policy_loss=sapo"])
    recipe = load_recipe("deer_tfidf", tiny=True, overrides=["rl.loss_type=cispo"])  # tfidf with CISPO: fine
    assert recipe.rl["loss_type"] == "cispo"


def test_only_runs_exactly_the_stages_its_plan_lists(tiny_vlm, tmp_path, capsys):
    """`--only STAGE` runs that stage and nothing else, as the plan it prints says: a benchmark it
    lists as not run is not built behind the user's back; the stage that needs it says so."""
    from radrl.cli import main

    recipe = {
        "model": {"path": str(tiny_vlm)},
        "data": {"kind": "synthetic", "path": str(tmp_path / "bench"),
                 "synthetic": {"n_train": 12, "n_val": 2, "n_test": 2, "image_size": 64}},
        "rewards": [{"type": "example_f1"}],
        "rl": {"per_device_train_batch_size": 4, "num_generations": 2, "max_steps": 1, "report_to": []},
        "algorithm": {"clip": "capo"},
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(recipe))

    def run(only):
        code = main(["train", "--recipe", str(path), "-o", str(tmp_path / "run"), "--only", only])
        captured = capsys.readouterr()
        plan = [line.split()[0] for line in captured.out.splitlines()
                if line.startswith("  ") and line.split()[1:2] == ["run:"]]
        ran = [line.split()[1].rstrip(":") for line in captured.out.splitlines() if line.startswith("stage ")
               and ": running" in line]
        return code, plan, ran, captured

    code, plan, ran, captured = run("criticality")
    assert code == 2 and "benchmark in" in captured.err and "--only benchmark" in captured.err
    assert plan == ["criticality"] and ran == ["criticality"] and not (tmp_path / "bench").exists()
    code, plan, ran, _ = run("benchmark")
    assert code == 0 and plan == ran == ["benchmark"] and (tmp_path / "bench" / "config.json").is_file()
    code, plan, ran, _ = run("criticality")
    assert code == 0 and plan == ran == ["criticality"]
    assert (tmp_path / "run" / "criticality.json").is_file() and not (tmp_path / "run" / "final").exists()
