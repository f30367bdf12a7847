"""Precision and the model: section (issue 13): a checkpoint stored in bf16 trains at DEER's lr
1e-6 because radrl loads float32 weights (as TRL does when it loads the model itself); bf16
weights are warned about; the recipe's pixels and attention kernel reach the processor and model."""

from __future__ import annotations

import shutil

import pytest
import torch
from helpers import LengthReward
from safetensors.torch import load_file

from radrl.io import ConfigError
from radrl.recipe import ModelSection, recipe_from_dict
from radrl.rewards import REWARDS


@pytest.fixture(scope="module")
def bf16_checkpoint(tiny_vlm, tmp_path_factory):
    """The tiny model as a hub checkpoint often arrives: weights stored in bfloat16."""
    from transformers import AutoModelForImageTextToText

    out = tmp_path_factory.mktemp("tiny-bf16")
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm, dtype=torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    for f in tiny_vlm.iterdir():
        if f.is_file() and not f.name.startswith("model") and not (out / f.name).exists():
            shutil.copy2(f, out / f.name)
    assert {t.dtype for t in load_file(out / "model.safetensors").values()} == {torch.bfloat16}
    return out


def _train(checkpoint, bench, out, **model):
    from radrl.stages import run_rl

    REWARDS.register("length_test", LengthReward)
    try:
        recipe = recipe_from_dict({
            "model": {"path": str(checkpoint), **model},
            "data": {"kind": "synthetic", "path": str(bench), "limit": 8},
            "rewards": [{"type": "length_test"}],
            "rl": {"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 16,
                   "learning_rate": 1e-6, "max_steps": 2, "save_steps": 2, "report_to": [], "disable_tqdm": True,
                   "dataloader_pin_memory": False, "beta": 0.0, "temperature": 1.0, "lr_scheduler_type": "constant",
                   "warmup_steps": 0}})
        run_rl(recipe, out, evaluate=False)
    finally:
        REWARDS.unregister("length_test")
    return load_file(out / "final" / "model.safetensors")


def _moved_share(start: dict, end: dict) -> float:
    moved = total = 0
    for key, before in start.items():
        after = end[key].float()
        moved += (after != before.float()).sum().item()
        total += before.numel()
    return moved / total


def test_a_bf16_checkpoint_trains_at_lr_1e_6(bf16_checkpoint, tiny_bench, tmp_path):
    start = load_file(bf16_checkpoint / "model.safetensors")
    end = _train(bf16_checkpoint, tiny_bench, tmp_path / "fp32")
    assert {t.dtype for t in end.values()} == {torch.float32}  # model.save_dtype: float32
    share = _moved_share(start, end)
    assert share > 0.5, f"only {share:.1%} of the weights moved"


def test_bf16_weights_are_warned_about_and_barely_move(bf16_checkpoint, tiny_bench, tmp_path):
    """What radrl did before: the weights kept in bf16 at lr 1e-6 (the failure the default avoids)."""
    start = load_file(bf16_checkpoint / "model.safetensors")
    with pytest.warns(UserWarning, match="round away"):
        end = _train(bf16_checkpoint, tiny_bench, tmp_path / "bf16", dtype="bfloat16", save_dtype="bfloat16")
    assert {t.dtype for t in end.values()} == {torch.bfloat16}
    assert _moved_share(start, end) < 0.2


def test_low_precision_warning_by_rule():
    from radrl.models.policy import low_precision_warning

    model = torch.nn.Linear(4, 4)
    assert low_precision_warning(model, 1e-6) is None  # float32: fine
    assert "round away" in low_precision_warning(model.to(torch.bfloat16), 1e-6)
    assert low_precision_warning(model, 1e-3) is None  # large enough steps survive bf16
    model.weight.requires_grad_(False)
    model.bias.requires_grad_(False)
    assert low_precision_warning(model, 1e-6) is None  # nothing trainable in bf16


def test_model_section_pixels_and_kernel_reach_the_processor_and_model(tiny_vlm):
    from radrl.models.policy import load_policy

    section = ModelSection(path=str(tiny_vlm), min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16,
                           attn_implementation="eager")
    model, processor = load_policy(section.path, **section.policy_kwargs())
    size = processor.image_processor.size
    assert (size["shortest_edge"], size["longest_edge"]) == (28 * 28 * 4, 28 * 28 * 16)
    assert model.config._attn_implementation == "eager"
    assert next(model.parameters()).dtype == torch.float32
    with pytest.raises(ConfigError, match="max_pixels"):
        ModelSection(path="x", min_pixels=28 * 28 * 16, max_pixels=28 * 28 * 4)
    with pytest.raises(ConfigError, match="784"):
        ModelSection(path="x", max_pixels=100)
