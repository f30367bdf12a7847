"""Data selection (DDSampling, Target Exploration, balanced), FactS, RadFlow's hierarchical reward,
the reward-diversity analysis, and their wiring into recipes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from radrl.schema import OBSERVATIONS

BLANK = dict.fromkeys(OBSERVATIONS, "blank")


def labels(**values) -> dict:
    out = dict(BLANK)
    for key, value in values.items():
        out[key.replace("_", " ")] = value
    return out


# -- DDSampling -------------------------------------------------------------------------------------

def test_diagnostic_diversity_by_hand():
    from radrl.selection import diagnostic_diversity

    agree = [labels(Pleural_Effusion="positive")] * 3
    # effusion in 1 of 2 samples (std 0.5), edema in both (0), cardiomegaly uncertain = 0 by default
    split = [labels(Pleural_Effusion="positive", Edema="positive", Cardiomegaly="uncertain"),
             labels(Edema="positive")]
    four = [labels(Pneumothorax="positive", Fracture="positive"), labels(Pneumothorax="positive"),
            labels(Fracture="positive"), labels()]  # two labels, each 2 of 4 -> std 0.5 each
    assert diagnostic_diversity([agree, split, four]).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="K >= 2"):
        diagnostic_diversity([[labels()]])


def test_log_rank_probabilities_and_sampling():
    from radrl.selection import log_rank_probabilities, log_rank_sample

    w = np.array([1 / math.log(2), 1 / math.log(3), 1 / math.log(4)])
    assert np.allclose(log_rank_probabilities(3), w / w.sum())
    scores = [0.1, 3.0, 2.0, 0.0, 1.0]  # ranks: index 1, 2, 4, 0, 3
    first = [log_rank_sample(scores, 1, seed)[0] for seed in range(4000)]
    p = log_rank_probabilities(5)
    for rank, index in enumerate([1, 2, 4, 0, 3]):
        assert first.count(index) / 4000 == pytest.approx(p[rank], abs=0.025)
    picked = log_rank_sample(scores, 3, seed=7)
    assert len(set(picked)) == 3 and picked == sorted(picked) and picked == log_rank_sample(scores, 3, seed=7)
    assert log_rank_sample(scores, 5) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        log_rank_sample(scores, 6)


# -- Target Exploration and balanced subsets ------------------------------------------------------

def test_composite_scores_and_bottom_fraction_by_hand():
    from radrl.selection import bottom_fraction, composite_scores

    metrics = {"a": [0.0, 5.0, 10.0], "b": [1.0, 1.0, 1.0], "c": [4.0, 2.0, 0.0]}
    assert composite_scores(metrics, {"a": 1, "b": 1}).tolist() == [0.0, 0.25, 0.5]
    assert composite_scores(metrics, {"a": 3, "c": 1}).tolist() == [0.25, 0.5, 0.75]
    assert bottom_fraction([0.3, 0.1, 0.2, 0.9], 0.5) == [1, 2]
    assert bottom_fraction([0.3, 0.1, 0.2, 0.9], 0.1) == [1]  # at least one
    with pytest.raises(ValueError, match="no per-sample values"):
        composite_scores(metrics, {"bertscore": 1.0})


def test_per_sample_metrics_rank_a_wrong_report_lowest():
    from radrl.selection import composite_scores, per_sample_metrics

    refs = ["Small left pleural effusion. No pneumothorax.", "The lungs are clear. Heart size is normal."]
    preds = ["Small left pleural effusion. No pneumothorax.", "Large right pneumothorax."]
    m = per_sample_metrics(preds, refs)
    assert m["bleu_2"][0] > 0.99 and m["clinical_f1"].tolist() == [1.0, 0.0]
    assert composite_scores(m).tolist() == [1.0, 0.0]


def test_label_balanced_subset_takes_the_rare_labels_first():
    from radrl.selection import label_balanced_subset

    data = [labels(No_Finding="positive")] * 10 + [labels(Pleural_Effusion="positive")] * 3 + \
        [labels(Pneumothorax="positive", Pleural_Effusion="positive")]
    chosen = label_balanced_subset(data, 4, seed=0)
    assert 13 in chosen and len(chosen) == 4
    counts = {c: sum(data[i][c] == "positive" for i in chosen) for c in ("No Finding", "Pleural Effusion")}
    assert counts == {"No Finding": 2, "Pleural Effusion": 2}  # as even as co-occurrence allows
    assert len(label_balanced_subset(data, 14)) == 14


def test_subset_files_and_their_errors(tmp_path, tiny_bench):
    from radrl.data.synthetic import load_synthetic
    from radrl.io import ConfigError, InputError
    from radrl.recipe import GenerationSettings as G  # noqa: F401
    from radrl.recipe import SelectionSettings as S
    from radrl.selection import read_subset, select_subset

    train = load_synthetic(tiny_bench, "train")
    result = select_subset(S("balanced", size=10), train, tmp_path / "b.json")
    assert len(result["ids"]) == 10 and read_subset(tmp_path / "b.json") == set(result["ids"])
    assert set(result["summary"]["label_positives"]) == {"before", "after"}
    rnd = select_subset(S("random", fraction=0.25, seed=1), train, tmp_path / "r.json")
    assert len(rnd["ids"]) == 10
    with pytest.raises(InputError, match="radrl select"):
        read_subset(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{\n oops")
    with pytest.raises(ValueError, match="line 2"):
        read_subset(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="'ids'"):
        read_subset(tmp_path / "list.json")
    from radrl.recipe import check_section

    with pytest.raises(ConfigError, match="unknown selection method 'best'"):  # the registry check, after building
        check_section(S("best", size=2), ("select",))
    with pytest.raises(ConfigError, match="unknown selection method 'best'"):
        select_subset(S("best", size=2), train, tmp_path / "y.json")
    with pytest.raises(ConfigError, match="--model"):
        select_subset(S("ddsampling", size=2), train, tmp_path / "x.json")


def test_ddsampling_and_target_exploration_with_a_model(tmp_path, tiny_bench, tiny_vlm):
    from radrl.data.synthetic import load_synthetic
    from radrl.recipe import GenerationSettings as G  # noqa: F401
    from radrl.recipe import SelectionSettings as S
    from radrl.selection import select_subset

    train = load_synthetic(tiny_bench, "train")[:8]
    model = str(tiny_vlm)
    dds = select_subset(S("ddsampling", model=model, fraction=0.5, k=3, generation=G(max_new_tokens=16)), train,
                        tmp_path / "d.json", progress=False)
    assert len(dds["ids"]) == 4 and dds["params"]["k"] == 3
    assert {"diversity_all", "diversity_subset"} <= set(dds["summary"]["scores"])
    assert len(dds["per_sample_scores"]) == 8
    top = select_subset(S("ddsampling", model=model, fraction=0.5, k=3, generation=G(max_new_tokens=16), draw="top"), train,
                        tmp_path / "top.json", progress=False)
    d = top["per_sample_scores"]
    assert min(d[i] for i in top["ids"]) >= max(v for i, v in d.items() if i not in top["ids"])
    te = select_subset(S("target_exploration", model=model, fraction=0.25, generation=G(max_new_tokens=16)), train,
                       tmp_path / "t.json", progress=False)
    scores = te["summary"]["scores"]
    assert len(te["ids"]) == 2 and scores["composite_subset"]["max"] <= scores["composite_all"]["mean"] + 1e-9


def test_cli_select_needs_a_size(tiny_bench, tmp_path, capsys):
    from radrl.cli import main

    assert main(["select", "balanced", "--data", f"synthetic:{tiny_bench}", "-o", str(tmp_path / "s.json")]) == 2
    assert "--fraction" in capsys.readouterr().err
    assert main(["select", "balanced", "--data", f"synthetic:{tiny_bench}", "--size", "5",
                 "-o", str(tmp_path / "s.json")]) == 0
    assert len(json.loads((tmp_path / "s.json").read_text())["ids"]) == 5


# -- FactS -----------------------------------------------------------------------------------------

def test_facts_reward_by_hand():
    from radrl.rewards.facts import FactSReward, entail_facts, facts_score, rule_facts

    gt = labels(Pleural_Effusion="positive", Edema="positive", Cardiomegaly="negative")
    report = "Small left pleural effusion. No pulmonary edema. The heart is enlarged."
    entail = entail_facts(rule_facts(report), gt)
    assert entail["Pleural Effusion"] == "supported"
    assert entail["Edema"] == "contradicted"        # an explicit contradiction of a true finding
    assert entail["Cardiomegaly"] == "contradicted"  # an unsupported claim
    # TP 1, FP 2, FN 1: P = 1/3, R = 1/2, F2 = 5 * (1/3)(1/2) / (4/3 + 1/2) = 5/11
    assert facts_score(entail, gt) == pytest.approx(5 / 11, abs=1e-6)
    assert facts_score(entail, gt, beta=1.0) == pytest.approx(0.4, abs=1e-6)
    reward = FactSReward()
    normal = "The lungs are clear. No pleural effusion."
    scores = reward(completions=[report, normal, normal],
                    reference=["", "", "Small pleural effusion."],
                    gt_labels=[json.dumps(gt), json.dumps(labels(No_Finding="positive")), None])
    assert scores[0] == pytest.approx(5 / 11, abs=1e-6)
    assert scores[1] == 1.0   # a correct normal report
    assert scores[2] == 0.0   # the reference's effusion is denied: P = 0, R = 0


def test_facts_reward_llm_mode_and_fallback():
    from radrl.judges import JudgeClient, JudgeConfig
    from radrl.judges.loopback import LoopbackJudge
    from radrl.rewards.facts import FactSReward

    gt = json.dumps(labels(Pleural_Effusion="positive"))
    with LoopbackJudge() as server:
        judge = JudgeClient(JudgeConfig(base_url=server.base_url, model="m"))
        reward = FactSReward(judge=judge, mode="llm")
        assert reward(completions=["Small left pleural effusion. No pneumothorax."], reference=[""],
                      gt_labels=[gt]) == [pytest.approx(1.0)]
        assert server.requests == 1 and reward.fallbacks == 0
    with LoopbackJudge(mode="garbage") as server:
        judge = JudgeClient(JudgeConfig(base_url=server.base_url, model="m", max_retries=0, on_error="fallback"))
        reward = FactSReward(judge=judge, mode="llm")
        assert reward(completions=["Small left pleural effusion."] * 2, reference=["", ""],
                      gt_labels=[gt, gt]) == [pytest.approx(1.0)] * 2
        assert reward.fallbacks == 2
    with pytest.raises(ValueError, match="judge"):
        FactSReward(mode="llm")


# -- RadFlow hierarchical reward -------------------------------------------------------------------

def test_offline_consistency_rule():
    from radrl.rewards.hierarchical import labels_consistent

    f = labels(Lung_Opacity="positive", Pleural_Effusion="negative")
    assert labels_consistent(f, labels(Pneumonia="positive"))          # a diagnosis from an opacity
    assert not labels_consistent(f, labels(Pleural_Effusion="positive"))  # denied in the findings
    assert not labels_consistent(f, labels(Pneumothorax="positive"))      # never mentioned
    assert not labels_consistent(f, labels(No_Finding="positive"))        # "normal" over an opacity
    assert labels_consistent(labels(Support_Devices="positive"), labels(No_Finding="positive"))


def test_hierarchical_reward_terms():
    from radrl.rewards.hierarchical import HierarchicalReward

    ref = "FINDINGS: Small left pleural effusion. No pneumothorax. IMPRESSION: Small left pleural effusion."
    inconsistent = "FINDINGS: Small left pleural effusion. No pneumothorax. IMPRESSION: Pneumothorax."
    flat = "Small left pleural effusion. No pneumothorax."
    reward = HierarchicalReward(gamma=0.5)
    same, bad, unstructured = reward.components([ref, inconsistent, flat], [ref] * 3)
    assert same["syntax"] == pytest.approx(1.0, abs=1e-6) and same["domain"] == 1.0
    assert same["consistency"] == 1.0 and same["impression"] == 1.0
    assert same["total"] == pytest.approx(1.0 + 1.0 + 1.0 + 0.5, abs=1e-6)
    assert bad["consistency"] == -1.0 and bad["impression"] == 0.0
    # no structure: no consistency to credit (-1) and no impression (0), never better than having one
    assert unstructured["consistency"] == -1.0 and unstructured["impression"] == 0.0
    assert unstructured["total"] == pytest.approx(unstructured["syntax"] + unstructured["domain"] - 1.0)
    assert reward(completions=[ref], reference=[ref], gt_labels=[None])[0] == pytest.approx(3.5, abs=1e-6)


def test_radflow_reads_the_section_columns_and_never_pays_for_dropping_structure():
    """Loaders join the reference sections with a space (no headers): the sections travel as the
    reference_findings / reference_impression columns. The issue's case: a headerless report
    that contradicts itself scored 1.31 against 0.67 for a structured inconsistent one."""
    from radrl.rewards.hierarchical import HierarchicalReward

    findings, impression = "Small left pleural effusion. No pneumothorax.", "Small left pleural effusion."
    reference = f"{findings} {impression}"  # as a loader's target: both, without headers
    headerless = "Small left pleural effusion. No pneumothorax. Pneumothorax."
    structured = "FINDINGS: Small left pleural effusion. No pneumothorax. IMPRESSION: Pneumothorax."
    right = f"FINDINGS: {findings} IMPRESSION: {impression}"
    reward = HierarchicalReward()
    cols = {"reference_findings": [findings] * 3, "reference_impression": [impression] * 3}
    flat, inconsistent, good = reward.components([headerless, structured, right], [reference] * 3,
                                                 cols["reference_findings"], cols["reference_impression"])
    assert good["consistency"] == 1.0 and good["impression"] == 1.0 and good["domain"] == 1.0
    assert inconsistent["consistency"] == -1.0 and inconsistent["impression"] == 0.0
    assert flat["consistency"] == -1.0 and flat["impression"] == 0.0
    assert flat["total"] < good["total"] and flat["total"] <= inconsistent["total"] + 0.05  # syntax aside
    # through TRL's signature: the columns arrive as keyword lists, "" for an unknown section
    totals = reward(completions=[right, headerless], reference=[reference] * 2, gt_labels=[None, None],
                    reference_findings=[findings] * 2, reference_impression=[impression, ""])
    assert totals[0] == pytest.approx(good["total"]) and totals[1] < totals[0]


def test_hierarchical_reward_domain_scorer_hook_and_radgraph_without_the_package():
    import importlib.util

    from radrl.rewards.hierarchical import HierarchicalReward

    seen = []

    def scorer(hyps, refs):
        seen.append((list(hyps), list(refs)))
        return [0.25] * len(hyps)

    ref = "FINDINGS: Small left pleural effusion. IMPRESSION: Small left pleural effusion."
    terms = HierarchicalReward(domain_scorer=scorer).components([ref, "Effusion."], [ref, ref])
    assert [t["domain"] for t in terms] == [0.25, 0.25]
    # FINDINGS against the reference FINDINGS; a prediction without headers: its whole text
    assert seen == [(["Small left pleural effusion.", "Effusion."], ["Small left pleural effusion."] * 2)]
    if importlib.util.find_spec("radgraph") is None:
        with pytest.raises(ValueError, match="radgraph"):
            HierarchicalReward(domain="radgraph")


def test_hierarchical_reward_with_an_llm_judge():
    from radrl.judges import JudgeClient, JudgeConfig
    from radrl.judges.loopback import LoopbackJudge
    from radrl.rewards.hierarchical import HierarchicalReward

    ref = "FINDINGS: Small left pleural effusion. IMPRESSION: Small left pleural effusion."
    bad = "FINDINGS: Small left pleural effusion. IMPRESSION: Pneumothorax."
    with LoopbackJudge() as server:
        judge = JudgeClient(JudgeConfig(base_url=server.base_url, model="m"))
        reward = HierarchicalReward(judge=judge, consistency="llm")
        good_terms, bad_terms = reward.components([ref, bad], [ref, ref])
        assert (good_terms["consistency"], bad_terms["consistency"]) == (1.0, -1.0)
        assert server.requests == 2


# -- reward diversity --------------------------------------------------------------------------------

def test_reward_diversity_by_hand():
    from radrl.analysis.reward_diversity import reward_diversity
    from radrl.rewards import ExampleF1Reward

    refs = ["Small left pleural effusion.", "Small left pleural effusion."]
    groups = [["Small left pleural effusion."] * 4,                             # all 1: zero variance
              ["Small left pleural effusion.", "Pneumothorax.", "Pneumothorax.", "Small pleural effusion."]]
    stats = reward_diversity(groups, refs, ExampleF1Reward())
    assert stats["zero_std_share"] == 0.5 and stats["unique_per_group"] == 1.5
    assert stats["group_std"] == pytest.approx(np.std([1, 0, 0, 1], ddof=1) / 2)
    assert stats["mean_reward"] == pytest.approx(6 / 8)


# -- recipes that select and score -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["radflow", "orapo", "deer_tfidf"])
def test_recipes_select_their_subset_then_train(name, tiny_vlm, tiny_bench, tmp_path):
    """Each paper's tiny recipe for 1 step: the subset is selected first (it is missing)."""
    from radrl.recipe import load_recipe, with_overrides
    from radrl.stages import run_rl

    recipe = load_recipe(name, tiny=True, overrides=[
        f"model.path={tiny_vlm}", f"data.path={tiny_bench}", f"data.subset={tmp_path / 'subset.json'}",
        "data.synthetic=null", "rl.per_device_train_batch_size=8", "rl.num_generations=4",
        "rl.max_completion_length=24", "rl.max_steps=1", "rl.save_steps=1", "rl.report_to=[]",
        "rl.disable_tqdm=true", "rl.dataloader_pin_memory=false", "select.generation.max_new_tokens=16"])
    if recipe.select.size:
        recipe = with_overrides(recipe, "select.size=8")
    if recipe.select.method == "ddsampling":
        recipe = with_overrides(recipe, "select.k=2")
    result = run_rl(recipe, tmp_path / "run", evaluate=False)
    subset = json.loads((tmp_path / "subset.json").read_text())
    assert subset["method"] == recipe.select.method and subset["ids"]
    assert (result["model"] / "model.safetensors").is_file()
