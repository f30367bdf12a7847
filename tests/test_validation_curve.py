"""ValidationCurveCallback: validation F1 during RL, without changing what RL trains."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file


def _recipe(tiny_vlm, tiny_bench):
    from radrl.recipe import recipe_from_dict

    return recipe_from_dict({
        "model": {"path": str(tiny_vlm)},
        "data": {"kind": "synthetic", "path": str(tiny_bench), "limit": 16},
        "rewards": [{"type": "bleu2"}],  # non-zero on a random tiny model's text: the weights move
        "rl": {"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 16,
               "learning_rate": 1e-3, "max_steps": 2, "save_steps": 2, "report_to": [], "temperature": 1.0,
               "dataloader_pin_memory": False, "disable_tqdm": True, "loss_type": "grpo"},
    })


def test_the_curve_scores_every_step_and_leaves_the_trajectory_as_it_was(tiny_vlm, tiny_bench, tmp_path):
    """Sampled rollouts (temperature 1) consume torch's random state, and the callback's generation
    reseeds it: unless the callback restores it, step 2 samples other rollouts and the weights differ."""
    from radrl.data.synthetic import load_synthetic
    from radrl.evaluation import evaluate_model
    from radrl.stages import run_rl
    from radrl.training.validation_curve import ValidationCurveCallback, read_curve

    val = load_synthetic(tiny_bench, "val")
    recipe = _recipe(tiny_vlm, tiny_bench)
    generation = {"mode": "greedy", "max_new_tokens": 16, "batch_size": 4}
    plain = run_rl(recipe, tmp_path / "plain", evaluate=False)["model"]
    callback = ValidationCurveCallback(val, tmp_path / "curve", every=1, generation=generation)
    curved = run_rl(recipe, tmp_path / "curve", evaluate=False, callbacks=[callback])["model"]

    a, b = load_file(plain / "model.safetensors"), load_file(curved / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    start = load_file(tiny_vlm / "model.safetensors")
    assert any(not torch.equal(start[k], a[k]) for k in a if k in start)  # RL changed the weights

    rows = read_curve(tmp_path / "curve" / "val_curve.jsonl")
    assert [r["step"] for r in rows] == [0, 1, 2] and all(r["n"] == len(val) for r in rows)
    # step 0 is the start; the final row is the trained policy: each as evaluate_model scores it from disk
    for row, model in ((rows[0], tiny_vlm), (rows[-1], curved)):
        metrics, _ = evaluate_model(model, val, tmp_path / f"eval-{row['step']}", generation, meteor=False)
        assert row["example_f1"] == pytest.approx(metrics["clinical"]["example"]["f1"])
        assert row["macro_recall"] == pytest.approx(metrics["clinical"]["macro"]["recall"])
        assert set(row["per_label_f1"]) == set(metrics["clinical"]["per_label"])


def test_the_curve_refuses_unlabelled_samples_and_drops_rows_after_a_resumed_step(tiny_bench, tmp_path):
    from types import SimpleNamespace

    from radrl.data.synthetic import load_synthetic
    from radrl.training.validation_curve import ValidationCurveCallback, read_curve

    val = load_synthetic(tiny_bench, "val")
    with pytest.raises(ValueError, match="positive number of steps"):
        ValidationCurveCallback(val, tmp_path, every=0)
    with pytest.raises(ValueError, match="ground-truth labels"):
        ValidationCurveCallback([dataclasses.replace(s, labels={}) for s in val], tmp_path, every=1)
    path = tmp_path / "val_curve.jsonl"
    path.write_text("".join(json.dumps({"step": s, "example_f1": 0.1 * s}) + "\n" for s in (0, 10, 20, 30))
                    + '{"step": 40, "exa')  # a line cut by a crash
    callback = ValidationCurveCallback(val, tmp_path, every=10)
    # resumed from checkpoint 20: its row is there, so nothing is scored before training goes on
    callback.on_train_begin(SimpleNamespace(world_size=1), SimpleNamespace(global_step=20), None)
    assert [r["step"] for r in read_curve(path)] == [0, 10, 20]
    with pytest.raises(RuntimeError, match="single process"):
        callback.on_train_begin(SimpleNamespace(world_size=2), SimpleNamespace(global_step=0), None)
