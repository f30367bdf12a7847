"""Synthetic benchmark: determinism, label/text consistency, label/image consistency, layout."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from radrl.data import load_r2gen
from radrl.data.sections import split_sections
from radrl.data.synthetic import (
    SIGNS,
    Case,
    SyntheticConfig,
    build_synthetic,
    draw_case,
    load_synthetic,
    make_sample,
    render_case,
)
from radrl.data.synthetic.cases import draw_anatomy, draw_finding
from radrl.labelers import get_labeler
from radrl.metrics import clinical_metrics
from radrl.schema import FINDINGS, OBSERVATIONS


def test_same_seed_same_sample_other_seed_differs():
    cfg = SyntheticConfig(seed=3)
    a_entry, a_img = make_sample("train", 5, cfg)
    b_entry, b_img = make_sample("train", 5, cfg)
    assert a_entry == b_entry and np.array_equal(a_img, b_img)
    c_entry, c_img = make_sample("train", 5, SyntheticConfig(seed=4))
    assert c_entry["report"] != a_entry["report"] or not np.array_equal(a_img, c_img)


def test_splits_do_not_share_cases():
    cfg = SyntheticConfig()
    train = {make_sample("train", i, cfg)[0]["report"] for i in range(30)}
    test = [make_sample("test", i, cfg)[0] for i in range(30)]
    assert all(e["id"].startswith("syn-test-") for e in test)
    # identical texts happen for normal studies; abnormal studies are unique
    assert len({e["report"] for e in test} - train) > 20


@pytest.mark.parametrize("style", ["paraphrased", "templated", "comparison"])
def test_labeler_agrees_with_generator_ground_truth(style):
    cfg = SyntheticConfig(report_style=style)
    entries = [make_sample_text(i, cfg) for i in range(600)]
    labeler = get_labeler("rule")
    pred = labeler.label_batch([e["report"] for e in entries])
    gold = [e["labels"] for e in entries]
    macro = clinical_metrics(pred, gold)["macro"]["f1"]
    assert macro >= 0.98
    cells = sum(p[o] == g[o] for p, g in zip(pred, gold) for o in OBSERVATIONS)
    assert cells / (14 * len(gold)) >= 0.98


def make_sample_text(i: int, cfg: SyntheticConfig) -> dict:
    """Report and labels without rendering (fast): the same rng stream as make_sample."""
    from radrl.data.sections import format_sections
    from radrl.data.synthetic.reports import write_report

    rng = np.random.default_rng([cfg.seed, 0, i])
    case = draw_case(str(i), rng, cfg.prevalence, cfg.normal_fraction)
    f, imp, labels = write_report(case, rng, cfg.report_style)
    return {"report": format_sections(f, imp), "labels": labels, "case": case}


def test_templated_style_writes_one_normal_report_and_varies_the_findings():
    from radrl.data.synthetic.reports import write_report

    cfg = SyntheticConfig(report_style="templated")
    entries = [make_sample_text(i, cfg) for i in range(400)]
    normal = {e["report"] for e in entries if not e["case"].findings}
    assert normal == {"FINDINGS: The heart size is normal. The mediastinal contours are normal. The lungs are clear. "
                      "No pleural effusion or pneumothorax. No acute osseous abnormality. "
                      "IMPRESSION: No acute cardiopulmonary process."}
    # the same case: both styles state the same labels; the templated one opens a present finding in more ways
    openings = {"paraphrased": set(), "templated": set()}
    for i in range(300):
        case = Case(str(i), draw_anatomy(np.random.default_rng(i)))
        case.findings["Pleural Effusion"] = draw_finding("Pleural Effusion", np.random.default_rng(i))
        case.findings["Pleural Effusion"].hedged = False
        for style in openings:
            findings, _imp, labels = write_report(case, np.random.default_rng(i), style)
            assert labels["Pleural Effusion"] == "positive"
            sentence = next(s for s in findings.split(". ") if "effusion" in s)
            openings[style].add(sentence.split()[0] if not sentence.startswith(("Small", "Moderate", "Large"))
                                else "<size>")
    assert openings["paraphrased"] < openings["templated"] and len(openings["templated"]) >= 5
    assert SyntheticConfig().record().keys() == {k for k in SyntheticConfig(report_style="templated").record()} - {
        "report_style"}
    with pytest.raises(ValueError, match="report_style"):
        SyntheticConfig(report_style="terse")


def test_comparison_style_states_most_findings_against_a_prior_in_findings_and_impression():
    from radrl.data.synthetic.reports import COMPARISON_WORDS

    templated = [make_sample_text(i, SyntheticConfig(report_style="templated")) for i in range(300)]
    entries = [make_sample_text(i, SyntheticConfig(report_style="comparison")) for i in range(300)]
    # the same cases, stated with the same labels (a pneumonia sentence may add Lung Opacity in either);
    # normal studies get the template's one report
    for e, t in zip(entries, templated):
        assert e["case"].findings.keys() == t["case"].findings.keys()
        assert all(e["labels"][n] == t["labels"][n] for n in e["case"].findings)
    assert ({e["report"] for e in entries if not e["case"].findings}
            == {e["report"] for e in templated if not e["case"].findings})
    definite = against_prior = 0
    openings = set()
    for e in entries:
        parts = split_sections(e["report"])
        findings, impression = parts.findings, parts.impression
        sentences = [s.strip() + "." for s in findings.split(". ") if s.strip()]
        for name, f in e["case"].findings.items():
            if name == "Support Devices" or f.hedged:
                continue
            definite += 1
        for s in sentences:
            word = next((w for w in COMPARISON_WORDS if s.startswith(w + " ")), None)
            if word:
                against_prior += 1
                openings.add(word)
                assert s.rstrip(".") + "." in impression  # IMPRESSION repeats it, comparison word included
    # 75 % of the definite findings, within sampling noise; every opening word in use
    assert 0.68 <= against_prior / definite <= 0.82
    assert openings == set(COMPARISON_WORDS)
    assert not any(w.startswith(("No", "The")) for w in COMPARISON_WORDS)


def test_labels_follow_the_case():
    cfg = SyntheticConfig()
    for i in range(200):
        e = make_sample_text(i, cfg)
        case, labels = e["case"], e["labels"]
        for name in FINDINGS:
            if name in case.findings:
                want = "uncertain" if case.findings[name].hedged else "positive"
                assert labels[name] == want, (name, e["report"])
            elif name != "Lung Opacity":  # opacity is also stated by pneumonia/atelectasis/edema wording
                assert labels[name] in ("blank", "negative"), (name, e["report"])
        assert (labels["No Finding"] == "positive") == case.is_normal
        sec = split_sections(e["report"])
        assert sec.findings and sec.impression


def test_prevalence_is_long_tailed_and_configurable():
    rng = np.random.default_rng(0)
    cases = [draw_case(str(i), rng) for i in range(3000)]
    counts = Counter(n for c in cases for n in c.findings)
    normal = sum(c.is_normal for c in cases) / len(cases)
    assert 0.25 < normal < 0.38
    assert counts["Support Devices"] > counts["Pneumothorax"] > counts["Pleural Other"]
    assert counts["Pleural Effusion"] > 3 * counts["Fracture"]
    rng = np.random.default_rng(0)
    only = [draw_case(str(i), rng, prevalence={"Pneumothorax": 0.5}, normal_fraction=0.0) for i in range(50)]
    assert all(set(c.findings) == {"Pneumothorax"} for c in only)
    with pytest.raises(ValueError, match="unknown findings"):
        draw_case("x", rng, prevalence={"Pneumonitis": 0.1})
    # a recipe names only what it changes: the other findings keep their rates
    cfg = SyntheticConfig(prevalence={"Pneumothorax": 0.3, "Fracture": 0.0})
    assert cfg.prevalence["Pneumothorax"] == 0.3 and cfg.prevalence["Fracture"] == 0.0
    assert cfg.prevalence["Pleural Effusion"] == 0.28 and len(cfg.prevalence) == 13
    with pytest.raises(ValueError, match="unknown findings"):
        SyntheticConfig(prevalence={"Pneumonitis": 0.1})


def _pair(name: str, seed: int = 0, **attrs) -> tuple[np.ndarray, np.ndarray, Case]:
    rng = np.random.default_rng(seed)
    base = Case("a", draw_anatomy(rng))
    sick = Case("b", base.anatomy)
    f = draw_finding(name, rng)
    f.hedged = False
    for k, v in attrs.items():
        setattr(f, k, v)
    sick.findings[name] = f
    return render_case(base, 224).astype(float), render_case(sick, 224).astype(float), sick


@pytest.mark.parametrize("name", FINDINGS)
def test_every_finding_changes_the_image(name):
    normal, sick, _ = _pair(name)
    diff = np.abs(sick - normal)
    assert diff.mean() > 0.05, f"{name} has no visible sign"
    assert diff.max() > 15


@pytest.mark.parametrize("name", ["Pleural Effusion", "Pneumothorax", "Consolidation", "Pneumonia", "Lung Lesion",
                                  "Fracture", "Atelectasis"])
def test_lateralised_signs_appear_on_the_right_side(name):
    """The patient's right is the image's left."""
    for side, half in (("right", slice(0, 112)), ("left", slice(112, 224))):
        normal, sick, _ = _pair(name, side=side)
        diff = np.abs(sick - normal)
        other = slice(112, 224) if half.start == 0 else slice(0, 112)
        assert diff[:, half].sum() > 3 * diff[:, other].sum(), (name, side)


@pytest.mark.parametrize("name", ["Pleural Effusion", "Lung Opacity", "Pneumothorax"])
def test_sign_strength_scales_the_lung_signs(name):
    """Half strength: about half the drawn difference from the normal film (noise and the
    exposure curve make it inexact); 0: the normal film up to that noise."""
    normal, sick, case = _pair(name, severity="large")
    base = Case("a", case.anatomy)
    full = np.abs(sick - normal).sum()
    half = np.abs(render_case(case, 224, sign_strength=0.5).astype(float)
                  - render_case(base, 224, sign_strength=0.5).astype(float)).sum()
    none = np.abs(render_case(case, 224, sign_strength=0.0).astype(float) - normal).sum()
    assert 0.3 * full < half < 0.7 * full, (name, half / full)
    assert none < 0.05 * full, (name, none / full)


def test_sign_strength_leaves_devices_and_anatomy_alone():
    for name in ("Support Devices", "Cardiomegaly", "Fracture"):
        _, sick, case = _pair(name)
        assert np.array_equal(render_case(case, 224, sign_strength=0.5).astype(float), sick), name
    with pytest.raises(ValueError, match="sign_strength"):
        SyntheticConfig(sign_strength=-0.1)


def test_sign_strength_changes_only_films_with_a_scaled_sign():
    assert "sign_strength" not in SyntheticConfig().record()
    assert SyntheticConfig(sign_strength=0.5).record()["sign_strength"] == 0.5
    for i in range(40):  # same cases and reports; only films with a lung or pleural sign change
        a_entry, a_img = make_sample("train", i, SyntheticConfig())
        b_entry, b_img = make_sample("train", i, SyntheticConfig(sign_strength=0.5))
        assert a_entry == b_entry
        scaled = set(a_entry["details"]) - {"Support Devices", "Cardiomegaly", "Enlarged Cardiomediastinum", "Fracture"}
        assert np.array_equal(a_img, b_img) == (not scaled), (i, sorted(a_entry["details"]))


def test_cardiomegaly_widens_the_heart_and_effusion_fills_the_base():
    normal, sick, _ = _pair("Cardiomegaly", severity="large")
    heart_rows = slice(120, 160)
    assert (sick[heart_rows] - normal[heart_rows]).mean() > 2
    normal, sick, _ = _pair("Pleural Effusion", side="right", severity="large")
    assert (sick[110:170, 20:100] - normal[110:170, 20:100]).mean() > 10  # lower right zone whiter
    assert abs((sick[20:60] - normal[20:60]).mean()) < 1  # apices untouched


def test_every_drawn_finding_has_a_sign_or_anatomy_change():
    drawn_elsewhere = {"Cardiomegaly", "Enlarged Cardiomediastinum", "Fracture", "Pneumothorax"}
    assert set(SIGNS) | drawn_elsewhere == set(FINDINGS)


def test_build_load_and_r2gen_layout(tiny_bench):
    cfg = json.loads((tiny_bench / "config.json").read_text())
    assert cfg["n_train"] == 40 and cfg["seed"] == 0
    test = load_synthetic(tiny_bench, "test")
    assert len(test) == 8 and all(s.labels and len(s.labels) == 14 for s in test)
    assert test[0].report.startswith("FINDINGS:") and "IMPRESSION:" in test[0].report
    from PIL import Image

    with Image.open(test[0].images[0]) as im:
        assert im.size == (224, 224) and im.mode == "L"
    # the same folder reads with the R2Gen loader (annotation.json + images/)
    r2 = load_r2gen(tiny_bench / "annotation.json", split="test", target="both", check_images="decode")
    assert [s.id for s in r2] == [s.id for s in test]
    assert r2[0].findings == test[0].findings
    only_findings = load_synthetic(tiny_bench, "test", target="findings")
    assert "IMPRESSION" not in only_findings[0].report


def test_build_is_reused_when_config_matches(tiny_bench):
    stamp = (tiny_bench / "annotation.json").stat().st_mtime_ns
    build_synthetic(tiny_bench, SyntheticConfig(n_train=40, n_val=4, n_test=8, seed=0), progress=False)
    assert (tiny_bench / "annotation.json").stat().st_mtime_ns == stamp


def test_missing_benchmark_is_a_clear_error(tmp_path):
    from radrl.io import InputError

    with pytest.raises(InputError, match="build the benchmark first"):
        load_synthetic(tmp_path)


def test_train_start_takes_later_train_samples_and_keeps_val_and_test(tiny_bench, tmp_path):
    """train_start: S gives train samples S.. of the same seed (films a model trained on the first
    S never saw); val and test are those of the plain benchmark, and a folder built without
    train_start keeps matching (its config.json has no such key)."""
    later = build_synthetic(tmp_path / "later", SyntheticConfig(n_train=3, n_val=4, n_test=8, seed=0, train_start=37),
                            progress=False)
    full = load_synthetic(tiny_bench, "train")
    assert [s.id for s in load_synthetic(later, "train")] == ["syn-train-00037", "syn-train-00038", "syn-train-00039"]
    assert [s.report for s in load_synthetic(later, "train")] == [s.report for s in full[37:40]]
    for split in ("val", "test"):
        assert [s.report for s in load_synthetic(later, split)] == [s.report for s in load_synthetic(tiny_bench, split)]
    assert json.loads((later / "config.json").read_text())["train_start"] == 37
    assert "train_start" not in json.loads((tiny_bench / "config.json").read_text())
    with pytest.raises(Exception, match="train_start"):
        SyntheticConfig(train_start=-1)
