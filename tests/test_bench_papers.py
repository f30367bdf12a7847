"""bench/papers.py (make bench-papers): the statistics by hand, the page, and one tiny real run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "papers.py"


@pytest.fixture(scope="module")
def papers():
    sys.path.insert(0, str(SCRIPT.parent))  # as `python bench/papers.py` has it: bench/_shared.py
    spec = importlib.util.spec_from_file_location("bench_papers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_papers"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_mean_ci_by_hand(papers):
    # values 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.302653, half-width 4.302653 / sqrt(3) = 2.484138
    ci = papers.mean_ci([1.0, 2.0, 3.0])
    assert ci["mean"] == 2.0
    assert ci["ci95"] == pytest.approx([2 - 2.484138, 2 + 2.484138], abs=1e-6)
    assert papers.mean_ci([0.5])["ci95"] == [0.5, 0.5]


def test_verdicts(papers):
    assert papers.verdict([0.02, 0.03, 0.025]) == "reproduces"
    assert papers.verdict([0.05, -0.01, 0.02]) == "same direction, not significant"
    assert papers.verdict([-0.01, -0.02, 0.0]) == "does not reproduce"
    assert papers.verdict([0.3]) == "same direction, not significant"  # one seed is never significant


def _run(val, test):
    return {"val": {"example_f1": val, "macro_f1": val / 2, "bleu_4": 0.1},
            "test": {"example_f1": test, "macro_f1": test / 2, "bleu_4": 0.1}}


def test_summary_pairs_differences_by_seed(papers):
    comp = papers.Comparison("t", "grpo", {"A": [], "B": []}, [("A", "B", "example_f1")])
    arms = {"A": {"runs": {"0": _run(0.6, 0.66), "1": _run(0.6, 0.65), "2": _run(0.6, 0.67)}},
            "B": {"runs": {"0": _run(0.5, 0.60), "1": _run(0.5, 0.60), "2": _run(0.5, 0.60)}}}
    result = papers.summarize(comp, arms, [0, 1, 2])
    claim = result["claims"][0]
    # test differences 0.06, 0.05, 0.07: mean 0.06, sd 0.01, half-width 4.302653 * 0.01 / sqrt(3) = 0.024841
    assert claim["test"]["diff"]["mean"] == pytest.approx(0.06)
    assert claim["test"]["diff"]["ci95"][0] == pytest.approx(0.06 - 0.024841, abs=1e-6)
    assert claim["test"]["verdict"] == "reproduces"
    assert claim["val"]["diff"]["mean"] == pytest.approx(0.1)
    assert result["arms"]["A"]["summary"]["test"]["macro_f1"]["mean"] == pytest.approx(0.33)
    arms["A"]["runs"]["1"] = _run(0.6, 0.58)  # differences 0.06, -0.02, 0.07: the interval spans 0
    assert papers.summarize(comp, arms, [0, 1, 2])["claims"][0]["test"]["verdict"] == "same direction, not significant"


def test_page_lists_every_comparison_and_verdict(papers, tmp_path):
    comp = papers.Comparison("OraPO Fig. 2", "orapo", {"OraPO": [], "Dr.GRPO": []}, [("OraPO", "Dr.GRPO", "example_f1")])
    arms = {"OraPO": {"runs": {"0": {**_run(0.6, 0.6), "zero_reward_share": [0.5, 0.4]}}},
            "Dr.GRPO": {"runs": {"0": {**_run(0.6, 0.7), "zero_reward_share": [0.5, 0.6]}}}}
    result = papers.summarize(comp, arms, [0])
    papers.write_page({"orapo": result}, tmp_path / "index.html", [0], 2)
    page = (tmp_path / "index.html").read_text()
    assert "OraPO Fig. 2" in page and "does not reproduce" in page
    assert page.count("data:image/png;base64,") == 2  # the bars and the zero-reward curves


def test_a_tiny_comparison_runs_end_to_end(tiny_bench, tiny_vlm, tmp_path):
    """One step, one seed, the tiny model and benchmark: the real trainer, evaluation and page."""
    out = tmp_path / "papers"
    done = subprocess.run([sys.executable, str(SCRIPT), "--only", "mrg_r1", "--seeds", "0", "--steps", "1", "--out", str(out),
                    "--model", str(tiny_vlm), "--set", f"data.path={tiny_bench}", "data.synthetic=null",
                    "rl.per_device_train_batch_size=8", "rl.num_generations=4", "rl.max_completion_length=24",
                    "evaluate.generation.max_new_tokens=24"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    arms = results["comparisons"]["mrg_r1"]["arms"]
    assert set(arms) == {"MCCS + format", "example F1"}
    for arm in arms.values():
        run = arm["runs"]["0"]
        assert 0.0 <= run["test"]["example_f1"] <= 1.0 and len(run["zero_reward_share"]) == 1
    assert "MRG-R1" in (out / "index.html").read_text()


def test_runs_from_another_sft_model_are_not_mixed_in(papers, tmp_path):
    model = tmp_path / "sft"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights one")
    out = tmp_path / "bench"
    papers.check_origin(out, model, 80, [])  # a fresh folder: origin written
    papers.check_origin(out, model, 80, [])  # same model and budget: its runs are reused
    (model / "model.safetensors").write_bytes(b"weights two")
    with pytest.raises(SystemExit, match="another sft_model_sha256"):
        papers.check_origin(out, model, 80, [])
    (model / "model.safetensors").write_bytes(b"weights one")
    with pytest.raises(SystemExit, match="another steps"):
        papers.check_origin(out, model, 40, [])
    legacy = tmp_path / "legacy"
    (legacy / "orapo").mkdir(parents=True)
    with pytest.raises(SystemExit, match="unknown SFT model"):
        papers.check_origin(legacy, model, 80, [])
