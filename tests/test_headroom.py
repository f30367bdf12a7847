"""radrl.analysis.headroom on hand-computed label matrices."""

import numpy as np
import pytest

from radrl.analysis.headroom import (
    best_of_k,
    call_rates,
    headroom,
    mbr_decision,
    policy_auroc,
    threshold_decision,
)
from radrl.schema import NO_FINDING, OBSERVATIONS


def test_call_rates_are_the_share_of_positive_samples():
    sampled = np.array([[[1, 0, 0], [1, 1, 0]]])
    assert call_rates(sampled).tolist() == [[1.0, 0.5, 0.0]]
    with pytest.raises(ValueError, match="studies, K"):
        call_rates(np.zeros((2, 3)))


def test_threshold_decision_sets_no_finding_only_when_nothing_else_is_called():
    rates = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.9]])
    assert threshold_decision(rates, 0.5, no_finding=2, not_abnormal=()).tolist() == [[1, 0, 0], [0, 0, 1]]
    assert threshold_decision(rates, 0.3, no_finding=2, not_abnormal=()).tolist() == [[1, 1, 0], [0, 1, 0]]
    # column 1 a support device: alone it leaves No Finding standing, as the labelers have it
    assert threshold_decision(rates, 0.3, no_finding=2, not_abnormal=(1,)).tolist() == [[1, 1, 0], [0, 1, 1]]
    L = len(OBSERVATIONS)
    devices_only = np.zeros((1, L))
    devices_only[0, OBSERVATIONS.index("Support Devices")] = 0.9
    row = threshold_decision(devices_only, 0.5)[0]
    assert row[OBSERVATIONS.index(NO_FINDING)] == 1 and row.sum() == 2


def test_mbr_takes_the_sample_closest_to_the_others():
    # A=[1,1,0] B=[1,0,0] C=[1,1,0]: F1(A,B)=2/3, F1(A,C)=1, F1(B,C)=2/3 -> A: 5/3, B: 4/3, C: 5/3 -> A
    sampled = np.array([[[1, 1, 0], [1, 0, 0], [1, 1, 0]],
                        [[0, 0, 1], [1, 0, 0], [1, 0, 0]]])  # second: B and C agree -> B
    assert mbr_decision(sampled).tolist() == [[1, 1, 0], [1, 0, 0]]
    assert mbr_decision(sampled[:, :1]).tolist() == [[1, 1, 0], [0, 0, 1]]


def test_best_of_k_is_the_best_sample_per_study():
    ref = np.array([[1, 0, 0], [0, 1, 1]])
    sampled = np.array([[[1, 1, 0], [1, 0, 0]],    # F1 2/3, 1
                        [[0, 1, 0], [1, 0, 0]]])   # F1 2/3, 0
    assert best_of_k(sampled, ref).tolist() == pytest.approx([1.0, 2 / 3])


def test_policy_auroc_counts_ties_as_one_half():
    rates = np.array([[0.5], [0.2], [0.2], [0.0]])
    ref = np.array([[1], [1], [0], [0]])
    # pairs (pos, neg): 0.5>0.2, 0.5>0.0, 0.2=0.2 (1/2), 0.2>0.0 -> 3.5 / 4
    assert policy_auroc(rates, ref, labels=["x"]) == {"x": 0.875}
    assert policy_auroc(np.array([[0.3], [0.3]]), np.array([[1], [0]]), labels=["x"]) == {"x": 0.5}
    assert policy_auroc(rates, np.ones((4, 1)), labels=["x"]) == {"x": None}


def test_headroom_on_a_policy_that_under_calls():
    L = len(OBSERVATIONS)
    nf, a = OBSERVATIONS.index(NO_FINDING), OBSERVATIONS.index("Atelectasis")
    # two studies, both positive for Atelectasis only; greedy says normal on both; 4 samples each
    # call Atelectasis 1 and 3 times.
    ref = np.zeros((2, L), int)
    ref[:, a] = 1
    greedy = np.zeros((2, L), int)
    greedy[:, nf] = 1
    normal, atel = np.zeros(L, int), np.zeros(L, int)
    normal[nf], atel[a] = 1, 1
    sampled = np.array([[atel, normal, normal, normal], [atel, atel, atel, normal]])
    h = headroom(greedy, sampled, ref, thresholds=(0.25, 0.5, 0.8))
    assert h["greedy_f1"] == 0.0
    assert h["sampled_f1"] == pytest.approx((1 / 4 + 3 / 4) / 2)       # mean over samples
    assert h["threshold_f1"] == pytest.approx({0.25: 1.0, 0.5: 0.5, 0.8: 0.0})
    assert h["best_threshold"] == 0.25
    assert h["mbr_f1"] == pytest.approx(0.5)                              # study 1 -> normal, 2 -> atelectasis
    assert h["best_of_k_f1"] == 1.0
    assert h["per_label"]["Atelectasis"]["call_rate_positive"] == pytest.approx(0.5)
    assert h["per_label"]["Atelectasis"]["greedy_recall"] == 0.0
    assert h["per_label"]["Atelectasis"]["policy_auroc"] is None          # no negatives
    with pytest.raises(ValueError, match="shapes"):
        headroom(greedy[:1], sampled, ref)


@pytest.mark.slow
def test_bench_script_end_to_end_and_reuses_its_samples(tmp_path, capsys):
    """bench/rl_headroom.py on the committed checkpoint, 6 studies x 2 samples: the table prints,
    the JSON holds what the analysis computes from the cached label matrices, and a second run
    re-scores the cache instead of generating again."""
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "bench" / "rl_headroom.py"
    spec = importlib.util.spec_from_file_location("bench_rl_headroom", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    probe = tmp_path / "probe.json"
    probe.write_text(json.dumps({"models": {"m": {"auroc": {"Pneumothorax": 0.83}}}}))
    args = ["--k", "2", "--n-val", "6", "--data", str(tmp_path / "films"), "--out", str(tmp_path / "out"),
            "--probe", str(probe)]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "6 validation studies, 2 samples" in out and "Pneumothorax" in out
    result = json.loads((tmp_path / "out" / "headroom.json").read_text())
    with np.load(tmp_path / "out" / "labels.npz") as z:
        greedy, sampled = z["greedy"], z["sampled"]
    assert greedy.shape == (6, len(OBSERVATIONS)) and sampled.shape == (6, 2, len(OBSERVATIONS))
    assert result["probe_auroc"] == {"Pneumothorax": 0.83}
    assert result["k"] == 2 and result["n"] == 6
    assert result["best_of_k_f1"] >= max(result["sampled_f1"], 0.0)
    mtime = (tmp_path / "out" / "labels.npz").stat().st_mtime_ns
    assert bench.main(args) == 0
    assert (tmp_path / "out" / "labels.npz").stat().st_mtime_ns == mtime  # scored from the cache
    assert json.loads((tmp_path / "out" / "headroom.json").read_text())["greedy_f1"] == result["greedy_f1"]
    with pytest.raises(SystemExit, match="no model 'x'"):
        bench.main([*args, "--probe-model", "x"])
    with pytest.raises(SystemExit, match="use FINDING=RATE"):
        bench.main([*args, "--prevalence", "Pneumothorax"])
    # another distribution of films is another cache key: the films are rebuilt, the samples regenerated
    assert bench.main([*args, "--prevalence", "Pneumothorax=0.9", "--report-style", "templated",
                       "--sign-strength", "0.5"]) == 0
    config = json.loads((tmp_path / "films" / "config.json").read_text())
    assert config["prevalence"]["Pneumothorax"] == 0.9 and config["report_style"] == "templated"
    assert config["sign_strength"] == 0.5
    assert (tmp_path / "out" / "labels.npz").stat().st_mtime_ns != mtime
