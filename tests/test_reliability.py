"""Nothing a user owns is lost (issue 16): outputs never replace inputs, a benchmark is never
built over a real dataset, one run per folder, --resume keeps the record of what was trained,
and ROUGE-L runs in bounded memory with pycocoevalcap's numbers."""

from __future__ import annotations

import json
import os
import random

import pytest

from radrl.cli import main
from radrl.data.loaders import load_r2gen, load_records
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
    # a run recorded by an older radrl, before a setting existed: the new setting at its default is
    # not a change (found by `make demo` resuming its own run after data.allow_partial_subset came)
    older = recipe.to_dict()
    del older["data"]["allow_partial_subset"]
    (tmp_path / "recipe.json").write_text(json.dumps(older))
    check_resume_recipe(tmp_path, recipe)
    with pytest.raises(InputError, match=r"data\.allow_partial_subset"):
        check_resume_recipe(tmp_path, with_overrides(recipe, "data.allow_partial_subset=true"))


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


# -------------------------------------------------------------------- strict input parsing
def test_a_csv_with_an_unbalanced_quote_is_refused_not_merged(tmp_path, capsys):
    """Before: 5 rows, one unbalanced quote -> 2 labelled lines, exit 0."""
    bad = tmp_path / "reports.csv"
    bad.write_text('id,report\n1,Clear lungs.\n2,"Small effusion.\n3,Cardiomegaly.\n4,Edema.\n5,Normal.\n')
    out = tmp_path / "labels.jsonl"
    assert main(["label", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "malformed CSV" in err and not out.exists()
    # a row with more fields than the header
    bad.write_text("id,report\n1,Clear lungs.\n2,Small effusion, left.\n")
    assert main(["label", str(bad), "-o", str(out)]) == 2
    assert "line 3: 3 fields, but the header has 2" in capsys.readouterr().err
    # a quoted multi-line report is still one valid row
    bad.write_text('id,report\n1,"FINDINGS: Clear.\nIMPRESSION: Normal."\n2,Edema.\n')
    assert main(["label", str(bad), "-o", str(out)]) == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["1", "2"]


@pytest.mark.parametrize("value", [42, ["Edema."], {"text": "Edema."}, True])
def test_a_report_that_is_not_text_is_refused(tmp_path, capsys, value):
    """Before: ``[1, 2]`` was stringified and labelled."""
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 1, "report": value}) + "\n")
    assert main(["label", str(src), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "line 1: 'report' must be a string or null" in capsys.readouterr().err
    src.write_text(json.dumps({"id": 1, "prediction": value, "reference": "Edema."}) + "\n")
    assert main(["eval", str(src), "-o", str(tmp_path / "m.json"), "--no-meteor"]) == 2
    assert "'prediction' must be a string or null" in capsys.readouterr().err
    src.write_text(json.dumps({"id": 1, "images": [], "report": value}) + "\n")
    with pytest.raises(InputError, match="'report' must be a string"):
        load_records(src, check_images="none")


def test_repeated_ids_are_kept_once_with_a_warning_in_every_command(tmp_path):
    """Before: eval counted a repeated id twice. Now every command keeps the first row of an id."""
    preds = tmp_path / "preds.jsonl"
    rows = [{"id": "a", "prediction": "Cardiomegaly.", "reference": "Cardiomegaly."},
            {"id": "b", "prediction": "Clear.", "reference": "Pleural effusion."},
            {"id": "a", "prediction": "Edema.", "reference": "Cardiomegaly."}]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.warns(UserWarning, match=r"1 repeated id\(s\) dropped.*'a' \(line 3, first on line 1\)"):
        assert main(["eval", str(preds), "-o", str(tmp_path / "m.json"), "--no-meteor"]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["n"] == 2
    labels_out = tmp_path / "labels.jsonl"
    with pytest.warns(UserWarning, match="repeated id"):
        assert main(["label", str(_reports(tmp_path, rows)), "-o", str(labels_out)]) == 0
    assert [json.loads(line)["id"] for line in labels_out.read_text().splitlines()] == ["a", "b"]
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps({"id": r["id"], "images": [], "report": r["reference"]}) + "\n"
                               for r in rows))
    with pytest.warns(UserWarning, match=r"1 repeated id \(the first is kept\)"):
        samples = load_records(records, check_images="none")
    assert [(s.id, s.report) for s in samples] == [("a", "Cardiomegaly."), ("b", "Pleural effusion.")]


def _reports(tmp_path, rows):
    path = tmp_path / "reports.jsonl"
    path.write_text("".join(json.dumps({"id": r["id"], "report": r["prediction"]}) + "\n" for r in rows))
    return path


def test_label_and_eval_inputs_are_capped_with_a_warning_per_report(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 1, "report": "Edema. " * 10}) + "\n"
                   + json.dumps({"id": 2, "report": "Small left effusion."}) + "\n"
                   + json.dumps({"id": 3, "report": "x" * 500}) + "\n")
    with pytest.warns(UserWarning) as caught:
        assert main(["label", str(src), "-o", str(tmp_path / "o.jsonl"), "--max-chars", "40"]) == 0
    messages = [str(w.message) for w in caught if "cut to" in str(w.message)]
    assert len(messages) == 2 and "line 1: report of 70 characters" in messages[0] and "line 3" in messages[1]


# -------------------------------------------------------------------- subset files
def _samples(ids):
    from radrl.data.sample import Sample

    return [Sample(str(i), [], f"Report {i}.") for i in ids]


def test_a_subset_file_is_refused_on_another_dataset_and_when_partial(tmp_path):
    """Before: a subset matching 1 of 4 ids, or made for another dataset with the same id
    scheme, was accepted silently."""
    from radrl.config.sections import SelectionSettings
    from radrl.selection.subsets import dataset_fingerprint, select_subset, subset_samples

    source = _samples(range(8))
    path = tmp_path / "subset.json"
    result = select_subset(SelectionSettings(method="random", size=4, seed=0), source, path,
                           source={"kind": "r2gen", "path": "/data/iu/annotation.json", "split": "train"})
    assert result["dataset"] == {**dataset_fingerprint(source, "r2gen", "/data/iu/annotation.json", "train")}
    assert [s.id for s in subset_samples(path, source, "r2gen", "train")] == sorted(result["ids"], key=int)
    # the same ids under another kind or split, or another dataset whose ids overlap
    with pytest.raises(InputError, match="drawn from another dataset.*differs in split"):
        subset_samples(path, source, "r2gen", "val")
    other = _samples(range(4, 12))
    with pytest.raises(InputError, match=r"differs in ids \(8 samples then, 8 now\)"):
        subset_samples(path, other, "r2gen", "train")
    # an old file without a fingerprint: partial matches refused unless allowed
    data = json.loads(path.read_text())
    del data["dataset"]
    data["ids"] = ["1", "2", "3", "99"]
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="no dataset fingerprint"), \
            pytest.raises(InputError, match="1 of its 4 ids are not in the data.*--allow-partial"):
        subset_samples(path, source)
    with pytest.warns(UserWarning, match="using the 3 that are"):
        assert [s.id for s in subset_samples(path, source, allow_partial=True)] == ["1", "2", "3"]
    data["ids"] = ["98", "99"]
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning), pytest.raises(InputError, match="made for this dataset"):
        subset_samples(path, source, allow_partial=True)  # nothing matches: never accepted


# -------------------------------------------------------------------- images
def _png(path, size=(8, 8)):
    from PIL import Image

    Image.new("L", size, 128).save(path)
    return path


def test_image_problems_are_named_and_decompression_bombs_refused(tmp_path, monkeypatch):
    from radrl.data import images

    good = _png(tmp_path / "good.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(_png(tmp_path / "big.png", (256, 256)).read_bytes()[:60])
    assert images.image_problem(good) is None and images.open_image(good).mode == "RGB"
    assert images.image_problem(empty) == "empty image file"
    assert images.image_problem(junk) == "unreadable image"
    assert images.image_problem(tmp_path / "nope.png") == "missing image"
    with pytest.raises(images.ImageError, match="truncated.png: unreadable image"):
        images.open_image(truncated)
    # a small file that decodes to many pixels: refused from its header, before decoding
    bomb = _png(tmp_path / "bomb.png", (4000, 4000))
    assert bomb.stat().st_size < 100_000
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(images.ImageError, match=r"4000 x 4000 = 16,000,000 > the cap of 1,000,000.*"
                                                 "RADRL_MAX_IMAGE_PIXELS"):
        images.open_image(bomb)
    assert images.image_problem(bomb) == "too many pixels"
    from PIL import Image

    assert Image.MAX_IMAGE_PIXELS == int(os.environ.get("RADRL_MAX_IMAGE_PIXELS", 64_000_000))  # set explicitly


def test_image_paths_stay_inside_the_dataset_root(tmp_path):
    """Before: ``../`` and absolute paths in a dataset file were opened wherever they pointed."""
    root = tmp_path / "data"
    root.mkdir()
    _png(root / "in.png")
    _png(tmp_path / "secret.png")
    records = root / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "ok", "images": ["in.png"], "report": "Clear."},
        {"id": "up", "images": ["../secret.png"], "report": "Clear."},
        {"id": "abs", "images": [str(tmp_path / "secret.png")], "report": "Clear."}]))
    # a user's own manifest reads absolute and relative paths by default (issue 27); confined on request
    with pytest.warns(UserWarning, match="2 image outside the dataset root"):
        assert [s.id for s in load_records(records, allow_outside_root=False)] == ["ok"]
    assert [s.id for s in load_records(records, allow_outside_root=True)] == ["ok", "up", "abs"]
    annotation = root / "annotation.json"
    annotation.write_text(json.dumps({"train": [{"id": "x", "report": "Clear.", "image_path": ["../../secret.png"]}]}))
    (root / "images").mkdir()
    with pytest.warns(UserWarning, match="outside the dataset root"):
        assert load_r2gen(annotation) == []


def test_a_corrupt_image_skips_its_sample_in_generation_and_training_data(tmp_path, tiny_vlm, capsys):
    """Before: one zero-byte image aborted `radrl generate` with a traceback and no output."""
    root = tmp_path / "data"
    root.mkdir()
    for name in ("a", "c"):
        _png(root / f"{name}.png", (32, 32))
    (root / "b.png").write_bytes(b"")
    records = root / "records.jsonl"
    records.write_text("".join(json.dumps({"id": n, "images": [f"{n}.png"], "report": "Clear lungs."}) + "\n"
                               for n in "abc"))
    out = tmp_path / "preds.jsonl"
    with pytest.warns(UserWarning, match=r"skipped 1 sample\(s\) for their images: 1 empty image file \(first: b\)"):
        code = main(["generate", str(tiny_vlm), "--data", f"records:{records}", "-o", str(out),
                     "--max-new-tokens", "4", "--batch-size", "3"])
    assert code == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "c"]
    assert "1 sample(s) skipped for unreadable images" in capsys.readouterr().err
    from radrl.data.images import drop_unreadable

    with pytest.warns(UserWarning, match="training data: skipped 1"):
        kept, skipped = drop_unreadable(load_records(records), "training data")
    assert [s.id for s in kept] == ["a", "c"] and skipped.summary()["reasons"]["empty image file"]["count"] == 1


# -------------------------------------------------------------------- checkpoints and paths
def test_a_labeler_config_is_checked_against_its_weights_before_building(tmp_path, capsys):
    """Before: a config.json with huge sizes built a ~620 GB model before any check."""
    import tracemalloc

    from radrl.labelers.chexbert import CheckpointError, ChexbertLabeler, ChexbertModel, save_labeler_folder

    folder = _tiny_labeler(tmp_path, ChexbertModel, save_labeler_folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_size=65536, intermediate_size=262144, num_hidden_layers=48, vocab_size=1_000_000)
    (folder / "config.json").write_text(json.dumps(config))
    tracemalloc.start()
    with pytest.raises(CheckpointError, match="does not match the CheXbert architecture.*wrong shape"):
        ChexbertLabeler.from_checkpoint(folder)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 2**20  # checked on the meta device: nothing of the huge model is allocated


def test_truncated_weights_files_and_wrong_paths_exit_2(tmp_path, tiny_vlm, capsys):
    from radrl.labelers.chexbert import ChexbertModel, save_labeler_folder

    folder = _tiny_labeler(tmp_path, ChexbertModel, save_labeler_folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    reports = tmp_path / "r.jsonl"
    reports.write_text(json.dumps({"id": 1, "report": "Edema."}) + "\n")
    assert main(["label", str(reports), "-o", str(tmp_path / "o.jsonl"), "--labeler", "chexbert",
                 "--weights", str(folder)]) == 2
    assert "not a complete safetensors file" in capsys.readouterr().err
    # a policy whose weights are cut short
    import shutil

    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_vlm, broken)
    w = broken / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    records = tmp_path / "records.jsonl"
    records.write_text("")
    for model, expected in ((str(broken), "truncated or corrupt model.safetensors"),
                            (str(reports), "is a file; a model is a folder"),
                            ("tiny_sft", "no such model folder"),
                            (str(tmp_path), "no config.json")):
        from radrl.models.policy import load_policy

        with pytest.raises(InputError, match=expected):
            load_policy(model)
    # an output under a file, where a folder is expected
    assert main(["label", str(reports), "-o", str(reports / "labels.jsonl")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def _tiny_labeler(tmp_path, ChexbertModel, save_labeler_folder):
    from transformers import BertConfig, BertTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "edema", "."]) + "\n")

    config = BertConfig(vocab_size=7, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    return save_labeler_folder(ChexbertModel(config), BertTokenizer(str(vocab)), tmp_path / "labeler")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_output_exits_2(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    reports = tmp_path / "r.jsonl"
    reports.write_text(json.dumps({"id": 1, "report": "Edema."}) + "\n")
    assert main(["label", str(reports), "-o", str(locked / "o.jsonl")]) == 2
    assert "not writable" in capsys.readouterr().err
