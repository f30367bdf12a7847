"""vLLM rollouts see the training processor (pixels included), and impossible settings are
refused before anything loads. vLLM itself needs a GPU; these tests need neither."""

from __future__ import annotations

import pytest

from radrl.cli import main
from radrl.io import ConfigError


def test_a_too_short_vllm_context_is_refused_when_the_recipe_loads(capsys):
    code = main(["recipes", "show", "deer", "rl.use_vllm=true", "rl.vllm_max_model_length=300",
                 "rl.max_completion_length=160", "model.max_pixels=200704"])
    assert code == 2
    err = capsys.readouterr().err
    assert "vllm_max_model_length 300 is shorter" in err and "set it to 480 or more" in err  # 64 + 256 + 160
    assert main(["recipes", "show", "deer", "rl.use_vllm=true", "rl.vllm_max_model_length=480",
                 "rl.max_completion_length=160", "model.max_pixels=200704"]) == 0
    assert main(["recipes", "show", "deer", "rl.use_vllm=true", "rl.vllm_mode=remote"]) == 2


def test_use_vllm_without_vllm_says_which_extra(monkeypatch):
    import importlib.util

    from radrl.training.vllm_rollouts import check_vllm

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install 'radrl\[vllm\]'.*0.22-0.31"):
        check_vllm({"use_vllm": True})
    check_vllm({"use_vllm": False})


def test_the_rollout_model_folder_carries_the_training_processor(tmp_path):
    from radrl.assets import tiny_sft_checkpoint
    from radrl.models.processor import load_processor
    from radrl.training.vllm_rollouts import rollout_model_folder

    source = tiny_sft_checkpoint()
    training = load_processor(str(source), max_pixels=12544, min_pixels=3136)
    default = load_processor(str(source))
    def pixels(processor):  # transformers 5 keeps max/min_pixels as size.longest_edge/shortest_edge
        size = processor.image_processor.size
        return size.longest_edge, size.shortest_edge

    assert pixels(default) != (12544, 3136)  # the checkpoint's own caps differ
    view = rollout_model_folder(str(source), training, tmp_path)
    served = load_processor(str(view))  # what vLLM builds from the folder it is given
    assert pixels(served) == (12544, 3136)
    weights = view / "model.safetensors"
    assert weights.is_symlink() and weights.resolve() == (source / "model.safetensors").resolve()
    assert (view / "config.json").is_symlink()
