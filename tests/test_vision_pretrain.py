"""Vision-tower pretraining and the linear probe (radrl.models.vision_pretrain), on the tiny test VLM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from radrl.data.sample import Sample
from radrl.schema import FINDINGS


def _labels(**positive):
    labels = {f: "negative" for f in FINDINGS}
    labels["No Finding"] = "negative"
    labels.update(positive)
    return labels


def test_finding_targets_count_uncertain_as_present():
    samples = [Sample("a", ["x.png"], "r", labels=_labels(Cardiomegaly="positive", Edema="uncertain")),
               Sample("b", ["y.png"], "r", labels=_labels())]
    from radrl.models.vision_pretrain import finding_targets

    t = finding_targets(samples)
    assert t.shape == (2, 13)
    expected = np.zeros((2, 13), dtype=np.float32)
    expected[0, FINDINGS.index("Cardiomegaly")] = 1
    expected[0, FINDINGS.index("Edema")] = 1
    assert (t == expected).all()
    with pytest.raises(ValueError, match="sample c: no labels"):
        finding_targets([Sample("c", ["z.png"], "r")])


@pytest.fixture(scope="module")
def bright_dark(tmp_path_factory):
    """24 films, half bright and half dark; Cardiomegaly is present exactly on the bright ones,
    Edema alternates independently of brightness."""
    from PIL import Image

    root = tmp_path_factory.mktemp("bright-dark")
    samples = []
    for i in range(24):
        bright = i % 2 == 0
        rng = np.random.default_rng(i)
        pixels = (rng.integers(150, 255, (112, 112)) if bright else rng.integers(0, 100, (112, 112))).astype(np.uint8)
        path = root / f"{i}.png"
        Image.fromarray(pixels).save(path)
        labels = _labels(**({"Cardiomegaly": "positive"} if bright else {}),
                         **({"Edema": "positive"} if (i // 2) % 2 else {}))
        samples.append(Sample(str(i), [str(path)], "r", labels=labels))
    return samples


def test_linear_probe_separates_what_the_features_carry(tiny_vlm, bright_dark):
    from radrl.models.vision_pretrain import linear_probe_auroc

    result = linear_probe_auroc(tiny_vlm, bright_dark[:16], bright_dark[16:], progress=False)
    assert result["auroc"]["Cardiomegaly"] == 1.0  # brightness: any vision feature carries it
    assert result["auroc"]["Pneumothorax"] is None  # no positive anywhere: left out, not 0.5
    assert result["n_train"] == 16 and result["n_eval"] == 8
    values = [v for v in result["auroc"].values() if v is not None]
    assert result["macro_auroc"] == pytest.approx(float(np.mean(values)))


def _tower(path: Path):
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(path / "model.safetensors").items() if "visual" in k}


def test_pretraining_moves_only_the_vision_tower_and_resumes_exactly(tiny_vlm, tiny_bench, tmp_path, monkeypatch):
    """An interrupted pretraining continues after its last finished epoch and ends where an
    uninterrupted one ends; the language model is saved unchanged."""
    import torch

    import radrl.models.vision_pretrain as vp
    from radrl.data.synthetic import load_synthetic
    from radrl.recipe import VisionPretrainSection

    train, val = load_synthetic(tiny_bench, "train")[:16], load_synthetic(tiny_bench, "val")
    settings = VisionPretrainSection(n_images=16, epochs=2, batch_size=8, learning_rate=1e-3, warmup_steps=1)
    card = vp.pretrain_vision_tower(tiny_vlm, train, tmp_path / "whole", settings, val_samples=val, progress=False)
    assert [h["epoch"] for h in card["history"]] == [1, 2]
    assert not (tmp_path / "whole" / "pretrain_state.pt").exists()

    before, after = _tower(Path(tiny_vlm)), _tower(tmp_path / "whole")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    from safetensors.torch import load_file

    init_all, saved_all = load_file(Path(tiny_vlm) / "model.safetensors"), load_file(tmp_path / "whole" / "model.safetensors")
    for k, v in init_all.items():
        if "visual" not in k:
            assert torch.equal(v, saved_all[k]), k

    real_eval, calls = vp._head_eval, []

    def interrupt_on_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_eval(*args, **kwargs)

    monkeypatch.setattr(vp, "_head_eval", interrupt_on_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        vp.pretrain_vision_tower(tiny_vlm, train, tmp_path / "cut", settings, val_samples=val, progress=False)
    assert (tmp_path / "cut" / "pretrain_state.pt").is_file()
    assert not (tmp_path / "cut" / "vision_pretrain.json").exists()
    monkeypatch.setattr(vp, "_head_eval", real_eval)
    resumed = vp.pretrain_vision_tower(tiny_vlm, train, tmp_path / "cut", settings, val_samples=val, progress=False)
    assert resumed["history"][0] == card["history"][0]
    assert resumed["history"][1]["train_loss"] == pytest.approx(card["history"][1]["train_loss"], rel=1e-5)
    whole, cut = _tower(tmp_path / "whole"), _tower(tmp_path / "cut")
    for k in whole:
        torch.testing.assert_close(cut[k], whole[k], rtol=1e-5, atol=1e-6)


def test_section_checks_its_fields():
    from radrl.io import FieldError
    from radrl.recipe import VisionPretrainSection

    with pytest.raises(FieldError, match="epochs"):
        VisionPretrainSection(epochs=0)
    with pytest.raises(FieldError, match="learning_rate"):
        VisionPretrainSection(learning_rate=0)


def test_pipeline_refuses_pretraining_films_from_the_benchmark_seed(tmp_path):
    from radrl.config.sections import SyntheticConfig
    from radrl.io import ConfigError
    from radrl.pipeline import run_pipeline
    from radrl.recipe import PipelineRecipe, VisionPretrainSection

    recipe = PipelineRecipe(synthetic=SyntheticConfig(seed=3), vision_pretrain=VisionPretrainSection(data_seed=3))
    with pytest.raises(ConfigError, match="data_seed = synthetic.seed = 3"):
        run_pipeline(recipe, tmp_path)
    assert not any(tmp_path.iterdir())  # refused before anything was built


def test_tiny_sft_recipe_pretrains_the_vision_tower():
    from radrl.recipe import load_recipe

    recipe = load_recipe("tiny_sft")
    assert recipe.vision_pretrain is not None
    assert recipe.vision_pretrain.data_seed != recipe.synthetic.seed
    assert recipe.sft.freeze == "vision"


def test_transplant_copies_the_vision_tower_and_nothing_else(tiny_vlm, tmp_path):
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from radrl.io import InputError
    from radrl.models.vision_pretrain import transplant_vision_tower

    src, dst = tmp_path / "src", tmp_path / "dst"
    shutil.copytree(tiny_vlm, src)
    shutil.copytree(tiny_vlm, dst)
    tensors = load_file(src / "model.safetensors")
    moved = {k: (v + 1.0 if "visual" in k else v) for k, v in tensors.items()}
    save_file(moved, str(src / "model.safetensors"), metadata={"format": "pt"})
    n = transplant_vision_tower(src, dst)
    out = load_file(dst / "model.safetensors")
    assert n == sum("visual" in k for k in tensors) > 0
    for k, v in tensors.items():
        assert torch.equal(out[k], v + 1.0 if "visual" in k else v), k

    wrong = {k: (v[:1] if "visual" in k else v) for k, v in tensors.items()}
    save_file(wrong, str(src / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(InputError, match="same vision architecture"):
        transplant_vision_tower(src, dst)


@pytest.mark.slow
def test_pipeline_pretrains_the_tower_then_fine_tunes_with_it_frozen(tmp_path, capsys):
    """`radrl pipeline` with a vision_pretrain: section: films of another seed, the tower
    trained on them, SFT from it with the encoder frozen; the SFT model keeps the pretrained
    encoder and carries the pretraining card."""
    import torch

    from radrl.cli import main

    recipe = tmp_path / "r.yaml"
    recipe.write_text("stage: sft_pipeline\nsynthetic: {n_train: 12, n_val: 2, n_test: 3, image_size: 112}\n"
                      "tiny_model: {hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,"
                      " vision_hidden_size: 32, vision_depth: 2, vision_heads: 2, image_size: 112, vocab_size: 400}\n"
                      "vision_pretrain: {n_images: 8, n_val: 4, data_seed: 5, epochs: 1, batch_size: 4,"
                      " warmup_steps: 1}\n"
                      "sft: {max_steps: 2, batch_size: 4, save_steps: 1, logging_steps: 1, freeze: vision}\n"
                      "evaluate: {generation: {max_new_tokens: 8, batch_size: 3}}\n")
    run = tmp_path / "run"
    assert main(["pipeline", str(recipe), "-o", str(run), "--no-meteor"]) == 0
    films = json.loads((run / "vision-data" / "config.json").read_text())
    assert films["seed"] == 5 and films["n_train"] == 8 and films["n_test"] == 0
    card = json.loads((run / "sft" / "final" / "vision_pretrain.json").read_text())
    assert card["n_train"] == 8 and len(card["history"]) == 1 and "val_macro_auroc" in card["history"][0]
    init, pretrained, final = _tower(run / "tiny-init"), _tower(run / "tiny-vision"), _tower(run / "sft" / "final")
    encoder = [k for k in init if "merger" not in k]
    assert any(not torch.equal(init[k], pretrained[k]) for k in encoder)
    for k in encoder:  # frozen during SFT: the SFT model's encoder is the pretrained one
        assert torch.equal(pretrained[k], final[k]), k
    # run again: everything reused; with other pretraining settings the old tower is refused
    assert main(["pipeline", str(recipe), "-o", str(run), "--no-meteor"]) == 0
    recipe.write_text(recipe.read_text().replace("epochs: 1,", "epochs: 2,"))
    capsys.readouterr()
    assert main(["pipeline", str(recipe), "-o", str(run), "--no-meteor"]) == 2
    assert "other vision_pretrain settings" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("vision_pretrain: {epoch: 3}", "vision_pretrain.epoch: unknown key (did you mean epochs?)"),
    ("vision_towr: tiny-sft", "vision_towr: unknown key (did you mean vision_tower?)"),
    ("synthetic: {train_strat: 5}", "synthetic.train_strat: unknown key (did you mean train_start?)"),
    ("vision_pretrain: {epochs: 0}", "vision_pretrain.epochs: epochs must be >= 1"),
])
def test_new_recipe_keys_are_typed(tmp_path, capsys, text, message):
    from radrl.cli import main

    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"stage: sft_pipeline\n{text}\n")
    assert main(["pipeline", str(recipe), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "r.yaml, line 2" in err and message in err
    assert not (tmp_path / "run").exists()
