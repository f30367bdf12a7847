"""SFT smoke test with resume, the pipeline/demo end to end, and the new CLI commands."""

from __future__ import annotations

import json

import pytest

from radrl.cli import main
from radrl.data.synthetic import load_synthetic
from radrl.evaluation import most_frequent_report
from radrl.io import read_records
from radrl.recipe import SFTSettings
from radrl.training.checkpoints import latest_checkpoint
from radrl.training.sft import run_sft


def test_sft_one_epoch_then_resume(tiny_vlm, tiny_bench, tmp_path):
    train = load_synthetic(tiny_bench, "train")[:8]
    settings = SFTSettings(epochs=1, batch_size=4, save_steps=1, logging_steps=1, learning_rate=1e-3)
    final = run_sft(str(tiny_vlm), train, tmp_path, settings)
    info = json.loads((final / "radrl_sft.json").read_text())
    losses = [h["loss"] for h in info["log_history"] if "loss" in h]
    assert len(losses) == 2 and all(0 < x < 20 for x in losses)
    assert (final / "model.safetensors").is_file() and not (final / "training_args.bin").exists()
    assert latest_checkpoint(tmp_path / "checkpoints").name == "checkpoint-2"
    # a second run with more steps resumes at step 2 instead of starting over
    settings.max_steps = 3
    final = run_sft(str(tiny_vlm), train, tmp_path, settings)
    steps = [h["step"] for h in json.loads((final / "radrl_sft.json").read_text())["log_history"] if "loss" in h]
    assert steps == [1, 2, 3]
    # the same command once more: the finished run is reused, not trained a step further
    weights = (final / "model.safetensors").read_bytes()
    final = run_sft(str(tiny_vlm), train, tmp_path, settings)
    assert latest_checkpoint(tmp_path / "checkpoints").name == "checkpoint-3"
    assert (final / "model.safetensors").read_bytes() == weights


def test_sft_freeze_lm_changes_only_vision(tiny_vlm, tiny_bench, tmp_path):
    from safetensors.torch import load_file

    train = load_synthetic(tiny_bench, "train")[:4]
    final = run_sft(str(tiny_vlm), train, tmp_path, SFTSettings(max_steps=1, batch_size=4, freeze="lm",
                                                                learning_rate=1e-2, warmup_steps=0))
    before, after = load_file(tiny_vlm / "model.safetensors"), load_file(final / "model.safetensors")
    changed = {k for k in before if not (before[k] == after[k]).all()}
    assert changed and all("visual" in k for k in changed)


def test_settings_reject_unknown_keys():
    with pytest.raises(ValueError, match="sft.lr: unknown key"):
        SFTSettings.from_dict({"epochs": 1, "lr": 0.1})


def test_most_frequent_report_baseline():
    reports = ["a", "b", "b", "c", "c", "c"]
    assert most_frequent_report(reports) == "c"
    labels = [{"x": "1"}, {"x": "2"}, {"x": "2"}, {"x": "3"}, {"x": "2"}, {"x": "3"}]
    assert most_frequent_report(reports, labels) == "b"  # most common label set, then its most common text


def test_generate_cli_writes_eval_format(tiny_vlm, tiny_bench, tmp_path, capsys):
    out = tmp_path / "pred.jsonl"
    rc = main(["generate", str(tiny_vlm), "--data", f"synthetic:{tiny_bench}", "--limit", "3",
               "--max-new-tokens", "8", "-o", str(out)])
    assert rc == 0
    rows = [r for _, r in read_records(out)]
    assert [r["id"] for r in rows] == [s.id for s in load_synthetic(tiny_bench, "test")[:3]]
    assert all(set(r) == {"id", "prediction", "reference"} for r in rows)
    assert main(["eval", str(out), "-o", str(tmp_path / "m.json"), "--no-meteor"]) == 0
    rc = main(["generate", str(tiny_vlm), "--data", f"synthetic:{tiny_bench}", "--limit", "2", "--mode", "sample",
               "--num-return-sequences", "2", "--max-new-tokens", "4", "-o", str(out)])
    assert rc == 0 and all(len(r["predictions"]) == 2 for _, r in read_records(out))


@pytest.mark.parametrize("args, message", [
    (["--data", "nosuch:x"], "KIND:PATH"),
    (["--data", "synthetic:/nonexistent"], "build the benchmark first"),
    (["--data", "synthetic:{bench}", "--mode", "greedy", "--num-return-sequences", "2"], "greedy decoding"),
])
def test_generate_cli_bad_input(tiny_vlm, tiny_bench, tmp_path, capsys, args, message):
    args = [a.format(bench=tiny_bench) for a in args]
    assert main(["generate", str(tiny_vlm), "-o", str(tmp_path / "p.jsonl"), *args]) == 2
    assert message in capsys.readouterr().err


def test_synth_cli(tmp_path):
    assert main(["synth", str(tmp_path / "b"), "--n-train", "3", "--n-val", "1", "--n-test", "2"]) == 0
    ann = json.loads((tmp_path / "b" / "annotation.json").read_text())
    assert [len(ann[k]) for k in ("train", "val", "test")] == [3, 1, 2]


@pytest.mark.slow
def test_the_five_minute_demo_skips_the_short_sft_and_the_labeler(tmp_path, capsys):
    """No ``sft:`` and no ``labeler:`` (the shipped ``demo`` recipe): the benchmark, the committed
    checkpoint, RL from it and the paired headline, and a pointer to what to run next."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stage: demo\nsynthetic: {n_train: 24, n_val: 2, n_test: 6}\n"
                      "evaluate: {meteor: false, generation: {max_new_tokens: 10, batch_size: 6}}\n"
                      "rl: {recipe: deer_tfidf, overrides: {rl: {max_steps: 1, per_device_train_batch_size: 8,"
                      " num_generations: 4, max_completion_length: 16, save_steps: 1}, data: {subset: null}, select: null,"
                      " evaluate: {generation: {max_new_tokens: 10, batch_size: 6}}}}\n")
    out = tmp_path / "run"
    assert main(["demo", "--recipe", str(recipe), "-o", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["stage_seconds"])[0] == "benchmark" and len(metrics["stage_seconds"]) == 5
    assert set(metrics["systems"]) == {"most frequent report", "SFT, committed checkpoint",
                                       next(k for k in metrics["systems"] if k.startswith("RL"))}
    assert metrics["labeler"] is None and not (out / "sft_loss.png").exists() and not (out / "sft").exists()
    assert metrics["headline"]["n"] == 6 and (out / "report.html").is_file()
    printed = capsys.readouterr().out
    assert "radrl demo --recipe demo_full" in printed and "headline: example F1" in printed


@pytest.mark.slow
def test_demo_end_to_end_on_a_small_recipe(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    labeler = tmp_path / "labeler"  # deer's RL trains its labeler here, not into the checkout's runs/
    recipe.write_text("stage: demo\nsynthetic: {n_train: 24, n_val: 2, n_test: 6}\n"
                      "tiny_model: {hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,"
                      " vision_hidden_size: 32, vision_depth: 2, vision_heads: 2, image_size: 112, vocab_size: 400}\n"
                      "sft: {max_steps: 2, batch_size: 4, save_steps: 1, logging_steps: 1}\n"
                      "evaluate: {meteor: false, generation: {max_new_tokens: 10, batch_size: 6}}\n"
                      "rl: {recipe: deer, overrides: {rl: {max_steps: 2, per_device_train_batch_size: 8,"
                      " num_generations: 4, max_completion_length: 16, save_steps: 1}, data: {subset: null}, select: null,"
                      f" labeler: {{weights: {labeler}}},"
                      " evaluate: {generation: {max_new_tokens: 10, batch_size: 6}}}}\n"
                      "labeler: {train: {size: tiny, epochs: 2, vocab_size: 300}, masking_prompts: 2}\n")
    out = tmp_path / "run"
    assert main(["demo", "--recipe", str(recipe), "-o", str(out)]) == 0  # METEOR off by the recipe alone
    metrics = json.loads((out / "metrics.json").read_text())
    assert all(m["nlg_errors"].get("meteor") == "disabled" for m in metrics["systems"].values())
    # one labeler scores every system, although the deer recipe's RL evaluation uses its CheXbert labeler
    assert {m["labeler"] for m in metrics["systems"].values()} == {"rule"}
    assert metrics["n"] == 6 and "most frequent report" in metrics["systems"]
    for m in metrics["systems"].values():
        assert 0.0 <= m["clinical"]["example"]["f1"] <= 1.0
        assert set(m["clinical"]["per_label"]) >= {"Cardiomegaly", "No Finding"}
    for f in ("per_label_f1.png", "sft_loss.png", "report.html", "eval/predictions.jsonl"):
        assert (out / f).is_file(), f
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64") == 6
    printed = capsys.readouterr().out
    assert "most frequent report" in printed and "SFT vs RL" in printed
    rl_name = next(k for k in metrics["systems"] if k.startswith("RL"))
    assert set(metrics["sft_vs_rl"]) == {"SFT, committed checkpoint", rl_name}
    assert set(metrics["sft_vs_rl"][rl_name]) == {"P", "R", "F1", "macro F1", "BLEU-4", "ROUGE-L"}
    rl_preds = [json.loads(x) for x in (out / "rl" / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(rl_preds) == 6
    headline = metrics["headline"]
    sft_f1, rl_f1 = metrics["sft_vs_rl"]["SFT, committed checkpoint"]["F1"], metrics["sft_vs_rl"][rl_name]["F1"]
    assert {k: headline[k] for k in ("sft_example_f1", "rl_example_f1", "split", "n")} == {
        "sft_example_f1": sft_f1, "rl_example_f1": rl_f1, "split": "test", "n": 6}
    # the paired comparison (radrl compare's bootstrap) agrees with the two systems' own metrics
    assert headline["gain"] == pytest.approx(rl_f1 - sft_f1, abs=1e-9)
    lo, hi = headline["gain_ci95"]
    assert lo <= headline["gain"] <= hi and 0 < headline["p_value"] <= 1 and headline["resamples"] == 1000
    assert "headline: example F1" in printed
    assert (out / "rl" / "final" / "model.safetensors").is_file() and (out / "rl" / "rl_curves.png").is_file()
    assert 'style="background:rgba(220,30,30,' in html and metrics["peak_rss_mb"] > 0
    stages = metrics["stage_seconds"]  # where the demo's time goes: contiguous stages that add up to it
    assert len(stages) == 6 and all(v >= 0 for v in stages.values())
    assert sum(stages.values()) == pytest.approx(metrics["seconds"], abs=1.0)
    assert list((out / "rl" / "checkpoints" / "runs").rglob("events.out.tfevents*"))  # TensorBoard logs
    assert len((out / "rl" / "metrics.csv").read_text().splitlines()) == 3  # header + 2 steps
    assert 0.0 <= metrics["labeler"]["agreement_macro_f1"] <= 1.0
    assert set(metrics["labeler"]["masking"]["strategies"]) == {"random", "tfidf", "gradient"}
    assert (out / "labeler" / "labeler" / "model.safetensors").is_file() and "gradient" in printed


def test_pipeline_rejects_unknown_recipe_sections(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stage: sft_pipeline\nsynthetic: {n_train: 2}\nrl: {}\n")
    assert main(["pipeline", str(recipe), "-o", str(tmp_path / "run")]) == 2
    assert "r.yaml, line 3: rl: unknown key" in capsys.readouterr().err
    recipe.write_text("synthetic: [1, 2\n")
    assert main(["pipeline", str(recipe), "-o", str(tmp_path / "run")]) == 2
    assert "invalid YAML" in capsys.readouterr().err


def test_sft_config_keeps_activation_checkpointing_off_unless_asked(tmp_path):
    from radrl.training.sft import sft_config

    assert sft_config(SFTSettings(), tmp_path).gradient_checkpointing is False  # TRL's default is True
    assert sft_config(SFTSettings(gradient_checkpointing=True), tmp_path).gradient_checkpointing is True
    cfg = sft_config(SFTSettings(), tmp_path)
    assert cfg.completion_only_loss is True and cfg.max_length is None and cfg.remove_unused_columns is False


def test_the_demo_reuses_its_labeler_only_when_settings_and_reports_match(tmp_path, monkeypatch):
    """Reuse is decided by a fingerprint of the labeler's training settings and reports, not by the
    weights file being there: a changed setting or corpus trains it again."""
    from dataclasses import replace

    from radrl import demo
    from radrl.config.recipes import DemoLabelerStage
    from radrl.training import labeler as labeler_module

    calls = []

    def fake_train(reports, out, settings, progress=False):
        calls.append((len(reports), settings.epochs))
        (out / "labeler").mkdir(parents=True, exist_ok=True)
        (out / "labeler" / "model.safetensors").write_bytes(b"weights")
        agreement = {"per_label": {}, "macro_f1": 0.9, "macro_positive_f1": 0.8, "exact": 0.5, "n": 4}
        card = {"agreement": agreement, "train_seconds": 1.0, "parameters": 10}
        (out / "labeler" / "labeler_card.json").write_text(json.dumps(card))
        (out / "agreement.json").write_text(json.dumps(agreement))
        return card

    monkeypatch.setattr(labeler_module, "train_labeler", fake_train)
    train = [type("S", (), {"report": f"report {i}"})() for i in range(4)]
    stage = DemoLabelerStage(masking_prompts=0)
    out = tmp_path / "labeler"
    for settings, samples in ((stage, train), (stage, train), (replace(stage, train=replace(stage.train, epochs=2.0)),
                                                               train), (stage, train[:3])):
        demo.run_labeler_stage(settings, samples, [], out)
    assert calls == [(4, 30.0), (4, 2.0), (3, 30.0)]  # the second run reused the first's labeler


def test_the_pipeline_reuses_its_initial_model_only_when_its_settings_match(tmp_path, monkeypatch, capsys):
    """RUN/tiny-init is reused by its recorded fingerprint; built with other tiny_model settings
    it is refused (the SFT checkpoints in RUN grew from it), never silently reused. The plan the
    pipeline prints first says so, stage by stage."""
    from radrl.io import ConfigError
    from radrl.pipeline import run_pipeline
    from radrl.recipe import load_recipe
    from radrl.training import sft

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop  # the SFT is not what is under test

    monkeypatch.setattr(sft, "run_sft", stop)
    small = ["synthetic.n_train=12", "synthetic.n_val=2", "synthetic.n_test=2", "synthetic.image_size=64",
             "tiny_model.image_size=64", "tiny_model.vocab_size=300", "vision_pretrain=null"]
    weights = tmp_path / "tiny-init" / "model.safetensors"

    def plan() -> dict[str, str]:
        out = capsys.readouterr().out
        assert "radrl pipeline: stages" in out
        return {line.split()[0]: line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("  ")}

    with pytest.raises(Stop):
        run_pipeline(load_recipe("tiny_sft", overrides=small), tmp_path)
    assert plan() == {"benchmark": "run", "tiny-init": "run", "lm-pretrain": "not", "vision-pretrain": "not", "sft": "run",
                      "evaluate": "run"}
    first = weights.stat().st_mtime_ns
    assert not (tmp_path / "tiny-init.partial").exists()  # built aside, then moved into place
    with pytest.raises(Stop):
        run_pipeline(load_recipe("tiny_sft", overrides=small), tmp_path)
    assert plan() == {"benchmark": "skip", "tiny-init": "skip", "lm-pretrain": "not", "vision-pretrain": "not", "sft": "run",
                      "evaluate": "run"}
    assert weights.stat().st_mtime_ns == first  # reused, not rebuilt
    with pytest.raises(ConfigError, match="built with other tiny_model settings"):
        run_pipeline(load_recipe("tiny_sft", overrides=[*small, "tiny_model.hidden_size=64"]), tmp_path)
