"""`radrl compare`: the full-set values equal `radrl eval`'s; the tests behave as tests should."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from radrl.cli import main


def _iu_pairs(shared_data, n=120):
    rows = [json.loads(line) for line in (shared_data / "iu_xray" / "dev_reports_mesh.jsonl").read_text().splitlines()]
    refs = [" ".join(x for x in (r["findings"], r["impression"]) if x) for r in rows[:n]]
    return rows[:n], refs


def _write(path, ids, preds, refs):
    path.write_text("".join(json.dumps({"id": i, "prediction": p, "reference": r}) + "\n"
                            for i, p, r in zip(ids, preds, refs)))
    return path


def test_full_set_values_equal_radrl_eval(shared_data, tmp_path, capsys):
    rows, refs = _iu_pairs(shared_data)
    ids = [r["id"] for r in rows]
    a_preds = [r["impression"] or "No acute disease." for r in rows]
    b_preds = refs[1:] + refs[:1]  # other studies' reports
    a, b = _write(tmp_path / "a.jsonl", ids, a_preds, refs), _write(tmp_path / "b.jsonl", ids, b_preds, refs)
    for path in (a, b):
        assert main(["eval", str(path), "-o", str(path.with_suffix(".metrics.json")), "--no-meteor"]) == 0
    assert main(["compare", str(a), str(b), "-o", str(tmp_path / "c.json"), "--resamples", "50"]) == 0
    result = json.loads((tmp_path / "c.json").read_text())
    for side, path in (("a", a), ("b", b)):
        ev = json.loads(path.with_suffix(".metrics.json").read_text())
        expected = {"example_f1": ev["clinical"]["example"]["f1"], "macro_f1": ev["clinical"]["macro"]["f1"],
                    "micro_f1": ev["clinical"]["micro"]["f1"], "rouge_l": ev["nlg"]["rouge_l"],
                    "cider": ev["nlg"]["cider"], **{f"bleu_{k}": ev["nlg"][f"bleu_{k}"] for k in range(1, 5)},
                    **{f"radeval.{k}": v for k, v in ev["nlg_radeval"].items()},
                    **{f"{u}.{k}_f1": v["f1"] for u, block in ev["clinical"]["conventions"].items()
                       for k, v in block.items()}}
        assert set(expected) == set(result["metrics"])
        for metric, value in expected.items():
            assert result["metrics"][metric][side] == pytest.approx(value, abs=1e-9), (side, metric)
    for m in result["metrics"].values():
        assert m["ci95"][0] <= m["diff"] <= m["ci95"][1] or abs(m["diff"]) < 1e-12  # the CI contains the difference
    assert "A - B" in capsys.readouterr().out


def test_identical_systems_give_p_one_and_a_perfect_system_beats_shuffled(shared_data, tmp_path):
    rows, refs = _iu_pairs(shared_data, 80)
    ids = [r["id"] for r in rows]
    same = _write(tmp_path / "same.jsonl", ids, refs, refs)
    twin = _write(tmp_path / "twin.jsonl", ids, refs, refs)
    assert main(["compare", str(same), str(twin), "-o", str(tmp_path / "c1.json"), "--resamples", "200"]) == 0
    identical = json.loads((tmp_path / "c1.json").read_text())["metrics"]
    assert all(m["p_value"] == 1.0 and m["diff"] == 0 for m in identical.values())
    shuffled = refs[:]
    random.Random(0).shuffle(shuffled)
    bad = _write(tmp_path / "bad.jsonl", ids, shuffled, refs)
    assert main(["compare", str(same), str(bad), "-o", str(tmp_path / "c2.json"), "--resamples", "200"]) == 0
    result = json.loads((tmp_path / "c2.json").read_text())["metrics"]
    for name in ("bleu_4", "rouge_l", "cider", "example_f1"):
        assert result[name]["diff"] > 0 and result[name]["p_value"] < 0.01, name
        assert 0 < result[name]["ci95"][0] <= result[name]["diff"] <= result[name]["ci95"][1]
    # reproducible: the seed fixes both tests
    assert main(["compare", str(same), str(bad), "-o", str(tmp_path / "c3.json"), "--resamples", "200"]) == 0
    assert json.loads((tmp_path / "c3.json").read_text())["metrics"] == result


def test_resampled_corpus_metrics_equal_pycocoevalcap_on_the_resample(shared_data):
    """BLEU and CIDEr-D are recomputed on each resample: equal to pycocoevalcap run on it."""
    import contextlib
    import io

    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    from radrl.metrics.compare import bleu_stats, cider_scores, cider_tables, corpus_bleu
    from radrl.metrics.nlg import literature_text

    rows, refs = _iu_pairs(shared_data, 60)
    hyps = [literature_text(r["impression"] or "normal") for r in rows]
    gold = [literature_text(r) for r in refs]
    draw = np.random.default_rng(3).integers(0, len(hyps), len(hyps))
    weights = np.bincount(draw, minlength=len(hyps)).astype(float)
    res = {k: [hyps[i]] for k, i in enumerate(draw)}
    gts = {k: [gold[i]] for k, i in enumerate(draw)}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu = Bleu(4).compute_score(gts, res)[0]
    assert corpus_bleu(bleu_stats(hyps, gold), weights) == pytest.approx(bleu, abs=1e-12)
    vocab: dict = {}
    tables = cider_tables(hyps, gold, vocab)
    ours = weights @ cider_scores(tables, weights, len(vocab)) / weights.sum()
    assert ours == pytest.approx(Cider().compute_score(gts, res)[0], abs=1e-9)


def test_files_must_pair(tmp_path, capsys):
    a = _write(tmp_path / "a.jsonl", ["1", "2"], ["x", "y"], ["r1", "r2"])
    b = _write(tmp_path / "b.jsonl", ["1", "3"], ["x", "y"], ["r1", "r3"])
    assert main(["compare", str(a), str(b)]) == 2
    assert "same ids" in capsys.readouterr().err
    c = _write(tmp_path / "c.jsonl", ["1", "2"], ["x", "y"], ["r1", "other"])
    assert main(["compare", str(a), str(c)]) == 2
    assert "references of 1 ids differ" in capsys.readouterr().err


def test_a_subset_of_metrics_gives_the_full_runs_figures_and_example_f1_bootstraps_the_mean_difference():
    """``metrics=("example_f1",)`` (the demo's headline) resamples exactly as the full comparison,
    and its bootstrap CI is that of the mean per-study F1 difference, recomputed here by hand."""
    from radrl.metrics.compare import compare_predictions

    rng = random.Random(0)
    names = ("Cardiomegaly", "Edema", "Pleural Effusion")
    flip = {"positive": "negative", "negative": "positive"}
    gold = [{n: "positive" if rng.random() < 0.4 else "negative" for n in names} for _ in range(40)]
    a_labels = [{n: (g[n] if rng.random() < 0.9 else flip[g[n]]) for n in names} for g in gold]
    b_labels = [{n: (g[n] if rng.random() < 0.7 else flip[g[n]]) for n in names} for g in gold]
    refs = [f"report {i} of the heart and lungs" for i in range(40)]
    a_preds, b_preds = [f"report {i} heart" for i in range(40)], [f"the lungs {i}" for i in range(40)]
    full = compare_predictions(a_preds, b_preds, refs, a_labels, b_labels, gold, resamples=300, seed=3)
    only = compare_predictions(a_preds, b_preds, refs, a_labels, b_labels, gold, resamples=300, seed=3,
                               metrics=("example_f1",))
    assert set(only) == {"example_f1"} and only["example_f1"] == full["example_f1"]

    def example_f1(pred, ref):  # per study over the positive labels; both empty scores 0 (empty_match "zero")
        tp = sum(pred[n] == ref[n] == "positive" for n in names)
        den = sum(pred[n] == "positive" for n in names) + sum(ref[n] == "positive" for n in names)
        return 2 * tp / den if den else 0.0

    d = np.array([example_f1(x, g) - example_f1(y, g) for x, y, g in zip(a_labels, b_labels, gold)])
    draws = np.random.default_rng(3)
    boot = [np.bincount(draws.integers(0, 40, 40), minlength=40) @ d / 40 for _ in range(300)]
    assert only["example_f1"]["diff"] == pytest.approx(d.mean(), abs=1e-12)
    assert only["example_f1"]["ci95"] == pytest.approx([np.percentile(boot, 2.5), np.percentile(boot, 97.5)], abs=1e-12)
    with pytest.raises(ValueError, match="unknown metrics"):
        compare_predictions(a_preds, b_preds, refs, a_labels, b_labels, gold, resamples=2, metrics=("bleu",))


def test_the_conventions_resample_with_the_same_draws():
    """A convention's F1 (macro over the five, uncertain positive) is recomputed on each bootstrap
    draw from per-label counts: by hand here, with the draws of ``np.random.default_rng(seed)``."""
    from radrl.metrics.compare import compare_predictions

    rng = random.Random(1)
    five = ("Cardiomegaly", "Edema", "Consolidation", "Atelectasis", "Pleural Effusion")
    values = ("positive", "negative", "uncertain")
    gold = [{n: rng.choice(values) for n in five} for _ in range(30)]
    a_labels = [{n: (g[n] if rng.random() < 0.8 else rng.choice(values)) for n in five} for g in gold]
    b_labels = [{n: (g[n] if rng.random() < 0.5 else rng.choice(values)) for n in five} for g in gold]
    refs = [f"report {i}" for i in range(30)]
    name = "uncertain_positive.macro_5_f1"
    full = compare_predictions(refs, refs, refs, a_labels, b_labels, gold, resamples=100, seed=5)
    only = compare_predictions(refs, refs, refs, a_labels, b_labels, gold, resamples=100, seed=5, metrics=(name,))
    assert only[name] == full[name]

    def hot(labels):
        return np.array([[lab[n] in ("positive", "uncertain") for n in five] for lab in labels], dtype=float)

    truth, pa, pb = hot(gold), hot(a_labels), hot(b_labels)

    def macro5(pred, w):
        tp, fp, fn = w @ (pred * truth), w @ (pred * (1 - truth)), w @ ((1 - pred) * truth)
        return float(np.mean([2 * t / (2 * t + p + n) if (2 * t + p + n) else 0.0 for t, p, n in zip(tp, fp, fn)]))

    ones = np.ones(30)
    assert only[name]["diff"] == pytest.approx(macro5(pa, ones) - macro5(pb, ones), abs=1e-12)
    draws = np.random.default_rng(5)
    boot = []
    for _ in range(100):
        w = np.bincount(draws.integers(0, 30, 30), minlength=30).astype(float)
        boot.append(macro5(pa, w) - macro5(pb, w))
    assert only[name]["ci95"] == pytest.approx([np.percentile(boot, 2.5), np.percentile(boot, 97.5)], abs=1e-12)
