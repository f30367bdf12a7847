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
    checks = [c for per_rank in result["checks"] for c in per_rank]
    assert {c["rank"] for c in checks} == {0, 1} and len(checks) == 4  # 2 ranks x 2 steps
    for c in checks:
        assert c["n_local"] == 4 and c["n_gathered_rewards"] == 8 and c["one_prompt_across_ranks"]
        assert c["advantages_match"], c
    assert any(c["group_has_signal"] for c in checks)
    assert [h["step"] for h in result["log_history"] if "loss" in h] == [1, 2]
