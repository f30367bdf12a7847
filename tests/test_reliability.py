"""Nothing a user owns is lost (issue 16): outputs never replace inputs, a benchmark is never
built over a real dataset, one run per folder, --resume keeps the record of what was trained,
and ROUGE-L runs in bounded memory with pycocoevalcap's numbers."""

from __future__ import annotations

import json
import os
import random

import pytest

from radrl.cli import main
from radrl.io import InputError, run_lock


def test_label_and_eval_refuse_to_write_over_their_input(tmp_path, capsys):
    reports = tmp_path / "reports.jsonl"
    reports.write_text(json.dumps({"id": 1, "report": "Small left effusion."}) + "\n")
    before = reports.read_bytes()
    assert main(["label", str(reports), "-o", str(reports)]) == 2
    assert "never writes over its input" in capsys.readouterr().err
    link = tmp_path / "same.jsonl"
    os.link(reports, link)  # another name for the same file
    assert main(["label", str(reports), "-o", str(link)]) == 2
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": 1, "prediction": "x", "reference": "y"}) + "\n")
    assert main(["eval", str(preds), "-o", str(preds), "--no-meteor"]) == 2
    assert main(["label", str(reports), "-o", str(tmp_path)]) == 2  # a folder
    assert "is a folder" in capsys.readouterr().err
    assert reports.read_bytes() == before and "prediction" in preds.read_text()


def test_a_benchmark_is_never_built_over_a_real_dataset(tmp_path, capsys):
    real = tmp_path / "mimic"
    real.mkdir()
    (real / "annotation.json").write_text('{"train": []}')
    assert main(["synth", str(real), "--n-train", "2", "--n-val", "1", "--n-test", "1"]) == 2
    assert "not a radrl synthetic benchmark" in capsys.readouterr().err
    assert (real / "annotation.json").read_text() == '{"train": []}' and not (real / "images").exists()
    # its own folder is rebuilt with another config, and a half-built one is finished
    ours = tmp_path / "synthetic"
    assert main(["synth", str(ours), "--n-train", "2", "--n-val", "1", "--n-test", "1"]) == 0
    assert main(["synth", str(ours), "--n-train", "3", "--n-val", "1", "--n-test", "1"]) == 0
    (ours / "config.json").unlink()
    (ours / "annotation.json").unlink()  # as a build interrupted while writing images leaves it
    assert main(["synth", str(ours), "--n-train", "3", "--n-val", "1", "--n-test", "1"]) == 0


def test_one_run_per_folder_and_a_stale_lock_is_taken_over(tmp_path):
    with run_lock(tmp_path) as lock:
        holder = json.loads(lock.read_text())
        assert holder["pid"] == os.getpid()
        with pytest.raises(InputError, match=f"pid {os.getpid()}"), run_lock(tmp_path):
            pass
    assert not lock.exists()
    # a lock left by a process that is gone (SIGKILL) does not block the resume
    lock.write_text(json.dumps({"pid": 2**22 + 12345, "host": os.uname().nodename}))
    with run_lock(tmp_path):
        assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_resume_refuses_a_different_recipe_but_allows_more_steps(tmp_path):
    from radrl.recipe import load_recipe, with_overrides
    from radrl.training.rl import check_resume_recipe

    recipe = load_recipe("grpo", tiny=True)
    (tmp_path / "recipe.json").write_text(json.dumps(recipe.to_dict()))
    check_resume_recipe(tmp_path, with_overrides(recipe, "rl.max_steps=500", "rl.save_steps=7",
                                                 "evaluate.limit=3"))
    with pytest.raises(InputError, match=r"rl\.learning_rate"):
        check_resume_recipe(tmp_path, with_overrides(recipe, "rl.learning_rate=1e-3"))
    with pytest.raises(InputError, match=r"rewards"):
        check_resume_recipe(tmp_path, with_overrides(recipe, "rewards=[{type: bleu2}]"))


def test_bounded_rouge_equals_pycocoevalcap(shared_data):
    from pycocoevalcap.rouge.rouge import Rouge

    from radrl.metrics.nlg import clean_report
    from radrl.metrics.rouge import BoundedRouge, lcs_length

    assert lcs_length("a b c d".split(), "b d e".split()) == 2
    assert lcs_length([], ["a"]) == 0
    rng = random.Random(0)
    texts = [" ".join(rng.choice("abcde") for _ in range(rng.randint(1, 40))) for _ in range(200)]
    iu = shared_data / "iu_xray" / "dev_reports_mesh.jsonl"
    if iu.is_file():
        rows = [json.loads(x) for x in iu.read_text(encoding="utf-8").splitlines()[:200]]
        texts += [clean_report(f"{r['findings']} {r['impression']}") for r in rows]
    ours, theirs = BoundedRouge(), Rouge()
    for a, b in zip(texts, texts[1:] + texts[:1]):
        assert ours.calc_score([a], [b]) == theirs.calc_score([a], [b])


def test_rouge_of_long_reports_runs_in_bounded_memory():
    import tracemalloc

    from radrl.metrics.rouge import lcs_length

    a, b = ["x", "y"] * 300, ["y", "x"] * 300  # 600 tokens each: the full table is 360 k cells
    tracemalloc.start()
    assert lcs_length(a, b) == 599
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200_000, peak  # two rows of 601 (~10 kB), not the table (~3 MB of list slots)
