"""bench/papers.py (make bench-papers): the statistics by hand, the page, and one tiny real run."""

from __future__ import annotations

import hashlib
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


def _run(val, test, seconds=1.0):
    return {"val": {"example_f1": val, "macro_f1": val / 2, "bleu_4": 0.1},
            "test": {"example_f1": test, "macro_f1": test / 2, "bleu_4": 0.1}, "seconds_per_step": seconds,
            "clipped_token_share": 0.1 * seconds}


def test_summary_pairs_differences_by_seed(papers):
    comp = papers.Comparison("t", "grpo", {"A": [], "B": []}, [("A", "B", "example_f1")], baseline="B")
    arms = {"A": {"runs": {"0": _run(0.6, 0.66, 3.0), "1": _run(0.6, 0.65, 2.0), "2": _run(0.6, 0.67, 4.0)}},
            "B": {"runs": {"0": _run(0.5, 0.60, 2.0), "1": _run(0.5, 0.60), "2": _run(0.5, 0.60, 3.0)}},
            "C": {"runs": {"0": _run(0.5, 0.60, 2.0)}}}  # one seed only: the summary waits for it
    result = papers.summarize(comp, {k: v for k, v in arms.items() if k != "C"}, [0, 1, 2])
    claim = result["claims"][0]
    # test differences 0.06, 0.05, 0.07: mean 0.06, sd 0.01, half-width 4.302653 * 0.01 / sqrt(3) = 0.024841
    assert claim["test"]["diff"]["mean"] == pytest.approx(0.06)
    assert claim["test"]["diff"]["ci95"][0] == pytest.approx(0.06 - 0.024841, abs=1e-6)
    assert claim["test"]["verdict"] == "reproduces"
    assert claim["val"]["diff"]["mean"] == pytest.approx(0.1)
    assert arms["A"]["summary"]["test"]["macro_f1"]["mean"] == pytest.approx(0.33)
    # cost: A's mean 3.0 s/step over B's 2.0 -> 1.5; clipped share the mean of 0.3, 0.2, 0.4
    assert result["cost"]["A"].pop("timed_seeds") == [0, 1, 2]  # no run's timing is void
    assert result["cost"]["A"] == pytest.approx({"seconds_per_step": 3.0, "ratio_to_B": 1.5, "clipped_token_share": 0.3})
    assert result["cost"]["B"]["ratio_to_B"] == 1.0
    arms["A"]["runs"]["1"] = _run(0.6, 0.58)  # differences 0.06, -0.02, 0.07: the interval spans 0
    assert papers.summarize(comp, {k: v for k, v in arms.items() if k != "C"},
                            [0, 1, 2])["claims"][0]["test"]["verdict"] == "same direction, not significant"
    partial = papers.summarize(comp, arms, [0, 1, 2])  # only seed 0 has every arm
    assert partial["seeds_complete"] == [0] and partial["claims"][0]["test"]["by_seed"] == pytest.approx([0.06])


def test_page_lists_every_comparison_and_verdict(papers, tmp_path):
    comp = papers.Comparison("OraPO Fig. 2", "orapo", {"OraPO": [], "Dr.GRPO": []}, [("OraPO", "Dr.GRPO", "example_f1")],
                             baseline="Dr.GRPO")
    arms = {"OraPO": {"runs": {"0": {**_run(0.6, 0.6), "zero_reward_share": [0.5, 0.4]}}},
            "Dr.GRPO": {"runs": {"0": {**_run(0.6, 0.7), "zero_reward_share": [0.5, 0.6]}}}}
    record = {"title": comp.title, "arms": arms, "n": {"val": 100, "test": 2000}, **papers.summarize(comp, arms, [0])}
    results = {"seeds": [0], "steps": 2, "test_set": {"n": 2000}, "comparisons": {"orapo": record}}
    figures = papers.write_figures(results, tmp_path / "figures")
    assert figures == {"orapo": ["orapo.png", "orapo-zero-reward.png"]}
    assert all((tmp_path / "figures" / f).is_file() for f in figures["orapo"])
    papers.write_page(results, tmp_path / "index.html", figures, tmp_path / "figures")
    table = papers.markdown_table(results)
    assert ("| `orapo`: OraPO > Dr.GRPO (example f1) | converged SFT | +0.000 [+0.000, +0.000] | -0.100 [-0.100, -0.100] "
            "| **does not reproduce** | 1 |") in table
    page = (tmp_path / "index.html").read_text()
    assert "OraPO Fig. 2" in page and "does not reproduce" in page
    assert page.count("data:image/png;base64,") == 2  # the bars and the zero-reward curves


def test_reward_diversity_table_and_page(papers, tmp_path):
    """DEER Table 7's columns: shares as percentages, one row per measured subset, on the page too."""
    dds = {"n_groups": 400, "zero_std_share": 0.112, "unique_per_group": 3.163, "group_std": 0.2671,
           "all_zero_share": 0.02, "mean_reward": 0.4567}
    rnd = {**dds, "zero_std_share": 0.15, "group_std": 0.25}
    results = {"seeds": [0], "steps": 2, "test_set": {"n": 2000},
               "comparisons": {"orapo": {"title": "no diversity here", "seeds_complete": []},
                               "data_selection": {"title": "DEER Table 7", "seeds_complete": [],
                                                  "reward_diversity": {"ddsampling": dds, "random": rnd}}}}
    table = papers.diversity_table(results).splitlines()
    assert len(table) == 4  # header, rule, two subsets
    assert table[2] == "| `data_selection`: ddsampling 20 % | 400 | 11.2 % | 3.16 | 0.267 | 2.0 % | 0.457 |"
    assert table[3].startswith("| `data_selection`: random 20 % | 400 | 15.0 % |")
    assert papers.diversity_table({"comparisons": {"orapo": {}}}) == ""
    papers.write_page(results, tmp_path / "index.html", {}, tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert "<td>ddsampling</td><td>11.2%</td><td>3.16</td>" in page and "<td>random</td><td>15.0%</td>" in page


def test_why_figures_by_hand(papers, tmp_path):
    """Group shares from the runs' records, token weights from their metrics.jsonl, diversity D of
    the subsets from the DDSampling file's per-study scores, each computed here by hand."""
    folder = tmp_path / "data_selection"
    run = folder / "DDSampling_20_pc" / "seed0"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"token_weights/mean": 1.0, "token_weights/max": 2.0}\n{"loss": 0.1}\n'
                                       '{"token_weights/mean": 1.2, "token_weights/max": 4.0}\n')
    scores = {"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0, "e": 4.0}
    (folder / "subset-ddsampling-20.json").write_text(json.dumps({"ids": ["a", "c"], "per_sample_scores": scores}))
    (folder / "subset-random-20.json").write_text(json.dumps({"ids": ["b", "e"]}))
    record = {"arms": {"DDSampling 20 %": {"runs": {"0": {"zero_std_share": [0.5, 0.3], "zero_reward_share": [0.0, 0.5]},
                                                     "1": {"zero_std_share": [0.8], "zero_reward_share": [0.0]}}},
                       "SFT": {"runs": {"0": {"test": {}}}}}}  # no training curves: left out
    why = papers.why_figures(record, folder)
    fig = why["arms"]["DDSampling 20 %"]
    assert set(why["arms"]) == {"DDSampling 20 %"}
    assert fig["zero_std_share"] == pytest.approx((0.4 + 0.8) / 2)  # run means 0.4 and 0.8
    assert fig["zero_reward_share"] == pytest.approx((0.25 + 0.0) / 2)
    assert fig["token_weight_mean"] == pytest.approx(1.1) and fig["token_weight_max"] == pytest.approx(3.0)
    # all (0+1+2+3+4)/5 = 2; DDSampling a, c -> 1; random b, e -> 2.5; the top 2 by D: 4, 3 -> 3.5
    assert why["diagnostic_diversity"] == pytest.approx({"all studies": 2.0, "ddsampling 20 %": 1.0,
                                                         "random 20 %": 2.5, "top 20 %": 3.5})
    lines = papers.why_lines({"comparisons": {"data_selection": {"why": why}}}).splitlines()
    assert lines[0] == ("data_selection / DDSampling 20 %: zero-variance groups 60.0 %, all-zero groups 12.5 %, "
                        "token weights mean 1.10 (largest 3.00)")
    assert lines[1].startswith("data_selection: mean diagnostic diversity D all studies 2.00, ddsampling 20 % 1.00")


def test_a_tiny_comparison_runs_end_to_end(tiny_bench, tiny_vlm, tmp_path):
    """One step, one seed, the tiny model and benchmark: the real trainer, evaluation and page."""
    out, results_file = tmp_path / "papers", tmp_path / "results" / "bench-papers.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--only", "mrg_r1", "--seeds", "0", "--steps", "1", "--out", str(out),
                    "--results", str(results_file), "--test-size", "4",
                    "--model", str(tiny_vlm), "--set", f"data.path={tiny_bench}", "data.synthetic=null",
                    "rl.per_device_train_batch_size=8", "rl.num_generations=4", "rl.max_completion_length=24",
                    "evaluate.generation.max_new_tokens=24"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(results_file.read_text())
    assert results["test_set"]["n"] == 4 and len(results["origin"]["sft_model_sha256"]) == 64
    record = results["comparisons"]["mrg_r1"]
    assert set(record["arms"]) == {"MCCS + format", "example F1"} and record["seeds_complete"] == [0]
    for arm in record["arms"].values():
        run = arm["runs"]["0"]
        assert 0.0 <= run["test"]["example_f1"] <= 1.0 and len(run["zero_reward_share"]) == 1
        assert run["seconds_per_step"] > 0 and run["command"].startswith("python bench/papers.py --only mrg_r1")
        assert set(run["test"]["conventions_f1"]) >= {"uncertain_negative.micro_14", "uncertain_positive.example"}
    assert record["cost"]["example F1"]["ratio_to_example F1"] == 1.0
    assert (results_file.parent / "bench-papers" / "mrg_r1.png").is_file()
    assert "MRG-R1" in (out / "index.html").read_text()


def test_runs_from_another_sft_model_or_test_set_are_not_mixed_in(papers, tmp_path):
    model = tmp_path / "sft"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights one")
    test_set = {"ids_reports_labels_sha256": "a" * 64, "n": 2000}
    path = tmp_path / "results.json"
    origin = papers.origin_of(model, 80, [], test_set)
    fresh = papers.load_results(path, origin, [0, 1, 2], 80, test_set)
    assert fresh["comparisons"] == {} and fresh["origin"] == origin
    path.write_text(json.dumps({**fresh, "comparisons": {"orapo": {"arms": {}}}}))
    assert papers.load_results(path, origin, [3], 80, test_set)["seeds"] == [0, 1, 2, 3]  # resumed, seeds joined
    (model / "model.safetensors").write_bytes(b"weights two")
    with pytest.raises(SystemExit, match="another sft_model_sha256"):
        papers.load_results(path, papers.origin_of(model, 80, [], test_set), [0], 80, test_set)
    (model / "model.safetensors").write_bytes(b"weights one")
    with pytest.raises(SystemExit, match="another steps"):
        papers.load_results(path, papers.origin_of(model, 40, [], test_set), [0], 40, test_set)
    other = {**test_set, "ids_reports_labels_sha256": "b" * 64}
    with pytest.raises(SystemExit, match="another test_set_sha256"):
        papers.load_results(path, papers.origin_of(model, 80, [], other), [0], 80, other)


def test_the_readme_and_rl_md_papers_tables_are_what_the_results_json_renders(papers):
    """One source for the results tables: each marked block on each page equals what
    `python bench/papers.py --report` writes from docs/results/bench-papers.json."""
    results = json.loads(papers.RESULTS.read_text())
    root = SCRIPT.parents[1]
    for name in papers.TABLE_PAGES:
        page = (root / name).read_text()
        blocks = papers.TABLE_BLOCK.findall(page)
        assert {b[1] for b in blocks} == {"verdicts", "diversity"}, f"{name} lost a bench-papers block"
        assert papers.with_tables(page, results) == page, f"{name}: run python bench/papers.py --report"


def test_report_rewrites_a_stale_table(papers, tmp_path):
    results = json.loads(papers.RESULTS.read_text())
    stale = "intro\n<!-- bench-papers:verdicts -->\n| old | table |\n<!-- /bench-papers:verdicts -->\nend\n"
    fresh = papers.with_tables(stale, results)
    assert "| old | table |" not in fresh and papers.markdown_table(results) in fresh
    assert fresh.startswith("intro\n") and fresh.endswith("end\n")
    with pytest.raises(ValueError, match="unknown bench-papers block"):
        papers.with_tables("<!-- bench-papers:nope -->\nx\n<!-- /bench-papers:nope -->", results)


def _bench_module(name: str):
    """bench/NAME.py as a module (bench/ is on sys.path, as `python bench/NAME.py` has it)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", SCRIPT.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench_{name}"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def regimes(papers):
    return _bench_module("regimes")


def _row(steps, share):
    return {"sft_steps": steps, "step0": {"all_zero_share": share}, "weights_sha256": f"h{steps}"}


def test_a_regime_start_is_the_weakest_candidate_in_range_else_the_closest(regimes):
    regime = regimes.Regime("x", "orapo", paper="p", target=(0.25, 0.40), candidates=(10, 30, 50))
    chosen, reached = regimes.choose(regime, [_row(10, 0.55), _row(30, 0.31), _row(50, 0.27)])
    assert (chosen["sft_steps"], reached) == (30, True)
    chosen, reached = regimes.choose(regime, [_row(10, 0.12), _row(30, 0.20)])
    assert (chosen["sft_steps"], reached) == (30, False)
    block = regimes.regime_block(regime, [_row(10, 0.12), _row(30, 0.20)])
    assert not block["reached"] and "closest: 0.200 at 30 SFT steps" in block["note"]


def test_deers_start_is_chosen_on_validation_f1_and_made_with_a_text_pretrained_frozen_lm(regimes, tmp_path):
    from radrl.recipe import load_recipe

    regime = regimes.REGIMES["deer_weights"]
    rows = [{"sft_steps": s, "val": {"example_f1": f}, "step0": {"all_zero_share": 0.0}} for s, f in
            ((30, 0.32), (100, 0.58), (300, 0.66))]
    chosen, reached = regimes.choose(regime, rows)
    assert (chosen["sft_steps"], reached) == (100, True)  # the weakest in [0.45, 0.70], not the best
    block = regimes.regime_block(regime, rows[:1])
    assert block["target"] == {"metric": "val.example_f1", "range": [0.45, 0.70]} and not block["reached"]
    assert "closest: 0.320 at 30 SFT steps" in block["note"] and block["label"] == "frozen-LM SFT"
    command = regimes.start_command(regime, 100, tmp_path)
    recipe = load_recipe("tiny_sft", overrides=[c for c in command if "=" in c])
    assert recipe.sft.freeze == "lm" and recipe.sft.max_steps == 100  # the regime's settings win over SFT_SETTINGS
    assert recipe.lm_pretrain.max_steps == 300 and recipe.lm_pretrain.freeze == "vision"
    faster = regimes.start_command(regime, (300, 0.02), tmp_path)  # a candidate with its own rate
    assert faster[faster.index("-o") + 1] == str(tmp_path / "frozen-lm-sft" / "sft-300-lr0.02")
    assert load_recipe("tiny_sft", overrides=[c for c in faster if "=" in c]).sft.learning_rate == 0.02


def test_the_test_read_refuses_without_the_block_or_with_another_start(regimes, tmp_path):
    from radrl.io import InputError

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    digest = regimes.weights_sha256(model)
    with pytest.raises(InputError, match="no regime block"):
        regimes.require_block({}, "orapo", model)
    results = {"regimes": {"orapo": {"paper": {"start": {"weights_sha256": digest}}}}}
    assert regimes.require_block(results, "orapo", model)["start"]["weights_sha256"] == digest
    (model / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(InputError, match="is not the start the regime block declares"):
        regimes.require_block(results, "orapo", model)
    # the same command on another CPU: a rebuild is accepted only when it scored the same on validation
    other = hashlib.sha256(b"other weights").hexdigest()
    results["regimes"]["orapo"]["paper"]["start"]["rebuilds"] = [{"weights_sha256": other, "matches": False}]
    with pytest.raises(InputError, match="--rebuild"):
        regimes.require_block(results, "orapo", model)
    results["regimes"]["orapo"]["paper"]["start"]["rebuilds"] = [{"weights_sha256": other, "matches": True}]
    assert regimes.require_block(results, "orapo", model)["start"]["weights_sha256"] == digest


def test_a_regime_start_is_a_radrl_command_on_the_recipes_own_benchmark(regimes, tmp_path):
    from radrl.cli import build_parser
    from radrl.recipe import load_recipe

    command = regimes.start_command(regimes.REGIMES["orapo"], 50, tmp_path)
    args, extra = build_parser().parse_known_args(command)  # as radrl's main parses a command line
    assert args.command == "pipeline" and "sft.max_steps=50" in extra and "evaluate.split=val" in extra
    recipe = load_recipe("tiny_sft", overrides=[c for c in command if "=" in c])  # the overrides all load
    assert recipe.synthetic == load_recipe("orapo", tiny=True).data.synthetic
    assert recipe.sft.max_steps == 50 and recipe.evaluate.split == "val" and recipe.vision_pretrain is None


@pytest.fixture(scope="module")
def regime_runs(regimes):
    return _bench_module("regime_runs")


def test_the_step_budget_is_where_the_validation_curve_flattens(regime_runs):
    curve = [{"step": 0, "f": 0.90}, {"step": 20, "f": 0.40}, {"step": 40, "f": 0.52}, {"step": 60, "f": 0.555},
             {"step": 80, "f": 0.56}, {"step": 100, "f": 0.55}]
    # best after step 0: 0.56 (step 80); within 0.01 of it: 0.555 (step 60) is the first. Step 0 never counts.
    assert regime_runs.choose_budget(curve, "f", 0.01) == 60
    assert regime_runs.choose_budget(curve, "f", 0.0) == 80
    assert regime_runs.choose_budget(curve, "f", 0.2) == 20
    with pytest.raises(ValueError, match="no step after 0"):
        regime_runs.choose_budget(curve[:1], "f", 0.01)


def test_v2_claims_are_on_the_papers_headline_metric(regime_runs):
    orapo = regime_runs.V2["orapo"].comparison()
    assert orapo.claims == [("OraPO", "Dr.GRPO", "macro_f1"), ("OraPO", "Dr.GRPO", "example_f1")]
    assert orapo.baseline == "Dr.GRPO" and set(orapo.arms) == {"OraPO", "Dr.GRPO"}
    assert list(regime_runs.V2["orapo"].data) == ["400", "1K"]  # OraPO's two training-set sizes


def test_the_v2_test_read_needs_the_block_committed_as_it_stands(regime_runs, tmp_path):
    from radrl.io import InputError

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    path = tmp_path / "results.json"
    block = {"start": {"weights_sha256": digest}}
    path.write_text(json.dumps({"regimes": {"orapo": {"paper": block}}}))
    git("init", "-q")
    git("add", "results.json")
    git("commit", "-qm", "start only")
    results = json.loads(path.read_text())
    with pytest.raises(InputError, match="no regime block with a budget"):
        regime_runs.require_committed(results, path, "orapo", model)
    results["regimes"]["orapo"]["paper"]["budget"] = {"steps": 120}
    path.write_text(json.dumps(results))
    with pytest.raises(InputError, match="is not committed as it stands"):  # written, not committed
        regime_runs.require_committed(results, path, "orapo", model)
    git("commit", "-qam", "budget")
    assert regime_runs.require_committed(results, path, "orapo", model)["budget"]["steps"] == 120
    (model / "model.safetensors").write_bytes(b"rebuilt elsewhere")  # a matching rebuild, recorded...
    results["regimes"]["orapo"]["paper"]["start"]["rebuilds"] = [
        {"weights_sha256": hashlib.sha256(b"rebuilt elsewhere").hexdigest(), "matches": True}]
    path.write_text(json.dumps(results))
    with pytest.raises(InputError, match="recorded but not committed"):
        regime_runs.require_committed(results, path, "orapo", model)
    git("commit", "-qam", "rebuild")  # ...and committed
    assert regime_runs.require_committed(results, path, "orapo", model)["budget"]["steps"] == 120
    results["regimes"]["orapo"]["paper"]["budget"]["steps"] = 200  # changed after the commit
    with pytest.raises(InputError, match="is not committed as it stands"):
        regime_runs.require_committed(results, path, "orapo", model)
    results["regimes"]["orapo"]["paper"]["budget"]["steps"] = 120
    (model / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(InputError, match="is not the start the regime block declares"):
        regime_runs.require_committed(results, path, "orapo", model)


def test_the_table_gives_each_rows_regime_converged_and_paper(papers):
    ci = {"mean": 0.02, "ci95": [0.01, 0.03]}
    claim = {"better": "OraPO", "worse": "Dr.GRPO", "metric": "macro_f1",
             "val": {"diff": ci}, "test": {"diff": ci, "verdict": "reproduces"}}
    record = {"seeds_complete": [0, 1], "claims": [claim], "cost": {"OraPO": {"ratio_to_Dr.GRPO": 1.1}}}
    start = {"val": {"example_f1": 0.3233}, "step0": {"all_zero_share": 0.390625}}
    results = {"test_set": {"n": 2000}, "comparisons": {"orapo": record},
               "regimes": {"orapo": {"converged_sft": {"start": {**start, "val": {"example_f1": 0.829}}},
                                     "paper": {"start": start, "results": {"400": record, "1K": {}}}}}}
    rows = [line for line in papers.markdown_table(results).splitlines() if line.startswith("| `orapo`")]
    assert rows == [
        "| `orapo`: OraPO > Dr.GRPO (macro f1) | converged SFT (start F1 0.829; step-0 all-zero groups 39.1 %) | "
        "+0.020 [+0.010, +0.030] | +0.020 [+0.010, +0.030] | **reproduces** | 2 | OraPO 1.10x |",
        "| `orapo`: OraPO > Dr.GRPO (macro f1) | paper: weak SFT, 400 studies (start F1 0.323; step-0 all-zero "
        "groups 39.1 %) | +0.020 [+0.010, +0.030] | +0.020 [+0.010, +0.030] | **reproduces** | 2 | OraPO 1.10x |"]


def test_void_timings_leave_the_scores_and_drop_out_of_the_cost_ratio(regime_runs, tmp_path, monkeypatch):
    from radrl.io import InputError

    def run(seconds, f1):
        return {"seconds_per_step": seconds, "val": {m: f1 for m in regime_runs.METRICS},
                "test": {m: f1 for m in regime_runs.METRICS}}

    arms = {"OraPO": {"runs": {"0": run(9.0, 0.3), "1": run(2.2, 0.3), "2": run(2.6, 0.4)}},
            "Dr.GRPO": {"runs": {"0": run(3.0, 0.3), "1": run(2.0, 0.2), "2": run(2.0, 0.2)}}}
    results_file = tmp_path / "results.json"
    results_file.write_text(json.dumps({"regimes": {"orapo": {"paper": {"results": {"400": {"arms": arms}}}}}}))
    monkeypatch.setattr(sys, "argv", ["regime_runs.py", "void-timing", "--comparison", "orapo", "--seeds", "0",
                                      "--results", str(results_file)])
    with pytest.raises(SystemExit, match="needs --why"):
        regime_runs.main()
    record = regime_runs.void_timing(regime_runs.V2["orapo"], "400", [0], "a test shared the cores", results_file)
    cost = record["cost"]["OraPO"]
    # seeds 1 and 2 only: OraPO (2.2 + 2.6) / 2 = 2.4, Dr.GRPO 2.0, ratio 1.2 (seed 0's 9.0 / 3.0 left out)
    assert cost["timed_seeds"] == [1, 2] and cost["seconds_per_step"] == pytest.approx(2.4)
    assert cost["ratio_to_Dr.GRPO"] == pytest.approx(1.2)
    assert record["seeds_complete"] == [0, 1, 2]  # the scores of every seed still count
    saved = json.loads(results_file.read_text())["regimes"]["orapo"]["paper"]["results"]["400"]["arms"]
    assert saved["Dr.GRPO"]["runs"]["0"]["timing_void"] == "a test shared the cores"
    with pytest.raises(InputError, match="seed 7 has no run"):
        regime_runs.void_timing(regime_runs.V2["orapo"], "400", [7], "x", results_file)


def test_the_orapo_mechanism_figure_draws_each_arms_curves(regime_runs, tmp_path):
    val = [{"step": s, "rare_f1": {"Pleural Other": 0.1 * k, "Fracture": None}} for k, s in enumerate((0, 20))]
    run = {"curves": {"val": val, "zero_reward_share": [0.5, 0.25], "orapo_lambda_mean": [0.2, 0.1],
                      "orapo_lambda_above_min_share": [0.5, 0.5]}}
    plain = {"curves": {"val": val, "zero_reward_share": [0.5, 0.5]}}  # Dr.GRPO logs no lambda
    record = {"arms": {"OraPO": {"runs": {"0": run}}, "Dr.GRPO": {"runs": {"0": plain}}}}
    assert regime_runs.mechanism_figure(record, "t", tmp_path / "f.png") and (tmp_path / "f.png").stat().st_size > 0
    assert not regime_runs.mechanism_figure({"arms": {"OraPO": {"runs": {}}}}, "t", tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def test_the_learning_rate_is_the_candidate_whose_validation_curve_gets_highest(regime_runs):
    curve = lambda *fs: [{"step": 20 * i, "f": f} for i, f in enumerate(fs)]  # noqa: E731
    tried = [{"learning_rate": 1e-4, "curve": curve(0.9, 0.30, 0.31)},  # step 0 does not count
             {"learning_rate": 1e-3, "curve": curve(0.1, 0.35, 0.20)}]
    assert regime_runs.choose_learning_rate(tried, "f")["learning_rate"] == 1e-3
    tied = [{"learning_rate": 1e-4, "curve": curve(0.1, 0.3)}, {"learning_rate": 1e-3, "curve": curve(0.1, 0.3)}]
    assert regime_runs.choose_learning_rate(tied, "f")["learning_rate"] == 1e-4  # the recipe's own rate first


def test_a_tiny_v2_comparison_chooses_its_budget_then_runs_every_arm_once(regime_runs, regimes, tiny_vlm, tmp_path,
                                                                          monkeypatch):
    """The real trainer, two steps: `budget` on validation, refused test read until the block is
    committed, `run` for both arms, and a second `run` that trains and reads nothing again."""
    from radrl.io import InputError

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    monkeypatch.setattr(regime_runs, "CURVE_SET", {"seed": 5, "n_train": 0, "n_val": 3, "n_test": 0})
    monkeypatch.setattr(regime_runs, "TEST_SET", {"seed": 4, "n_train": 0, "n_val": 0, "n_test": 4})
    tiny = regime_runs.V2Comparison("orapo", headline="macro_f1", max_steps=2, every=1, learning_rates=(1e-4,),
                                    common=[f"data.path={tmp_path / 'bench'}", "data.synthetic.n_train=24",
                                            "data.synthetic.n_val=2", "data.synthetic.n_test=2",
                                            "data.synthetic.image_size=112", "rl.per_device_train_batch_size=8",
                                            "rl.num_generations=4", "rl.max_completion_length=16", "rl.save_steps=1",
                                            "evaluate.generation.max_new_tokens=16"],
                                    data={"8": ["select.size=8", "data.subset={out}/subset-balanced-8.json"]})
    results_file, out = tmp_path / "results.json", tmp_path / "runs"
    start = {"model": str(tiny_vlm), "weights_sha256": regimes.weights_sha256(tiny_vlm)}
    results_file.write_text(json.dumps({"regimes": {"orapo": {"paper": {"start": start}}}}))
    git("init", "-q")
    git("add", "results.json")
    git("commit", "-qm", "start")
    with pytest.raises(InputError, match="no regime block with a budget"):
        regime_runs.run(tiny, "8", [0], out, results_file)
    chosen = regime_runs.budget(tiny, out, results_file)
    curve = chosen["candidates"][0]["curve"]
    assert [r["step"] for r in curve] == [0, 1, 2] and chosen["steps"] in (1, 2) and chosen["learning_rate"] == 1e-4
    with pytest.raises(InputError, match="is not committed as it stands"):
        regime_runs.run(tiny, "8", [0], out, results_file)
    git("commit", "-qam", "budget")
    record = regime_runs.run(tiny, "8", [0], out, results_file)
    assert record["test_set"]["n"] == 4 and record["seeds_complete"] == [0] and record["headline"] == "macro_f1"
    for arm in ("OraPO", "Dr.GRPO"):
        run = record["arms"][arm]["runs"]["0"]
        final = out / "orapo" / "8" / arm / "seed0" / "final"
        predictions = [json.loads(x) for x in (final.parent / "eval-test" / "predictions.jsonl").read_text().splitlines()]
        assert len(predictions) == 4 and 0.0 <= run["test"]["macro_f1"] <= 1.0
        assert [r["step"] for r in run["curves"]["val"]] == list(range(chosen["steps"] + 1))
        assert len(run["curves"]["zero_reward_share"]) == chosen["steps"] and run["seconds_per_step"] > 0
    assert "orapo_lambda_mean" in record["arms"]["OraPO"]["runs"]["0"]["curves"]
    assert "orapo_lambda_mean" not in record["arms"]["Dr.GRPO"]["runs"]["0"]["curves"]
    assert {c["metric"] for c in record["claims"]} == {"macro_f1", "example_f1"}
    stamp = (out / "orapo" / "8" / "OraPO" / "seed0" / "eval-test" / "metrics.json").stat().st_mtime_ns
    assert regime_runs.run(tiny, "8", [0], out, results_file) == record  # nothing trained or read again
    assert (out / "orapo" / "8" / "OraPO" / "seed0" / "eval-test" / "metrics.json").stat().st_mtime_ns == stamp


def test_a_rebuild_on_another_machine_is_recorded_and_matches_only_on_equal_validation_f1(regimes, tmp_path,
                                                                                          monkeypatch):
    regime = regimes.REGIMES["orapo"]
    command = "radrl " + " ".join(regimes.start_command(regime, 50, tmp_path))
    block = {"start": {"sft_steps": 50, "command": command, "weights_sha256": "a" * 64,
                       "val": {"example_f1": 0.3, "macro_f1": 0.1}}}
    row = {"weights_sha256": "b" * 64, "val": {"example_f1": 0.3, "macro_f1": 0.1}, "step0": {}, "build_seconds": 1.0}
    monkeypatch.setattr(regimes, "measure", lambda *a, **k: dict(row))
    assert regimes.rebuild(regime, block, tmp_path, 8)["matches"]
    assert regimes.accepted_hashes(block) == {"a" * 64, "b" * 64}
    row.update(weights_sha256="c" * 64, val={"example_f1": 0.3, "macro_f1": 0.1 + 1e-6})  # one greedy word apart
    assert not regimes.rebuild(regime, block, tmp_path, 8)["matches"]
    assert regimes.accepted_hashes(block) == {"a" * 64, "b" * 64}
    assert [r["weights_sha256"][0] for r in block["start"]["rebuilds"]] == ["b", "c"]
    with pytest.raises(Exception, match="not what bench/regimes.py makes"):  # another --out: another command
        regimes.rebuild(regime, block, tmp_path / "elsewhere", 8)


def test_capo_in_its_regime_claims_f1_on_critical_cases_against_grpo_at_factor_one(regime_runs):
    capo = regime_runs.V2["capo"]
    comparison = capo.comparison()
    assert comparison.claims == [("CAPO", "GRPO", "critical_example_f1"), ("CAPO", "GRPO", "example_f1")]
    assert "critical_example_f1" in capo.metrics and set(regime_runs.METRICS) <= set(capo.metrics)
    # GRPO's arm clips every case at eps (CAPO at factor 1), so it logs the critical/other split too
    assert comparison.arms["GRPO"] == ["algorithm.clip={type: capo, critical_factor: 1.0}"]
    assert "rl.num_iterations=4" in capo.common  # after v1's num_iterations=2: the later override wins
    assert regime_runs.V2["data_selection"].budget_from == "deer_weights"


def test_f1_on_critical_cases_reads_only_the_critical_studies_predictions(regime_runs, tmp_path):
    from radrl.data.sample import Sample

    samples = [Sample("a", [], "Cardiomegaly.", labels={"Cardiomegaly": "positive"}),
               Sample("b", [], "Small left pleural effusion.", labels={"Pleural Effusion": "positive"}),
               Sample("c", [], "No acute findings.", labels={"Support Devices": "positive"})]  # not critical
    rows = [{"id": "a", "prediction": "Cardiomegaly."},  # right: example F1 1
            {"id": "b", "prediction": "The heart is normal in size. The lungs are clear."},  # misses it: 0
            {"id": "c", "prediction": "Cardiomegaly."}]  # wrong, but not a critical case: not counted
    (tmp_path / "predictions.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    scores = regime_runs.critical_scores(tmp_path, samples)
    assert scores["critical_n"] == 2 and scores["critical_example_f1"] == pytest.approx(0.5)  # (1 + 0) / 2


def test_a_metric_read_on_test_only_is_summarized_on_test_and_marked_on_validation(papers):
    Comparison, summarize = papers.Comparison, papers.summarize
    comp = Comparison("t", "radflow", {"A": [], "B": []}, [("A", "B", "critical_example_f1")], baseline="B")
    run = lambda v, c: {"val": {"example_f1": v}, "test": {"example_f1": v, "critical_example_f1": c},  # noqa: E731
                        "seconds_per_step": 1.0}
    arms = {"A": {"runs": {"0": run(0.5, 0.6), "1": run(0.5, 0.7)}}, "B": {"runs": {"0": run(0.5, 0.5), "1": run(0.5, 0.5)}}}
    claim = summarize(comp, arms, [0, 1], ("example_f1", "critical_example_f1"))["claims"][0]
    assert claim["test"]["by_seed"] == pytest.approx([0.1, 0.2])
    assert claim["val"]["diff"] is None and claim["val"]["verdict"] == "not measured on this split"
    assert "critical_example_f1" not in arms["A"]["summary"]["val"]


def test_a_comparison_in_another_ones_regime_takes_its_budget_only_from_the_same_start(regime_runs):
    from radrl.io import InputError

    budget = {"steps": 220, "learning_rate": 1e-4, "every": 20}
    results = {"regimes": {"deer_weights": {"paper": {"start": {"weights_sha256": "a"}, "budget": budget}},
                           "data_selection": {"paper": {"start": {"weights_sha256": "a"}}}}}
    shared = regime_runs.shared_budget(regime_runs.V2["data_selection"], results)
    assert shared["steps"] == 220 and shared["shared_from"] == "regimes.deer_weights.paper.budget"
    assert results["regimes"]["data_selection"]["paper"]["budget"] is shared
    results["regimes"]["data_selection"]["paper"]["start"]["weights_sha256"] = "b"
    with pytest.raises(InputError, match="different weights"):
        regime_runs.shared_budget(regime_runs.V2["data_selection"], results)
