"""FSDP2 (the shipped ``fsdp.yaml``) on 2 CPU processes with gloo, through ``radrl train``.

accelerate enables FSDP for accelerators only; ``tests/scripts/fsdp_cpu.py`` (a test-only shim,
documented there) adds the one missing step so that the same launch shards on CPUs. Everything
else is the code a GPU user runs: ``accelerate launch --config_file fsdp.yaml``, radrl's trainer,
TRL's ``prepare_fsdp`` for OraPO's reference, the full-state-dict gather at save, resume.

Each FSDP run is compared with the DDP run of the same seed and batch (``ddp.yaml`` through the
same shim, where it changes nothing): the losses of every step must agree, which they only do
when every rank's shards are the right halves of the same model.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SHIM = Path(__file__).parent / "scripts" / "fsdp_cpu.py"


def _launcher() -> str:
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which("accelerate")
    if launcher is None:
        pytest.skip("accelerate's launcher is not installed")
    return launcher


def _train(config: str, run: Path, recipe: str, bench: Path, *extra: str, report: Path | None = None):
    """``radrl train --recipe RECIPE --tiny`` (the committed tiny-sft) on 2 CPU processes with
    ``configs/accelerate/CONFIG.yaml``: 2 prompts x 4 rollouts a step, a constant learning rate
    (so a run cut at step 2 and resumed has the schedule of one that was not), a checkpoint a step."""
    from radrl.assets import package_config

    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    env.pop("RADRL_SHARD_REPORT", None)
    if report is not None:
        env["RADRL_SHARD_REPORT"] = str(report)
    cmd = [_launcher(), "launch", "--config_file", str(package_config(f"accelerate/{config}.yaml")),
           "--num_processes", "2", "--mixed_precision", "no", str(SHIM), "train", "--recipe", recipe, "--tiny",
           "-o", str(run), "--no-eval", "model.max_pixels=12544", f"data.path={bench}", "data.synthetic=null",
           f"data.subset={run.parent / f'subset-{recipe}.json'}", "select={method: balanced, size: 8}",
           "rl.per_device_train_batch_size=4", "rl.num_generations=4", "rl.max_completion_length=32",
           "rl.save_steps=1", "rl.report_to=[]", "rl.lr_scheduler_type=constant", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def _steps(run: Path) -> list[dict]:
    record = json.loads((run / "final" / "radrl_rl.json").read_text())
    return [h for h in record["log_history"] if "loss" in h]


def _reports(folder: Path, step: int = 1) -> list[dict]:
    return [json.loads((folder / f"rank-{r}-step-{step}.json").read_text()) for r in (0, 1)]


def _assert_same_steps(a: list[dict], b: list[dict], keys=("loss", "grad_norm", "reward")):
    assert [h["step"] for h in a] == [h["step"] for h in b]
    for x, y in zip(a, b):
        for key in keys:
            assert x[key] == pytest.approx(y[key], rel=1e-4, abs=1e-6), (key, x, y)


def _assert_halves(report_pair: list[dict]) -> None:
    """Every parameter a DTensor sharded on dim 0, the two ranks' pieces adding up to it, each
    about half (an odd first dimension gives rank 0 one row more)."""
    first, second = ({p["name"]: p for p in r["params"]} for r in report_pair)
    assert first.keys() == second.keys() and len(first) > 10
    for name, p in first.items():
        q = second[name]
        assert p["type"] == q["type"] == "DTensor" and p["placements"] == q["placements"] == ["S(0)"], p
        assert p["local_numel"] + q["local_numel"] == p["full_numel"], name
        row = p["full_numel"] // p["shape"][0]
        assert 0 <= p["local_numel"] - q["local_numel"] <= row, name  # ceil and floor of half the rows
    assert all(r["model_class"].startswith("FSDP") for r in report_pair)


def _planned_fsdp_bytes(recipe: str) -> dict[str, float]:
    """The static terms of ``radrl plan --recipe RECIPE --tiny --gpus 2`` under fsdp, in bytes
    (the JSON rounds its parts to 0.01 GB, so they come from the exact counts it prints)."""
    from radrl.planning import static_bytes

    proc = subprocess.run([sys.executable, "-m", "radrl.cli", "plan", "--recipe", recipe, "--tiny", "--gpus", "2",
                           "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    plan = json.loads(proc.stdout)
    return static_bytes(plan["params_total"], plan["params_trainable"], "fsdp", 2, plan["reference_model"])


def test_fsdp2_shards_deer_tfidf_equals_ddp_saves_full_weights_and_resumes(tiny_bench, tmp_path):
    from safetensors.torch import load_file

    from radrl.assets import resolve_model_path

    fsdp, ddp, cut = tmp_path / "fsdp", tmp_path / "ddp", tmp_path / "cut"
    _train("fsdp", fsdp, "deer_tfidf", tiny_bench, "rl.max_steps=3", report=tmp_path / "shards")
    _train("ddp", ddp, "deer_tfidf", tiny_bench, "rl.max_steps=3")
    reports = _reports(tmp_path / "shards")
    _assert_halves(reports)
    steps = _steps(fsdp)
    assert len(steps) == 3 and any(h["reward_std"] > 0 for h in steps)  # the losses compared carry signal
    _assert_same_steps(steps, _steps(ddp))

    # `radrl plan`'s per-device static memory is what each rank holds after its first step
    planned = _planned_fsdp_bytes("deer_tfidf")
    held = {"weights": "weight_bytes", "gradients": "grad_bytes", "optimizer": "optimizer_bytes"}
    for part, key in held.items():
        assert sum(r[key] for r in reports) == 2 * planned[part], part
        assert all(abs(r[key] - planned[part]) / planned[part] < 0.001 for r in reports), (part, reports[0][key])

    # final/: full weights, the same as DDP's, loaded by `radrl generate` in one process
    start = load_file(Path(resolve_model_path("tiny-sft")) / "model.safetensors")
    final, final_ddp = load_file(fsdp / "final" / "model.safetensors"), load_file(ddp / "final" / "model.safetensors")
    assert final.keys() == start.keys() == final_ddp.keys()
    assert all(final[k].shape == start[k].shape for k in start)
    assert max(float((final[k] - final_ddp[k]).abs().max()) for k in final) < 1e-5
    assert max(float((final[k] - start[k]).abs().max()) for k in final) > 1e-4  # it trained (3 AdamW steps at 1e-4)
    preds = tmp_path / "preds.jsonl"
    proc = subprocess.run([sys.executable, "-m", "radrl.cli", "generate", str(fsdp / "final"), "--data",
                           f"synthetic:{tiny_bench}", "--split", "test", "--limit", "2", "--max-new-tokens", "16",
                           "-o", str(preds)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(preds.read_text().splitlines()) == 2

    # --resume from the FSDP checkpoint: step 3 of a run cut at step 2 is step 3 of the uncut run
    # (weights, AdamW moments and RNG all restored; a fresh optimizer would take another step 3)
    _train("fsdp", cut, "deer_tfidf", tiny_bench, "rl.max_steps=2")
    assert (cut / "checkpoints" / "checkpoint-2" / "optimizer.bin").is_file()
    proc = _train("fsdp", cut, "deer_tfidf", tiny_bench, "rl.max_steps=3", "--resume")
    assert "resuming from" in proc.stdout and "checkpoint-2" in proc.stdout
    _assert_same_steps(_steps(cut), steps, keys=("loss", "grad_norm", "reward", "entropy"))


def test_fsdp2_orapo_shards_its_reference_and_equals_ddp(tiny_bench, tmp_path):
    """OraPO's reference (TRL's, for the KL term) goes through TRL's prepare_fsdp: sharded like the
    policy, and the DPO term computed from it is DDP's."""
    fsdp, ddp = tmp_path / "fsdp", tmp_path / "ddp"
    _train("fsdp", fsdp, "orapo", tiny_bench, "rl.max_steps=2", report=tmp_path / "shards")
    _train("ddp", ddp, "orapo", tiny_bench, "rl.max_steps=2")
    reports = _reports(tmp_path / "shards")
    _assert_halves(reports)
    refs = [r["reference"] for r in reports]
    for ref in refs:
        assert ref["model_class"].startswith("FSDP") and ref["n_dtensor"] == ref["n_params"] > 10
    assert refs[0]["local_numel"] + refs[1]["local_numel"] == refs[0]["full_numel"]
    planned = _planned_fsdp_bytes("orapo")  # the plan counts the sharded reference too
    assert 4 * (refs[0]["local_numel"] + refs[1]["local_numel"]) == 2 * planned["reference"] > 0
    _assert_same_steps(_steps(fsdp), _steps(ddp), keys=("loss", "grad_norm", "orapo/dpo_loss", "kl"))


def test_fsdp2_lora_merges_and_saves_what_ddp_saves(tiny_bench, tmp_path):
    """MRG-R1's LoRA under FSDP: the gathered adapters (TRL's 'ref' copy left out) are merged on a
    CPU copy; the saved model equals the DDP run's, which merges in place."""
    from safetensors.torch import load_file

    from radrl.assets import resolve_model_path

    lora = ("model.lora={r: 8, alpha: 16, dropout: 0.0}", "rl.learning_rate=0.01", "rl.max_steps=2")
    fsdp, ddp = tmp_path / "fsdp", tmp_path / "ddp"
    _train("fsdp", fsdp, "mrg_r1", tiny_bench, *lora, report=tmp_path / "shards")
    _train("ddp", ddp, "mrg_r1", tiny_bench, *lora)
    reports = _reports(tmp_path / "shards")
    assert reports[0]["model_class"].startswith("FSDPPeft")
    assert any("lora_A.default" in p["name"] and p["trainable"] for p in reports[0]["params"])
    _assert_same_steps(_steps(fsdp), _steps(ddp), keys=("loss", "grad_norm", "kl"))
    start = load_file(Path(resolve_model_path("tiny-sft")) / "model.safetensors")
    merged, merged_ddp = load_file(fsdp / "final" / "model.safetensors"), load_file(ddp / "final" / "model.safetensors")
    assert merged.keys() == start.keys()  # a plain model: no lora_ keys left
    assert max(float((merged[k] - merged_ddp[k]).abs().max()) for k in merged) < 1e-5
    assert max(float((merged[k] - start[k]).abs().max()) for k in merged) > 1e-3
