"""The pipeline's lm-pretrain stage (DEER's start): text-only SFT of the language model, then an
SFT with the language model frozen that trains only the vision side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(path / "model.safetensors")


def _changed(a: dict, b: dict, part) -> set[str]:
    import torch

    return {k for k in a if part(k) and not torch.equal(a[k], b[k])}


def test_a_dataset_without_images_is_text_only():
    from radrl.data.sample import Sample
    from radrl.training.datasets import to_trl_dataset

    text = to_trl_dataset([Sample("a", [], "No acute findings.")])
    assert "images" not in text.column_names and text[0]["completion"][0]["content"][0]["text"] == "No acute findings."
    assert [c["type"] for c in text[0]["prompt"][0]["content"]] == ["text"]  # no image placeholder
    assert "images" in to_trl_dataset([Sample("b", ["x.png"], "r")]).column_names


def test_lm_pretrain_that_would_train_nothing_is_refused_before_anything_is_built(tmp_path):
    from radrl.io import ConfigError
    from radrl.pipeline import run_pipeline
    from radrl.recipe import load_recipe

    recipe = load_recipe("tiny_sft", overrides=["vision_pretrain=null", "lm_pretrain.freeze=lm"])
    with pytest.raises(ConfigError, match="lm_pretrain.freeze = lm"):
        run_pipeline(recipe, tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_pipeline_pretrains_the_language_model_on_text_then_sft_trains_only_the_vision_side(tmp_path, capsys):
    """lm-pretrain moves the language model and leaves the tower as built; the SFT after it, with
    ``sft.freeze: lm``, keeps that language model exactly and moves the tower and projector."""
    from radrl.cli import main

    recipe = tmp_path / "r.yaml"
    recipe.write_text("stage: sft_pipeline\nsynthetic: {n_train: 12, n_val: 2, n_test: 3, image_size: 112}\n"
                      "tiny_model: {hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,"
                      " vision_hidden_size: 32, vision_depth: 2, vision_heads: 2, image_size: 112, vocab_size: 400}\n"
                      "lm_pretrain: {max_steps: 3, batch_size: 4, save_steps: 10, logging_steps: 1, freeze: vision}\n"
                      "sft: {max_steps: 2, batch_size: 4, save_steps: 10, logging_steps: 1, freeze: lm}\n"
                      "evaluate: {generation: {max_new_tokens: 8, batch_size: 3}}\n")
    run = tmp_path / "run"
    assert main(["pipeline", str(recipe), "-o", str(run), "--no-meteor"]) == 0
    plan = capsys.readouterr().out
    assert any(line.split()[:2] == ["lm-pretrain", "run"] for line in plan.splitlines())
    init, text, final = _weights(run / "tiny-init"), _weights(run / "lm-pretrain" / "final"), _weights(run / "sft" / "final")
    vision = lambda k: "visual" in k  # noqa: E731  (the tower and its merger, the projector)
    language = lambda k: "visual" not in k  # noqa: E731
    assert _changed(init, text, language) and not _changed(init, text, vision)
    assert not _changed(text, final, language) and _changed(text, final, vision)
    card = json.loads((run / "lm-pretrain" / "final" / "radrl_sft.json").read_text())
    assert card["base_model"] == str(run / "tiny-init") and card["n_train"] == 12
    sft_card = json.loads((run / "sft" / "final" / "radrl_sft.json").read_text())
    assert sft_card["base_model"] == str(run / "lm-pretrain" / "final")
