"""Typed recipes: every section refuses a misspelt key, a wrong type and an out-of-range value
(in the file, in a nested block, in an override) with exit 2, the place it is written and the
closest valid name, before anything heavy loads; shipped recipes resolve as before the typing;
the registries; recipes from an installed wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from radrl.cli import main
from radrl.io import ConfigError
from radrl.recipe import RECIPES_DIR, load_recipe, recipe_names

GOLDEN = Path(__file__).parent / "golden" / "recipes"
REPO = Path(__file__).resolve().parents[1]

# A recipe with every RL section written out; the cases below break one line of it.
RL_RECIPE = """\
description: every section
model:
  path: tiny-sft
  lora:
    r: 8
data:
  kind: synthetic
  path: runs/synthetic
  subset: runs/x/subset.json
  synthetic:
    n_train: 20
select:
  method: ddsampling
  fraction: 0.2
labeler:
  name: rule
judge:
  base_url: http://127.0.0.1:8000/v1
  model: m
rewards:
  - type: example_f1
  - type: mccs
    margin: 0.1
rl:
  learning_rate: 1.0e-4
  num_generations: 4
algorithm:
  clip:
    type: capo
    critical_factor: 0.25
    judge: true
evaluate:
  split: test
  generation:
    max_new_tokens: 16
"""

PIPELINE_RECIPE = """\
stage: demo
synthetic:
  n_train: 20
tiny_model:
  hidden_size: 64
sft:
  max_steps: 2
evaluate:
  generation:
    batch_size: 4
rl:
  recipe: deer
  overrides:
    rl:
      max_steps: 2
labeler:
  train:
    epochs: 2
  masking_prompts: 4
"""

# (section, recipe text, line as written, the line broken, words the error must hold)
CASES = [
    # misspelt keys: top level of a section and nested blocks
    ("model", RL_RECIPE, "  path: tiny-sft", "  pth: tiny-sft", "did you mean path?"),
    ("model.lora", RL_RECIPE, "    r: 8", "    rr: 8", "did you mean r?"),
    ("data", RL_RECIPE, "  subset: runs/x/subset.json", "  subest: runs/x/subset.json", "did you mean subset?"),
    ("data.synthetic", RL_RECIPE, "    n_train: 20", "    n_trian: 20", "did you mean n_train?"),
    ("select", RL_RECIPE, "  fraction: 0.2", "  fractoin: 0.2", "did you mean fraction?"),
    ("labeler", RL_RECIPE, "  name: rule", "  nmae: rule", "did you mean name?"),
    ("judge", RL_RECIPE, "  model: m", "  modle: m", "did you mean model?"),
    ("algorithm.clip", RL_RECIPE, "    judge: true", "    jugde: true", "did you mean judge?"),
    ("rewards", RL_RECIPE, "    margin: 0.1", "    margn: 0.1", "did you mean margin?"),
    ("rl", RL_RECIPE, "  learning_rate: 1.0e-4", "  learning_rat: 1.0e-4", "did you mean learning_rate?"),
    ("evaluate", RL_RECIPE, "  split: test", "  splt: test", "did you mean split?"),
    ("evaluate.generation", RL_RECIPE, "    max_new_tokens: 16", "    max_new_token: 16", "did you mean max_new_tokens?"),
    ("top level", RL_RECIPE, "model:", "modle:", "did you mean model?"),
    ("synthetic", PIPELINE_RECIPE, "  n_train: 20", "  ntrain: 20", "did you mean n_train?"),
    ("tiny_model", PIPELINE_RECIPE, "  hidden_size: 64", "  hiden_size: 64", "did you mean hidden_size?"),
    ("sft", PIPELINE_RECIPE, "  max_steps: 2\nevaluate", "  max_step: 2\nevaluate", "did you mean max_steps?"),
    ("demo rl", PIPELINE_RECIPE, "  recipe: deer", "  recipe: deeer", "did you mean deer?"),
    ("demo rl overrides", PIPELINE_RECIPE, "      max_steps: 2", "      max_stpes: 2", "did you mean max_steps?"),
    ("demo labeler", PIPELINE_RECIPE, "    epochs: 2", "    epoch: 2", "did you mean epochs?"),
    # wrong types
    ("model", RL_RECIPE, "  path: tiny-sft", "  path: [1, 2]", "is not a string"),
    ("model.lora", RL_RECIPE, "    r: 8", "    r: eight", "is not a whole number"),
    ("data", RL_RECIPE, "  kind: synthetic", "  kind: synthetc", "did you mean synthetic?"),
    ("select", RL_RECIPE, "  fraction: 0.2", "  fraction: a fifth", "is not a number"),
    ("labeler", RL_RECIPE, "  name: rule", "  name: [rule]", "is not a string"),
    ("algorithm.clip", RL_RECIPE, "    judge: true", "    judge: 3", "is not true or false"),
    ("rewards", RL_RECIPE, "  - type: example_f1", "  - type: example_f2", "did you mean example_f1?"),
    ("rl", RL_RECIPE, "  num_generations: 4", "  num_generations: four", "is not a whole number"),
    ("algorithm", RL_RECIPE, "    type: capo", "    type: capoo", "did you mean capo?"),
    ("algorithm", RL_RECIPE, "    type: capo", "    type: tfidf", "tfidf is a token_weights component"),
    ("algorithm", RL_RECIPE, "    critical_factor: 0.25", "    critical_facter: 0.25", "did you mean critical_factor?"),
    ("algorithm", RL_RECIPE, "    critical_factor: 0.25", "    critical_factor: lots", "is not a number"),
    ("evaluate.generation", RL_RECIPE, "    max_new_tokens: 16", "    max_new_tokens: 1.5", "is not a whole number"),
    ("sft", PIPELINE_RECIPE, "  max_steps: 2\nevaluate", "  max_steps: two\nevaluate", "is not a whole number"),
    # out of range
    ("model.lora", RL_RECIPE, "    r: 8", "    r: 0", "rank r must be >= 1"),
    ("data.synthetic", RL_RECIPE, "    n_train: 20", "    n_train: -3", "must be >= 0"),
    ("select", RL_RECIPE, "  fraction: 0.2", "  fraction: 1.5", "fraction must lie in (0, 1]"),
    ("judge", RL_RECIPE, "  base_url: http://127.0.0.1:8000/v1", "  base_url: ftp://x", "http://"),
    ("rewards", RL_RECIPE, "    margin: 0.1", "    margin: 3", "margin must lie in (-1, 1)"),
    ("algorithm", RL_RECIPE, "    critical_factor: 0.25", "    critical_factor: 2", "must lie in (0, 1]"),
    ("rl", RL_RECIPE, "  learning_rate: 1.0e-4", "  learning_rate: -1", "must be > 0"),
    ("rl", RL_RECIPE, "  num_generations: 4", "  num_generations: 1", "must be >= 2"),
    ("evaluate.generation", RL_RECIPE, "    max_new_tokens: 16", "    max_new_tokens: 0", "must be >= 1"),
    ("sft", PIPELINE_RECIPE, "  max_steps: 2\nevaluate", "  max_steps: 2\n  learning_rate: 0\nevaluate", "> 0"),
    ("demo labeler", PIPELINE_RECIPE, "    epochs: 2", "    epochs: 0", "must be > 0"),
]


@pytest.mark.parametrize("section, text, good, bad, words", CASES, ids=[f"{c[0]}:{c[3].strip()[:24]}" for c in CASES])
def test_a_broken_line_in_a_recipe_file_exits_2_with_its_line(section, text, good, bad, words, tmp_path, capsys):
    assert good in text, "the case must break a line the recipe has"
    broken = text.replace(good, bad, 1)
    path = tmp_path / "recipe.yaml"
    path.write_text(broken)
    changed = next(i for i, (a, b) in enumerate(zip(broken.splitlines(), text.splitlines()), 1) if a != b)
    t0 = time.perf_counter()
    assert main(["recipes", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert time.perf_counter() - t0 < 10
    assert words in err, err
    assert f"recipe.yaml, line {changed}" in err, err  # the line that holds the mistake
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2, err  # one clear message, not a cascade


# (override, words)
OVERRIDES = [
    ("model.freez=lm", "did you mean freeze?"),
    ("model.lora={r: 0}", "rank r must be >= 1"),
    ("data.subest=x.json", "did you mean subset?"),
    ("data.limit=lots", "is not a whole number"),
    ("data.synthetic.seeed=1", "did you mean seed?"),
    ("select.k=0", "k must be >= 1"),
    ("select.methd=random", "did you mean method?"),
    ("select.model_kwargs={attn_implementaton: sdpa}", "did you mean attn_implementation?"),
    ("model.max_pixel=200704", "did you mean max_pixels?"),
    ("model.dtype=bf16", "did you mean bfloat16?"),
    ("labeler.wieghts=x", "did you mean weights?"),
    ("labeler=chexbrt", "did you mean chexbert?"),
    ("judge={base_url: http://x, modl: m}", "did you mean model?"),
    ("algorithm.token_weights.bet=2", "did you mean beta?"),
    ("rewards.0.uncertian=positive", "did you mean uncertain?"),
    ("rewards.1.weight=heavy", "is not a number"),
    ("rewards.0.mode=llm", None),  # example_f1 has no mode: refused as unknown
    ("rl.learning_rat=1e-5", "did you mean learning_rate?"),
    ("algorithm.token_weights.type=tfid", "did you mean tfidf?"),
    ("algorithm.token_weights.beta=-1", "must be >= 0"),
    ("algorithm.aux_loss={type: orapo_dpo, momentum: 1.5}", "must lie in [0, 1)"),
    ("evaluate.generation.top_p=2", "top_p must lie in (0, 1]"),
    ("evaluate.generaton.top_p=0.5", "did you mean generation?"),
    ("instruction=[1]", "is not a string"),
]


@pytest.mark.parametrize("override, words", OVERRIDES, ids=[o for o, _ in OVERRIDES])
def test_a_bad_override_exits_2_naming_it(override, words, capsys):
    assert main(["recipes", "show", "deer", "--tiny", override]) == 2
    err = capsys.readouterr().err
    assert f"override {override!r}" in err, err
    if words:
        assert words in err, err
    assert "Traceback" not in err


def test_train_refuses_a_misspelt_override_fast_and_without_loading_torch(tmp_path):
    """The issue's example, as a user runs it: exit 2 in a fresh process, torch never imported."""
    code = ("import sys, time; t = time.perf_counter(); from radrl.cli import main; "
            "rc = main(['train', '--recipe', 'grpo', '--tiny', 'data.subest=x']); "
            "print(round(time.perf_counter() - t, 2), 'torch' in sys.modules, 'trl' in sys.modules); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "data.subest" in proc.stderr and "did you mean subset?" in proc.stderr
    seconds, torch_loaded, trl_loaded = proc.stdout.split()
    assert torch_loaded == "False" and trl_loaded == "False"
    assert float(seconds) < 15  # about 1 s here; generous for a loaded CI machine
    assert not (tmp_path / "runs").exists()


def test_a_tiny_block_mistake_is_found_with_the_full_recipe_too(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(RL_RECIPE + "tiny:\n  rl:\n    learning_rat: 1.0\n")
    with pytest.raises(ConfigError, match=r"r.yaml, line \d+ \(tiny block\): rl.learning_rat"):
        load_recipe(path)


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(RL_RECIPE.replace("  fraction: 0.2", "  fractoin: 0.2").replace("    r: 8", "    r: x"))
    with pytest.raises(ConfigError) as err:
        load_recipe(path)
    assert "fractoin" in str(err.value) and "model.lora.r" in str(err.value)


def test_cross_section_checks():
    with pytest.raises(ConfigError, match="gradient needs a chexbert labeler"):
        load_recipe("deer_tfidf", tiny=True, overrides=["algorithm.token_weights={type: gradient}"])
    with pytest.raises(ConfigError, match="capo judge: True asks the LLM judge"):
        load_recipe("radflow", tiny=True, overrides=["algorithm.clip.judge=true"])
    with pytest.raises(ConfigError, match="asks the LLM judge"):
        load_recipe("orapo", tiny=True, overrides=["rewards.0.mode=llm"])
    with pytest.raises(ConfigError, match="set data.subset"):
        load_recipe("deer", tiny=True, overrides=["data.subset=null"])
    with pytest.raises(ConfigError, match="distinct"):
        load_recipe("grpo", tiny=True, overrides=["rewards=[{type: bleu2}, {type: bleu2}]"])


# ------------------------------------------------------------------------------------ golden
@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_recipe_resolves_to_its_reviewed_snapshot(path):
    """``tests/golden/recipes/NAME[-tiny].yaml`` is what ``radrl recipes show NAME [--tiny]`` printed
    when it was last reviewed; ``make golden`` rewrites them, and the refresh is a diff to review."""
    sys.path.insert(0, str(GOLDEN.parent))
    from make_golden import resolved_yaml

    name, tiny = (path.stem[: -len("-tiny")], True) if path.stem.endswith("-tiny") else (path.stem, False)
    assert resolved_yaml(name, tiny) == path.read_text(), f"{path.name} is stale: run make golden and review the diff"


def test_every_shipped_recipe_has_a_snapshot():
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(
        n + suffix for n in recipe_names() for suffix in ("", "-tiny"))


def test_rl_flags_of_the_drafts_are_refused_with_where_they_went(tmp_path):
    """``rl.capo: true`` and friends (pre-release drafts) name the algorithm: entry that replaced
    them, with the file and line."""
    old = RL_RECIPE.replace("  num_generations: 4\n", "  num_generations: 4\n  capo: true\n  tfidf_alpha: 2\n")
    path = tmp_path / "old.yaml"
    path.write_text(old)
    with pytest.raises(ConfigError) as caught:
        load_recipe(path)
    message = str(caught.value)
    line = old.splitlines().index("  capo: true") + 1
    assert f"line {line}" in message and "rl.capo: is an algorithm: setting" in message, message
    assert "rl.tfidf_alpha: is an algorithm: setting" in message and "clip: capo" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the shipped recipes load with no warning
        for name in recipe_names():
            load_recipe(name, tiny=True)


def test_shipped_recipes_all_load_and_describe_themselves():
    names = recipe_names()
    assert {"grpo", "deer", "deer_tfidf", "mrg_r1", "orapo", "radflow", "demo", "tiny_sft"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert recipe.description, f"{name}.yaml needs a description: line for `radrl recipes list`"


def test_a_resolved_recipe_loads_again_unchanged(tmp_path):
    recipe = load_recipe("radflow", tiny=True, overrides=["rl.learning_rate=3e-5"])
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe.to_dict()))
    again = load_recipe(path)
    a, b = recipe.to_dict(), again.to_dict()
    a.pop("resolved_from"), b.pop("resolved_from")
    assert a == b and again.rl["learning_rate"] == 3e-5


# ------------------------------------------------------------------------------------ the snapshot
def test_the_grpo_field_snapshot_matches_the_installed_trl():
    """``rl:`` keys are checked against a snapshot of GRPOConfig's fields (TRL takes seconds to
    import). Regenerate it after a TRL upgrade: python -m radrl.config.rl_fields"""
    from radrl.config.rl_fields import SNAPSHOT, installed_versions, live_grpo_specs

    snap = json.loads(SNAPSHOT.read_text())
    assert snap["versions"] == installed_versions(), "stale snapshot: run python -m radrl.config.rl_fields"
    assert snap["fields"] == live_grpo_specs()


def test_rl_holds_exactly_the_grpo_config_fields():
    from radrl.config.rl_fields import grpo_specs, rl_specs

    assert rl_specs() == grpo_specs()


def test_recipes_list_show_new(tmp_path, capsys, monkeypatch):
    assert main(["recipes", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("deer", "mrg_r1", "orapo", "radflow", "tiny_sft"))
    assert "DEER/DiTPO" in out
    assert main(["recipes", "show", "deer", "--tiny", "rl.learning_rate=3e-5"]) == 0
    shown = capsys.readouterr().out
    assert "learning_rate: 3.0e-05" in shown and "path: tiny-sft" in shown
    monkeypatch.chdir(tmp_path)
    assert main(["recipes", "new", "mine", "--from", "deer"]) == 0
    text = (tmp_path / "mine.yaml").read_text()
    assert "DEER as reported" in text  # the comments travel with the copy
    a, b = load_recipe(tmp_path / "mine.yaml").to_dict(), load_recipe("deer").to_dict()
    a.pop("resolved_from"), b.pop("resolved_from")
    assert a == b
    assert main(["recipes", "new", "mine", "--from", "deer"]) == 2  # no silent overwrite
    assert "--force" in capsys.readouterr().err


def test_cli_options_come_from_the_settings_classes(capsys):
    """One default, in the dataclass: the help text shows it and no option is missing."""
    from dataclasses import fields

    from radrl.cli import build_parser
    from radrl.recipe import GenerationSettings, LabelerTrainSettings

    parser = build_parser()
    for command, cls in ((["labeler", "train"], LabelerTrainSettings), (["generate"], GenerationSettings)):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for f in fields(cls):
            assert "--" + f.name.replace("_", "-") in text, f.name
    with pytest.raises(SystemExit):
        parser.parse_args(["labeler", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {LabelerTrainSettings().epochs})" in text
    assert f"(default: {LabelerTrainSettings().learning_rate})" in text


def test_a_bad_option_value_exits_2_with_the_settings_message(tmp_path, capsys):
    assert main(["select", "random", "--data", "synthetic:x", "--fraction", "2", "-o", str(tmp_path / "s.json")]) == 2
    assert "fraction must lie in (0, 1]" in capsys.readouterr().err


def test_a_bug_is_not_swallowed(monkeypatch, capsys):
    """Only user mistakes become one line and exit 2; anything else keeps its traceback."""
    import radrl.cli as cli

    def broken(args):
        raise ValueError("an internal bug")

    monkeypatch.setattr(cli, "cmd_recipes_list", broken)
    with pytest.raises(ValueError, match="an internal bug"):
        cli.main(["recipes", "list"])
    with pytest.raises(ConfigError):
        cli.main(["--debug", "recipes", "show", "nosuch"])


# ------------------------------------------------------------------------------------ registries
def test_a_reward_registered_from_user_code_gets_the_shared_labeler():
    from radrl.labelers import get_labeler
    from radrl.rewards import REWARDS, RewardFunction, build_rewards

    class PositiveCount(RewardFunction):
        needs_labeler = True

        def __init__(self, labeler=None, scale: float = 1.0, name: str | None = None):
            super().__init__(name=name)
            self.labeler, self.scale = labeler, scale

        def score(self, reports, references, ref_labels):
            return [self.scale * sum(v == "positive" for v in lab.values()) for lab in self.labeler.label_batch(reports)]

    REWARDS.register("positive_count_test", PositiveCount)
    try:
        recipe = load_recipe("grpo", tiny=True, overrides=["rewards=[{type: positive_count_test, scale: 2}]"])
        shared = get_labeler("rule")
        rewards = build_rewards(recipe.rewards, shared)
        assert rewards.functions[0].labeler is shared and rewards.functions[0].scale == 2.0
        with pytest.raises(ConfigError, match="did you mean scale"):
            load_recipe("grpo", tiny=True, overrides=["rewards=[{type: positive_count_test, scael: 2}]"])
    finally:
        REWARDS.unregister("positive_count_test")


def test_one_registry_pattern_serves_every_kind():
    from radrl.algorithms import COMPONENTS
    from radrl.data.registry import DATASETS
    from radrl.labelers import LABELERS
    from radrl.registry import Registry
    from radrl.rewards import REWARDS
    from radrl.selection.methods import SELECTION_METHODS

    for registry, name in ((REWARDS, "example_f1"), (LABELERS, "rule"), (DATASETS, "synthetic"),
                           (SELECTION_METHODS, "ddsampling"), (COMPONENTS, "tfidf")):
        assert isinstance(registry, Registry) and name in registry
        with pytest.raises(ConfigError, match="did you mean"):
            registry.get(name[:-1] + "x")


# ------------------------------------------------------------------------------------ the wheel
@pytest.mark.slow
def test_an_installed_wheel_ships_the_recipes_and_the_tiny_checkpoint(tmp_path):
    """Build a wheel from the repository, install it (not editable) into a folder, and from an
    empty directory list the recipes, show one resolved and find the tiny SFT checkpoint."""
    import shutil

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    wheels, site, empty = tmp_path / "wheels", tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    # build from a copy of the files git knows: a stale build/ in the checkout would ship deleted files
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True)
    source = REPO
    if listed.returncode == 0 and listed.stdout.strip():
        source = tmp_path / "source"
        for name in listed.stdout.splitlines():
            if (REPO / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                    str(source)], check=True, env=env, timeout=300)
    wheel = next(wheels.glob("radrl-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, env=env, timeout=300)
    env["PYTHONPATH"] = str(site)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "radrl.cli", *args], capture_output=True, text=True,
                              cwd=empty, env=env, timeout=120)

    listed = run("recipes", "list")
    assert listed.returncode == 0, listed.stderr
    assert "deer" in listed.stdout and "tiny_sft" in listed.stdout
    shown = run("recipes", "show", "deer", "--tiny")
    assert shown.returncode == 0, shown.stderr
    assert "token_weights: {type: gradient" in shown.stdout
    where = subprocess.run([sys.executable, "-c", "import radrl.assets as a; print(a.tiny_sft_checkpoint())"],
                           capture_output=True, text=True, cwd=empty, env=env, timeout=120)
    assert where.returncode == 0, where.stderr
    checkpoint = Path(where.stdout.strip())
    assert checkpoint.is_relative_to(site) and (checkpoint / "model.safetensors").is_file()
    assert (site / "radrl" / "config" / "grpo_fields.json").is_file()
    assert not (site / "radrl" / "recipes" / "__pycache__").exists()
    assert sorted(p.stem for p in (site / "radrl" / "recipes").glob("*.yaml")) == sorted(
        p.stem for p in RECIPES_DIR.glob("*.yaml"))


def test_one_prompt_per_recipe_for_training_selection_and_evaluation(tmp_path):
    """mrg_r1 trains on its <think>/<report> prompt: its evaluation and selection use that prompt too
    (before, evaluation asked with radrl's default one)."""
    mrg = load_recipe("mrg_r1")
    assert "<think>" in mrg.instruction and mrg.evaluate.generation.instruction == mrg.instruction
    deer = load_recipe("deer", tiny=True, overrides=["instruction=Describe the film."])
    assert deer.select.generation.instruction == deer.evaluate.generation.instruction == "Describe the film."
    with pytest.raises(ConfigError, match="evaluate.generation.instruction: the prompt is set once per recipe"):
        load_recipe("deer", tiny=True, overrides=["instruction=A.", "evaluate.generation.instruction=B."])


def test_select_decoding_keys_belong_to_select_generation(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(RL_RECIPE.replace("  fraction: 0.2\n", "  fraction: 0.2\n  max_new_tokens: 32\n"))
    with pytest.raises(ConfigError, match="select.max_new_tokens"):
        load_recipe(path)
    recipe = load_recipe("deer", tiny=True, overrides=["select.generation.max_new_tokens=32"])
    assert recipe.select.generation.max_new_tokens == 32
    with pytest.raises(ConfigError, match="the selection method sets the decoding mode"):
        load_recipe("deer", tiny=True, overrides=["select.generation.mode=beam"])
