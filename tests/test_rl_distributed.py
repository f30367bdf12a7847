"""RadRLTrainer on two CPU processes (tests/scripts/dist_check.py).

``accelerate launch --cpu --num_processes 2`` starts 2 processes only through MPI; without it
accelerate runs one. ``--multi_gpu`` launches through torchrun, and the config's
``use_cpu=True`` then selects the gloo backend: two real CPU processes.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "scripts" / "dist_check.py"


def test_two_cpu_processes_gather_rewards_and_weight_whole_groups(tiny_vlm, tiny_bench, tmp_path):
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which("accelerate")
    if launcher is None:
        pytest.skip("accelerate's launcher is not installed")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", str(SCRIPT), str(tiny_vlm), str(tiny_bench), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads((tmp_path / "dist_check.json").read_text())
    assert result["world_size"] == 2
    assert result["ddp_models_alive_at_exit"] == 0  # the group closed with nothing left holding it
    checks = [c for per_rank in result["checks"] for c in per_rank]
    assert {c["rank"] for c in checks} == {0, 1} and len(checks) == 4  # 2 ranks x 2 steps
    for c in checks:
        assert c["n_local"] == 4 and c["n_gathered_rewards"] == 8 and c["one_prompt_across_ranks"]
        assert c["advantages_match"], c
    assert any(c["group_has_signal"] for c in checks)
    assert [h["step"] for h in result["log_history"] if "loss" in h] == [1, 2]


def _launcher():
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which("accelerate")
    if launcher is None:
        pytest.skip("accelerate's launcher is not installed")
    return launcher


def test_sharded_select_on_two_processes_equals_one_process_and_resumes(tiny_vlm, tiny_bench, tmp_path):
    """`accelerate launch ... select`: each rank measures its shard, rank 0 merges (no collective);
    the subset file is the one a single process writes. So is --shard K/N then --merge N."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    common = ["select", "ddsampling", "--data", f"synthetic:{tiny_bench}", "--split", "train", "--limit", "12",
              "--model", str(tiny_vlm), "--k", "3", "--size", "4", "--max-new-tokens", "12", "--batch-size", "4"]
    cli = [sys.executable, "-m", "radrl.cli"]

    def run(cmd):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]

    one, two, jobs = tmp_path / "one.json", tmp_path / "two.json", tmp_path / "jobs.json"
    run([*cli, *common, "-o", str(one)])
    run([_launcher(), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision",
         "no", "--dynamo_backend", "no", "-m", "radrl.cli", *common, "-o", str(two)])
    for k in (1, 0):  # two jobs of an array, in any order, then the merge
        run([*cli, *common, "--shard", f"{k}/2", "-o", str(jobs)])
    assert not jobs.exists()
    shard = jobs.with_name("jobs.json.shards") / "shard-001-of-002.json"
    before = shard.stat().st_mtime_ns
    run([*cli, *common, "--shard", "1/2", "-o", str(jobs)])  # a finished shard is kept, not measured again
    assert shard.stat().st_mtime_ns == before
    run([*cli, *common, "--merge", "2", "-o", str(jobs)])
    results = [json.loads(p.read_text()) for p in (one, two, jobs)]
    shards = sorted((tmp_path / "two.json.shards").glob("shard-*.json"))
    assert [p.name for p in shards] == ["shard-000-of-002.json", "shard-001-of-002.json"]
    assert [json.loads(p.read_text())["range"] for p in shards] == [[0, 4], [4, 12]]  # whole batches of 4
    for other in results[1:]:
        assert other["ids"] == results[0]["ids"]
        assert other["per_sample_scores"] == results[0]["per_sample_scores"]
        assert other["dataset"] == results[0]["dataset"]
    assert len(set(results[0]["per_sample_scores"].values())) > 1  # the samples differ: the check has teeth


def _train_on_two_processes(config: str, run: Path, tiny_vlm, tiny_bench, *extra):
    """`accelerate launch --config_file configs/accelerate/CONFIG.yaml -m radrl.cli train` on 2 CPU
    processes, the tiny OraPO recipe shrunk to the test model and benchmark."""
    from radrl.assets import package_config

    env = {**os.environ, "PYTHONWARNINGS": "default", "OMP_NUM_THREADS": "1"}
    cmd = [_launcher(), "launch", "--config_file", str(package_config(f"accelerate/{config}")), "--num_processes", "2",
           "--mixed_precision", "no", "-m", "radrl.cli", "train", "--recipe", "orapo", "--tiny", "-o", str(run), "--no-eval",
           f"model.path={tiny_vlm}", "model.max_pixels=12544", f"data.path={tiny_bench}", "data.synthetic=null",
           f"data.subset={run.parent / 'subset.json'}", "select.size=8", "rl.per_device_train_batch_size=4",
           "rl.num_generations=4", "rl.max_completion_length=16", "rl.save_steps=1", "rl.learning_rate=0.01",
           "rl.report_to=[]", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def test_radrl_train_with_orapo_on_two_processes_saves_and_resumes(tiny_vlm, tiny_bench, tmp_path):
    """The DDP config, 2 gloo processes: one run (not two runs of rank 0), OraPO's reference built
    as TRL builds its own, the final model saved with its weights, --resume continuing it."""
    from safetensors.torch import load_file

    run = tmp_path / "run"
    proc = _train_on_two_processes("ddp.yaml", run, tiny_vlm, tiny_bench, "rl.max_steps=2")
    assert proc.stdout.count("RL model ->") == 2  # both ranks finished ...
    record = json.loads((run / "final" / "radrl_rl.json").read_text())
    steps = [h for h in record["log_history"] if "loss" in h]
    assert [h["step"] for h in steps] == [1, 2] and "orapo/dpo_loss" in steps[0]
    assert steps[0]["num_tokens"] > 0 and (run / "checkpoints" / "checkpoint-2").is_dir()
    # ... as one run: 2 processes x 4 completions = 2 of the 8 prompts per step (epoch 0.25 after
    # step 1; two lone rank-0 runs would each log 0.125)
    assert steps[0]["epoch"] == 0.25
    start, final = load_file(tiny_vlm / "model.safetensors"), load_file(run / "final" / "model.safetensors")
    assert start.keys() == final.keys()
    moved = sum(int((final[k] != start[k]).sum()) for k in start) / sum(v.numel() for v in start.values())
    assert moved > 0.5, moved  # the saved weights are the trained ones
    _train_on_two_processes("ddp.yaml", run, tiny_vlm, tiny_bench, "rl.max_steps=3", "--resume")
    resumed = json.loads((run / "final" / "radrl_rl.json").read_text())
    assert [h["step"] for h in resumed["log_history"] if "loss" in h] == [1, 2, 3]


def test_an_fsdp_launch_on_cpus_says_it_trains_as_ddp(tiny_vlm, tiny_bench, tmp_path):
    """accelerate turns FSDP (and DeepSpeed) on for accelerators only: on CPUs the FSDP config
    trains as DDP. radrl says so instead of pretending to shard, and still saves real weights."""
    run = tmp_path / "run"
    proc = _train_on_two_processes("fsdp.yaml", run, tiny_vlm, tiny_bench, "rl.max_steps=1")
    assert "asks for FSDP, but accelerate runs FSDP on GPUs only" in proc.stderr
    assert (run / "final" / "model.safetensors").is_file() and (run / "final" / "config.json").is_file()


def test_shutdown_process_group_closes_an_open_group_and_is_a_no_op_otherwise(tmp_path):
    """Left open, gloo can abort a finished run at interpreter teardown (SIGABRT, seen in CI);
    radrl's CLI and scripts close the group first."""
    import torch.distributed as dist

    from radrl.distributed import shutdown_process_group

    shutdown_process_group()  # no group: nothing happens
    dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
    assert dist.is_initialized()
    shutdown_process_group()
    assert not dist.is_initialized()
    shutdown_process_group()  # twice is fine


def test_the_cli_closes_the_process_group_even_when_the_command_fails(monkeypatch, tmp_path):
    import torch.distributed as dist

    from radrl import cli

    def opens_a_group_then_fails(args):
        dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
        raise cli.InputError("bad input")

    monkeypatch.setattr(cli, "cmd_train", opens_a_group_then_fails)  # build_parser looks it up per call
    assert cli.main(["train", "--recipe", "deer"]) == 2
    assert not dist.is_initialized()


def test_rank0_stages_longer_than_the_process_group_timeout_do_not_break_a_two_process_run(
        tiny_vlm, tiny_bench, tmp_path):
    """The recipe trains a labeler and selects a subset, with the process group's timeout at 5 s and
    the labeler stage taking longer than that on rank 0. Rank 1 waits on the stage's file, not in a
    barrier (the labeler used to train inside main_process_first), so the run completes."""
    from radrl.assets import package_config

    run, labeler = tmp_path / "run", tmp_path / "labeler"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    cmd = [_launcher(), "launch", "--config_file", str(package_config("accelerate/ddp.yaml")), "--num_processes", "2",
           "--mixed_precision", "no", "-m", "radrl.cli", "train", "--recipe", "grpo", "--tiny", "-o", str(run),
           "--no-eval", f"model.path={tiny_vlm}", "model.max_pixels=12544", f"data.path={tiny_bench}",
           "data.synthetic=null", f"data.subset={tmp_path / 'subset.json'}", "select={method: balanced, size: 24}",
           f"labeler={{name: chexbert, weights: {labeler}, train: {{size: tiny, epochs: 80}}}}",
           "rl.ddp_timeout=5", "rl.max_steps=1", "rl.per_device_train_batch_size=4", "rl.num_generations=4",
           "rl.max_completion_length=16", "rl.save_steps=1", "rl.report_to=[]"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    stage = json.loads(Path(str(labeler) + ".stage.json").read_text())
    assert stage["stage"] == "labeler" and stage["seconds"] > 5, stage  # longer than the group's timeout
    assert json.loads((tmp_path / "subset.json").read_text())["ids"]
    assert proc.stdout.count("stage labeler: running") == 1  # rank 0 alone trained it
    assert "labeler" in proc.stdout and (run / "final" / "model.safetensors").is_file()


def test_the_run_folders_writer_is_global_rank_0_or_each_nodes_local_rank_0(monkeypatch, tmp_path):
    """rl.save_on_each_node: every node writes its own folder, so its local rank 0 writes it; the
    setting is scoped to the run (an in-process caller's next run is not node-local)."""
    from radrl.distributed import NODE_LOCAL_ENV, folder_ranks, is_main, node_local, node_local_folder
    from radrl.io import run_lock

    monkeypatch.delenv(NODE_LOCAL_ENV, raising=False)
    for key, value in {"RANK": "2", "LOCAL_RANK": "0", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(key, value)  # the first process of the second node
    assert not is_main() and folder_ranks() == (2, 4)
    with node_local_folder(True):
        assert node_local() and is_main() and folder_ranks() == (0, 2)
    assert not node_local() and NODE_LOCAL_ENV not in os.environ
    with run_lock(tmp_path / "a", writer=False) as lock:  # not the writer: no lock taken
        assert not lock.exists()
    with run_lock(tmp_path / "b", writer=True) as lock:
        assert lock.exists()
