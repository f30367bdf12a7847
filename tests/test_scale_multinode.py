"""A two-node launch on one machine: ``accelerate launch --num_machines 2 --machine_rank {0,1}
--main_process_ip 127.0.0.1 --num_processes 4`` (two processes per "node", gloo on loopback).

With one run folder that both nodes see, the job has one writer (global rank 0): stages run
once, the final model is written once. With ``rl.save_on_each_node: true`` every node has its own
folder, and every node's local rank 0 writes it: the stages, the checkpoints (weights included)
and the final model once per node, so each node resumes from its own checkpoint.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from serve_helpers import free_port

pytestmark = pytest.mark.slow


def _two_nodes(runs: tuple[Path, Path], bench: Path, *extra: str) -> list[str]:
    """Both nodes' launches at once; their outputs (stdout + stderr)."""
    from radrl.assets import package_config

    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    port = str(free_port())
    procs = []
    for node, run in enumerate(runs):
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(package_config("accelerate/ddp.yaml")), "--num_machines", "2", "--machine_rank", str(node),
               "--main_process_ip", "127.0.0.1", "--main_process_port", port, "--num_processes", "4",
               "--mixed_precision", "no", "-m", "radrl.cli", "train", "--recipe", "deer_tfidf", "--tiny", "-o",
               str(run), "--no-eval", "model.max_pixels=12544", f"data.path={bench}", "data.synthetic=null",
               f"data.subset={run / 'subset.json'}", "select={method: balanced, size: 8}",
               "rl.per_device_train_batch_size=4", "rl.num_generations=4", "rl.max_completion_length=32",
               "rl.save_steps=1", "rl.report_to=[]", *extra]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-5000:]
    return outputs


def _steps(run: Path) -> list[dict]:
    return [h for h in json.loads((run / "final" / "radrl_rl.json").read_text())["log_history"] if "loss" in h]


def test_two_nodes_with_one_shared_folder_have_one_writer(tiny_bench, tmp_path):
    run = tmp_path / "shared"
    logs = _two_nodes((run, run), tiny_bench, "rl.max_steps=2")
    both = "".join(logs)
    assert both.count("kept 8 of 40 training samples") == 1  # the subset stage: once in the job
    assert both.count("final model written by process") == 1 and "written by process 0" in logs[0]
    steps = _steps(run)
    assert [h["step"] for h in steps] == [1, 2]
    assert steps[0]["epoch"] == 0.5  # one job of 4 processes: 4 of the 8 prompts a step
    assert (run / "final" / "model.safetensors").is_file()


def test_two_nodes_with_node_local_folders_write_each_once_and_resume(tiny_bench, tmp_path):
    runs = (tmp_path / "node0", tmp_path / "node1")
    logs = _two_nodes(runs, tiny_bench, "rl.max_steps=2", "rl.save_on_each_node=true")
    for run, log in zip(runs, logs):
        assert log.count("kept 8 of 40 training samples") == 1  # each node's own subset stage
        assert log.count("final model written by process") == 1  # each node's local rank 0
        checkpoint = run / "checkpoints" / "checkpoint-2"
        assert (checkpoint / "model.safetensors").is_file() and (checkpoint / "config.json").is_file()
        assert (run / "final" / "model.safetensors").is_file()
    assert "written by process 0" in logs[0] and "written by process 2" in logs[1]
    assert runs[0].joinpath("subset.json").read_text() == runs[1].joinpath("subset.json").read_text()
    finals = [(r / "final" / "model.safetensors").read_bytes() for r in runs]
    assert finals[0] == finals[1]  # one job, one model, a copy per node
    logs = _two_nodes(runs, tiny_bench, "rl.max_steps=3", "rl.save_on_each_node=true", "--resume")
    for run, log in zip(runs, logs):
        assert f"resuming from {run / 'checkpoints' / 'checkpoint-2'}" in log
        assert [h["step"] for h in _steps(run)] == [1, 2, 3]
    assert [h["loss"] for h in _steps(runs[0])] == [h["loss"] for h in _steps(runs[1])]
