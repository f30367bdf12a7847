"""FSDP2 and DeepSpeed ZeRO-2/3 (the shipped ``fsdp.yaml``, ``zero2.yaml``, ``zero3.yaml``) on 2
CPU processes with gloo, through ``radrl train``.

accelerate enables both for accelerators only; ``tests/scripts/shard_on_cpu.py`` (a test-only
shim, documented there) adds the missing steps so that the same launch shards on CPUs. Everything
else is the code a GPU user runs: ``accelerate launch --config_file ...``, radrl's trainer, TRL's
``prepare_fsdp`` for OraPO's reference, the gathers at save, resume.

Each sharded run is compared with the DDP run of the same seed and batch (``ddp.yaml`` through
the same shim, where it changes nothing): the losses of every step must agree, which they only do
when every rank's shards are the right pieces of the same model. The ZeRO tests need DeepSpeed
(``make test-scale`` installs it into .venv-scale); ``make test`` skips them.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SHIM = Path(__file__).parent / "scripts" / "shard_on_cpu.py"
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch"]  # this interpreter's accelerate (and DeepSpeed)


def _train(config: str, run: Path, recipe: str, bench: Path, *extra: str, report: Path | None = None):
    """``radrl train --recipe RECIPE --tiny`` (the committed tiny-sft) on 2 CPU processes with
    ``configs/accelerate/CONFIG.yaml``: 2 prompts x 4 rollouts a step, a constant learning rate
    (so a run cut at step 2 and resumed has the schedule of one that was not), a checkpoint a step."""
    from radrl.assets import package_config

    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    env.pop("RADRL_SHARD_REPORT", None)
    if report is not None:
        env["RADRL_SHARD_REPORT"] = str(report)
    if config.startswith("zero"):
        extra = ("rl.use_cpu=false", *extra)  # accelerate's DeepSpeed branch needs cpu off (see the shim)
    cmd = [*LAUNCH, "--config_file", str(package_config(f"accelerate/{config}.yaml")),
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


@pytest.fixture(scope="module")
def ddp_deer(tiny_bench, tmp_path_factory) -> Path:
    """The DDP run every sharded DEER run is compared with: 3 steps of deer_tfidf --tiny."""
    run = tmp_path_factory.mktemp("ddp-deer") / "run"
    _train("ddp", run, "deer_tfidf", tiny_bench, "rl.max_steps=3")
    return run


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run / "final" / "model.safetensors")


def _start_weights() -> dict:
    from safetensors.torch import load_file

    from radrl.assets import resolve_model_path

    return load_file(Path(resolve_model_path("tiny-sft")) / "model.safetensors")


def _assert_final_is_ddps(run: Path, ddp: Path) -> None:
    """final/ holds the full weights in the layout of the start checkpoint, equal to DDP's, moved."""
    start, final, final_ddp = _start_weights(), _weights(run), _weights(ddp)
    assert final.keys() == start.keys() == final_ddp.keys()
    assert all(final[k].shape == start[k].shape for k in start)
    assert max(float((final[k] - final_ddp[k]).abs().max()) for k in final) < 1e-5
    assert max(float((final[k] - start[k]).abs().max()) for k in final) > 1e-4  # it trained (AdamW at 1e-4)


def _assert_resumes_exactly(config: str, cut: Path, uncut: list[dict], bench: Path) -> None:
    """--resume from the sharded checkpoint: step 3 of a run cut at step 2 is step 3 of the uncut
    run (weights, optimizer moments and RNG all restored; a fresh optimizer takes another step)."""
    _train(config, cut, "deer_tfidf", bench, "rl.max_steps=2")
    proc = _train(config, cut, "deer_tfidf", bench, "rl.max_steps=3", "--resume")
    assert "resuming from" in proc.stdout and "checkpoint-2" in proc.stdout
    _assert_same_steps(_steps(cut), uncut, keys=("loss", "grad_norm", "reward", "entropy"))


def test_fsdp2_shards_deer_tfidf_equals_ddp_saves_full_weights_and_resumes(tiny_bench, ddp_deer, tmp_path):
    fsdp, ddp, cut = tmp_path / "fsdp", ddp_deer, tmp_path / "cut"
    _train("fsdp", fsdp, "deer_tfidf", tiny_bench, "rl.max_steps=3", report=tmp_path / "shards")
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
    _assert_final_is_ddps(fsdp, ddp)
    preds = tmp_path / "preds.jsonl"
    proc = subprocess.run([sys.executable, "-m", "radrl.cli", "generate", str(fsdp / "final"), "--data",
                           f"synthetic:{tiny_bench}", "--split", "test", "--limit", "2", "--max-new-tokens", "16",
                           "-o", str(preds)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(preds.read_text().splitlines()) == 2
    assert (fsdp / "checkpoints" / "checkpoint-2" / "optimizer.bin").is_file()
    _assert_resumes_exactly("fsdp", cut, steps, tiny_bench)


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
        assert ref["model_class"].startswith("FSDP") and ref["n_sharded"] == ref["n_params"] > 10
    assert refs[0]["local_numel"] + refs[1]["local_numel"] == refs[0]["full_numel"]
    planned = _planned_fsdp_bytes("orapo")  # the plan counts the sharded reference too
    assert 4 * (refs[0]["local_numel"] + refs[1]["local_numel"]) == 2 * planned["reference"] > 0
    _assert_same_steps(_steps(fsdp), _steps(ddp), keys=("loss", "grad_norm", "orapo/dpo_loss", "kl"))


def test_fsdp2_lora_merges_and_saves_what_ddp_saves(tiny_bench, tmp_path):
    """MRG-R1's LoRA under FSDP: the gathered adapters (TRL's 'ref' copy left out) are merged on a
    CPU copy; the saved model equals the DDP run's, which merges in place."""
    lora = ("model.lora={r: 8, alpha: 16, dropout: 0.0}", "rl.learning_rate=0.01", "rl.max_steps=2")
    fsdp, ddp = tmp_path / "fsdp", tmp_path / "ddp"
    _train("fsdp", fsdp, "mrg_r1", tiny_bench, *lora, report=tmp_path / "shards")
    _train("ddp", ddp, "mrg_r1", tiny_bench, *lora)
    reports = _reports(tmp_path / "shards")
    assert reports[0]["model_class"].startswith("FSDPPeft")
    assert any("lora_A.default" in p["name"] and p["trainable"] for p in reports[0]["params"])
    _assert_same_steps(_steps(fsdp), _steps(ddp), keys=("loss", "grad_norm", "kl"))
    _assert_final_is_ddps(fsdp, ddp)  # a plain model in the start's layout: no lora_ keys left


def _zero_run(stage: str, bench: Path, tmp_path: Path) -> tuple[Path, list[dict]]:
    """A 3-step ``zero{stage}.yaml`` run of deer_tfidf and its two ranks' reports after step 1."""
    if importlib.util.find_spec("deepspeed") is None:
        pytest.skip("DeepSpeed is not installed here: make test-scale runs these (in .venv-scale)")
    run = tmp_path / f"zero{stage}"
    _train(f"zero{stage}", run, "deer_tfidf", bench, "rl.max_steps=3", report=tmp_path / "shards")
    return run, _reports(tmp_path / "shards")


@pytest.mark.deepspeed
def test_zero2_shards_the_optimizer_equals_ddp_and_saves_full_weights(tiny_bench, ddp_deer, tmp_path):
    run, reports = _zero_run("2", tiny_bench, tmp_path)
    total = sum(p["full_numel"] for p in reports[0]["params"])
    for r in reports:  # weights whole on each rank, AdamW's two float32 moments split in two
        assert {p["type"] for p in r["params"]} == {"Tensor"} and r["weight_bytes"] == 4 * total
        assert abs(r["optimizer_bytes"] - 4 * total) <= 64, r["optimizer_bytes"]
    assert sum(r["optimizer_bytes"] for r in reports) == 8 * total
    _assert_same_steps(_steps(run), _steps(ddp_deer))
    _assert_final_is_ddps(run, ddp_deer)


@pytest.mark.deepspeed
def test_zero3_partitions_weights_equals_ddp_saves_full_weights_and_resumes(tiny_bench, ddp_deer, tmp_path):
    run, reports = _zero_run("3", tiny_bench, tmp_path)
    first, second = ({p["name"]: p for p in r["params"]} for r in reports)
    for name, p in first.items():  # every parameter a ZeRO-3 partition, the two adding up to it
        assert p["type"] == second[name]["type"] == "ZeRO-3", name
        assert p["local_numel"] + second[name]["local_numel"] >= p["full_numel"], name  # (padded to even)
        assert abs(p["local_numel"] - p["full_numel"] / 2) <= 1, name
    total = sum(p["full_numel"] for p in reports[0]["params"])
    assert all(abs(r["weight_bytes"] - 2 * total) <= 4 * len(first) for r in reports)
    steps = _steps(run)
    _assert_same_steps(steps, _steps(ddp_deer))
    _assert_final_is_ddps(run, ddp_deer)  # gathered by the engine, in the start's key layout
    _assert_resumes_exactly("zero3", tmp_path / "cut", steps, tiny_bench)
