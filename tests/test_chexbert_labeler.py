"""The CheXbert-architecture labeler: official layout, wrong files, training, saliency, alignment."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import torch

from radrl.algorithms import align_scores_by_offsets, saliency_token_weights
from radrl.labelers import get_labeler
from radrl.labelers.chexbert import (
    MAX_TOKENS,
    CheckpointError,
    ChexbertLabeler,
    clean_report,
    clean_report_with_map,
    logits_to_labels,
    save_official_checkpoint,
    tiny_random_labeler,
)
from radrl.schema import NO_FINDING, OBSERVATION_INDEX, OBSERVATIONS

WORDS = ("there is a small large left right pleural effusion no pneumo ##thorax heart size normal "
         "xxxx . , mild edema consolidation is seen the lungs are clear h ##eart").split()

SENTENCES = [
    "There is a {s} {side} pleural effusion.", "No pleural effusion.", "No pneumothorax.",
    "There is a {s} {side} pneumothorax.", "Heart size is normal.", "The heart is enlarged.",
    "Mild pulmonary edema.", "No focal consolidation.", "{side} lower lobe consolidation.",
    "The lungs are clear.", "Median sternotomy wires are intact.", "XXXX opacity in the {side} base.",
]


def toy_reports(n: int = 400, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        k = rng.randint(1, 4)
        parts = [rng.choice(SENTENCES).format(s=rng.choice(["small", "large", "moderate"]),
                                              side=rng.choice(["left", "right", "bilateral"]))
                 for _ in range(k)]
        out.add(" ".join(dict.fromkeys(parts)))
    return sorted(out)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny labeler trained on toy reports with the rule labeler's labels (about 10 s)."""
    from radrl.training.labeler import LabelerTrainSettings, train_labeler

    out = tmp_path_factory.mktemp("labeler")
    card = train_labeler(toy_reports(), out, LabelerTrainSettings(epochs=25, learning_rate=3e-3, vocab_size=300),
                         progress=False)
    return out, card


# -- architecture and the official layout ---------------------------------------------------------

def test_module_names_and_head_shapes_match_the_official_checkpoint():
    lab = tiny_random_labeler(WORDS)
    keys = lab.model.state_dict()
    assert all(k.startswith(("bert.", "linear_heads.")) for k in keys)
    assert [keys[f"linear_heads.{i}.weight"].shape[0] for i in range(14)] == [4] * 13 + [2]
    assert "bert.pooler.dense.weight" in keys  # CheXbert's BertModel keeps its pooler


def test_official_layout_round_trip(tmp_path):
    lab = tiny_random_labeler(WORDS, seed=3)
    path = save_official_checkpoint(lab.model, tmp_path / "chexbert.pth")
    raw = torch.load(path, weights_only=True)
    assert set(raw) >= {"model_state_dict"}
    assert all(k.startswith("module.") for k in raw["model_state_dict"])
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t, _ in sorted(lab.tokenizer.get_vocab().items(),
                                                                               key=lambda kv: kv[1])))
    # an older transformers saved the position_ids buffer: it must be tolerated
    raw["model_state_dict"]["module.bert.embeddings.position_ids"] = torch.arange(MAX_TOKENS)[None]
    torch.save(raw, tmp_path / "old.pth")
    texts = ["No pneumothorax. Small left pleural effusion.", "", "XXXX heart size normal"]
    # without a config.json the geometry is read off the tensors (heads: hidden / 64, as in bert-base)
    inferred = get_labeler("chexbert", str(path), device="cpu").model.config
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size", "max_position_embeddings"):
        assert getattr(inferred, key) == getattr(lab.model.config, key)
    lab.model.config.save_pretrained(tmp_path)  # a config.json beside the file gives the head count
    for file in ("chexbert.pth", "old.pth"):
        loaded = get_labeler("chexbert", str(tmp_path / file), device="cpu")
        for a, b in zip(lab.logits(texts), loaded.logits(texts)):
            assert all(torch.equal(x, y) for x, y in zip(a, b))
        assert loaded.label_batch(texts) == lab.label_batch(texts)
    # the radrl folder layout too
    folder = lab.save(tmp_path / "folder")
    again = ChexbertLabeler.from_checkpoint(folder, device="cpu")
    assert again.label_batch(texts) == lab.label_batch(texts)
    assert again.model.config.num_attention_heads == lab.model.config.num_attention_heads


def test_wrong_files_give_clear_errors(tmp_path):
    lab = tiny_random_labeler(WORDS)
    with pytest.raises(CheckpointError, match="no such file"):
        ChexbertLabeler.from_checkpoint(tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        ChexbertLabeler.from_checkpoint(garbage)
    torch.save({"weights": {}}, tmp_path / "nokey.pth")
    with pytest.raises(CheckpointError, match="model_state_dict"):
        ChexbertLabeler.from_checkpoint(tmp_path / "nokey.pth")
    torch.save({"model_state_dict": {"x": torch.zeros(1)}, "evil": random.Random(0)}, tmp_path / "pickle.pth")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        ChexbertLabeler.from_checkpoint(tmp_path / "pickle.pth")
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t in lab.tokenizer.get_vocab()))
    state = {f"module.{k}": v for k, v in lab.model.state_dict().items() if not k.startswith("linear_heads.13.")}
    torch.save({"model_state_dict": state}, tmp_path / "nohead.pth")
    with pytest.raises(CheckpointError, match=r"2 missing .*linear_heads\.13"):
        ChexbertLabeler.from_checkpoint(tmp_path / "nohead.pth")
    state = {f"module.{k}": v for k, v in lab.model.state_dict().items()}
    state["module.linear_heads.0.weight"] = torch.zeros(3, lab.model.config.hidden_size)
    torch.save({"model_state_dict": state}, tmp_path / "shape.pth")
    with pytest.raises(CheckpointError, match="wrong shape"):
        ChexbertLabeler.from_checkpoint(tmp_path / "shape.pth")
    lone = tmp_path / "lone"
    lone.mkdir()
    save_official_checkpoint(lab.model, lone / "chexbert.pth")
    with pytest.raises(CheckpointError, match="vocab.txt"):
        ChexbertLabeler.from_checkpoint(lone / "chexbert.pth")
    with pytest.raises(CheckpointError, match="--weights"):
        get_labeler("chexbert")


@pytest.mark.slow
def test_cli_label_with_a_wrong_checkpoint_exits_2(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 1, "report": "No effusion."}) + "\n")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00\x01garbage")
    proc = subprocess.run([sys.executable, "-m", "radrl.cli", "label", str(src), "-o", str(tmp_path / "o.jsonl"),
                           "--labeler", "chexbert", "--weights", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "bad.pth" in proc.stderr and "Traceback" not in proc.stderr


# -- text handling -----------------------------------------------------------------------------------

def test_cleaning_matches_chexbert_and_keeps_a_map_to_the_original():
    text = "  No  pneumothorax.\n\n Small\teffusion. "
    cleaned, index = clean_report_with_map(text)
    assert cleaned == "No pneumothorax. Small effusion." == clean_report(text)
    assert "".join(text[i] if not text[i].isspace() else " " for i in index) == cleaned
    assert clean_report(None) == "" and clean_report_with_map("   ") == ("", [])


def test_truncation_at_512_tokens_and_empty_reports():
    lab = tiny_random_labeler(WORDS)
    long_text = " ".join(["no pleural effusion ."] * 300)
    enc = lab.encode([long_text, "", "   "])
    assert len(enc[0].ids) == MAX_TOKENS and enc[0].ids[-1] == lab.tokenizer.sep_token_id
    assert enc[1].ids == enc[2].ids == [lab.tokenizer.cls_token_id, lab.tokenizer.sep_token_id]
    text = "No  pneumothorax.\nXXXX héart"
    spans = lab.encode([text])[0].spans
    pieces = [text[a:b] for a, b in spans]
    assert pieces == ["", "No", "pneumo", "thorax", ".", "XXXX", "héart", ""]


def test_no_finding_head_has_two_classes():
    logits = [torch.tensor([[0.0, 5.0, 0.0, 0.0], [0.0, 0.0, 5.0, 0.0]])] * 13 + [torch.tensor([[0.0, 1.0],
                                                                                                 [1.0, 0.0]])]
    first, second = logits_to_labels(logits)
    assert first[NO_FINDING] == "positive" and second[NO_FINDING] == "blank"
    assert first["Cardiomegaly"] == "positive" and second["Cardiomegaly"] == "negative"


# -- training on silver labels ---------------------------------------------------------------------

def test_trained_labeler_agrees_with_the_rule_labeler(trained):
    out, card = trained
    assert (out / "labeler" / "model.safetensors").is_file() and (out / "labeler" / "vocab.txt").is_file()
    assert json.loads((out / "agreement.json").read_text())["n"] == card["n_heldout_reports"] == 40
    assert card["agreement"]["macro_f1"] > 0.8, card["agreement"]
    lab = get_labeler("chexbert", str(out), device="cpu")  # the run folder resolves to OUT/labeler
    assert lab.label("There is a large left pleural effusion.")["Pleural Effusion"] == "positive"
    assert lab.label("No pleural effusion.")["Pleural Effusion"] == "negative"


def test_labeler_agreement_by_hand():
    from radrl.metrics.agreement import labeler_agreement

    blank = {o: "blank" for o in OBSERVATIONS}
    ref = [{**blank, "Edema": "positive"}, {**blank, "Edema": "negative"}, {**blank, "Edema": "positive"}]
    pred = [{**blank, "Edema": "positive"}, {**blank, "Edema": "positive"}, {**blank, "Edema": "blank"}]
    a = labeler_agreement(pred, ref)
    edema = a["per_label"]["Edema"]
    # positive: TP 1, FP 1, FN 1 -> 0.5; negative: TP 0, FN 1 -> 0; weighted (2 * 0.5 + 1 * 0) / 3
    assert edema["positive_f1"] == pytest.approx(0.5) and edema["negative_f1"] == 0.0
    assert edema["f1"] == pytest.approx(1 / 3)
    assert a["macro_f1"] == pytest.approx(1 / 3) and a["exact"] == pytest.approx(1 / 3)
    assert a["per_label"]["Cardiomegaly"]["f1"] is None


# -- saliency (DEER eq. 9-12) ------------------------------------------------------------------------

def test_saliency_is_the_norm_of_the_embedding_gradient():
    """Eq. 10-11 checked by finite differences: moving e_j along g_j/|g_j| by h changes S by ~h|g_j|."""
    lab = tiny_random_labeler(WORDS, seed=1)
    lab.model.double()
    text, targets = "There is a large left pleural effusion.", [OBSERVATION_INDEX["Pleural Effusion"], 1]
    (_, scores), = lab.saliency([text], [targets])
    ids = torch.tensor([lab.encode([text])[0].ids])
    emb = lab.model.bert.embeddings.word_embeddings(ids).detach()

    def score(e):
        heads = lab.model(inputs_embeds=e, attention_mask=torch.ones_like(ids)).logits
        return sum(heads[c][0, 1] for c in targets)

    e = emb.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(score(e), e)
    j = int(scores[1:-1].argmax()) + 1
    h = 1e-5
    step = torch.zeros_like(emb)
    step[0, j] = grad[0, j] / grad[0, j].norm()
    numeric = (score(emb + h * step) - score(emb - h * step)) / (2 * h)
    assert float(numeric) == pytest.approx(float(scores[j]), rel=1e-4)
    assert torch.allclose(scores.double(), grad[0].norm(dim=-1), rtol=1e-6)
    (_, none), = lab.saliency([text], [[]])
    assert torch.count_nonzero(none) == 0


@pytest.mark.slow
def test_the_token_that_drives_a_label_gets_the_largest_weight(tmp_path):
    """A hand-made corpus where only the finding words carry the labels: every other word occurs
    equally with every finding. The trained labeler's saliency must pick the finding words."""
    import itertools

    from radrl.training.labeler import LabelerTrainSettings, train_labeler

    fillers = ["There is a", "We see a", "Redemonstrated is a", "Again noted is a", "Interval increase in a",
               "Stable appearance of a", "Findings show a", "Today there is a", "Compared to prior, a", "Persistent"]
    sizes = ["small", "large", "moderate", "tiny", "new"]
    findings = ["pleural effusion", "pneumothorax", "opacity", "nodule", "rib fracture"]
    corpus = [f"{f} {s} {x}." for f, s, x in itertools.product(fillers, sizes, findings)]
    train_labeler(corpus, tmp_path, LabelerTrainSettings(epochs=20, learning_rate=3e-3, vocab_size=200),
                  progress=False)
    lab = get_labeler("chexbert", str(tmp_path), device="cpu")
    cases = [("There is a large pleural effusion.", "Pleural Effusion", {"pleural", "effusion"}),
             ("We see a small pneumothorax.", "Pneumothorax", {"pneumothorax"}),
             ("Persistent new rib fracture.", "Fracture", {"rib", "fracture"})]
    for text, finding, drivers in cases:
        (spans, scores), = lab.saliency([text], [[OBSERVATION_INDEX[finding]]])
        words = {text[a:b]: float(s) for (a, b), s in zip(spans, scores) if b > a}
        top = max(words, key=words.get)
        assert top in drivers, words
        assert words[top] > 3 * max(v for w, v in words.items() if w not in drivers), words


def test_offset_alignment_by_hand():
    # labeler tokens: "pneumo" [0,6) "thorax" [6,12) "." [12,13); policy tokens: "pne" "umothorax." and a special
    aligned = align_scores_by_offsets([(0, 0), (0, 6), (6, 12), (12, 13), (0, 0)], [9.0, 1.0, 3.0, 0.5, 9.0],
                                      [(0, 3), (3, 13), (13, 13)])
    assert aligned.tolist() == [1.0, 3.0, 0.0]
    assert align_scores_by_offsets([], [], [(0, 2)]).tolist() == [0.0]


def test_offset_alignment_across_two_tokenizers_with_unicode_and_xxxx():
    """BERT WordPiece (labeler) vs the tiny model's byte-level BPE (policy)."""
    from transformers import AutoTokenizer

    from radrl.algorithms.saliency import token_char_spans
    from radrl.assets import tiny_sft_checkpoint

    policy = AutoTokenizer.from_pretrained(tiny_sft_checkpoint())
    lab = tiny_random_labeler(WORDS)
    text = "No pneumothorax. XXXX héart — 肺 ok"
    ids = policy(text, add_special_tokens=False)["input_ids"] + [policy.eos_token_id]
    decoded, policy_spans = token_char_spans(policy, ids)
    assert decoded == text
    covered = "".join(text[a:b] for a, b in policy_spans)
    assert covered.replace("é", "").replace("—", "").replace("肺", "") == text.replace("é", "").replace(
        "—", "").replace("肺", "")
    enc = lab.encode([text])[0]
    scores = torch.arange(len(enc.ids), dtype=torch.float32) + 1
    aligned = align_scores_by_offsets(enc.spans, scores, policy_spans)
    for (a, b), got in zip(policy_spans, aligned.tolist()):  # brute force over characters
        want = max([float(s) for (c, d), s in zip(enc.spans, scores) if d > c and c < b and d > a], default=0.0)
        assert got == want
    by_piece = {}
    for (a, b), got in zip(policy_spans, aligned.tolist()):
        by_piece.setdefault(text[a:b], set()).add(got)
    xxxx = next(float(s) for (c, d), s in zip(enc.spans, scores) if text[c:d] == "XXXX")
    assert {p for p in by_piece if "X" in p} and all(v == {xxxx} for p, v in by_piece.items() if "X" in p)
    assert aligned[-1] == 0.0  # the EOS token (empty span)


def test_saliency_token_weights_by_hand():
    scores = torch.tensor([[0.5, 2.0, 7.0], [3.0, 3.0, 3.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    w = saliency_token_weights(scores, mask, torch.tensor([True, False]), beta=2.0)
    assert w.tolist() == [[2.0, 5.0, 1.0], [1.0, 1.0, 1.0]]


def test_gradient_weigher_gives_weights_only_where_the_reference_has_findings(trained):
    from transformers import AutoTokenizer

    from radrl.algorithms.saliency import GradientTokenWeigher
    from radrl.assets import tiny_sft_checkpoint

    out, _ = trained
    lab = get_labeler("chexbert", str(out), device="cpu")
    policy = AutoTokenizer.from_pretrained(tiny_sft_checkpoint())
    reports = ["There is a large left pleural effusion.", "There is a large left pleural effusion."]
    ids = [policy(r, add_special_tokens=False)["input_ids"] for r in reports]
    batch = torch.tensor([x + [policy.pad_token_id] * 3 for x in ids])
    mask = torch.tensor([[1] * len(x) + [0] * 3 for x in ids])
    weigher = GradientTokenWeigher(lab, policy, beta=1.0)
    w = weigher(batch, mask, ["Small right pleural effusion.", "The lungs are clear."])
    assert w.shape == batch.shape
    assert (w[0, :len(ids[0])] > 1).any() and torch.all(w[0, len(ids[0]):] == 1)
    assert torch.all(w[1] == 1)  # a normal reference: no target, no weighting
    with pytest.raises(ValueError, match="saliency"):
        GradientTokenWeigher(get_labeler("rule"), policy)


def test_rl_trainer_runs_with_gradient_weights_and_trains_a_missing_labeler(tiny_vlm, tiny_bench, tmp_path):
    """The deer recipe (gradient weights) end to end for 2 steps: the labeler is trained first (it is missing),
    shared by the reward and the saliency, and the token weights reach the loss."""
    from radrl.recipe import load_recipe
    from radrl.stages import run_rl

    recipe = load_recipe("deer", tiny=True, overrides=[
        f"model.path={tiny_vlm}", f"data.path={tiny_bench}", "data.limit=16", "data.synthetic=null",
        "data.subset=null", "select=null",  # DDSampling is tested on its own
        f"labeler.weights={tmp_path / 'labeler'}", "labeler.train.epochs=2",
        "rl.per_device_train_batch_size=8", "rl.num_generations=4", "rl.max_completion_length=24",
        "rl.max_steps=2", "rl.save_steps=2", "rl.report_to=[]", "rl.disable_tqdm=true",
        "rl.dataloader_pin_memory=false", "evaluate.limit=2", "evaluate.meteor=false",
        "evaluate.generation.max_new_tokens=8"])
    result = run_rl(recipe, tmp_path / "run")
    assert result["metrics"]["labeler"] == "chexbert"  # evaluation scores with the recipe's labeler, not the rule one
    assert (tmp_path / "labeler" / "labeler" / "model.safetensors").is_file()
    assert (result["model"] / "model.safetensors").is_file()
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    weights = [r["token_weights/mean"] for r in rows if "token_weights/mean" in r]
    assert len(weights) == 2 and all(w >= 1.0 for w in weights)


# -- masking analysis ------------------------------------------------------------------------------

def test_mask_top_tokens_by_hand():
    from radrl.analysis.masking import mask_top_tokens

    text = "no large effusion"
    spans = [(0, 2), (2, 8), (8, 17), (17, 17)]
    g = torch.Generator().manual_seed(0)
    masked, k = mask_top_tokens(text, spans, [0.1, 0.5, 3.0, 99.0], 0.3, g)
    assert (masked, k) == ("no large ", 1)   # ceil(0.3 * 3) = 1 token; the empty span is no candidate
    masked, k = mask_top_tokens(text, spans, [5.0, 0.5, 3.0, 0.0], 0.5, g)
    assert (masked, k) == ("  large ", 2)


def test_masking_table_runs_every_strategy(trained):
    from transformers import AutoTokenizer

    from radrl.analysis.masking import format_masking_table, masking_table
    from radrl.assets import tiny_sft_checkpoint

    out, _ = trained
    lab = get_labeler("chexbert", str(out), device="cpu")
    policy = AutoTokenizer.from_pretrained(tiny_sft_checkpoint())
    reports = toy_reports(8, seed=5)
    refs = ["There is a large left pleural effusion."] * 4 + ["The lungs are clear."] * 4
    result = masking_table(reports, refs, 4, policy, lab, {"rule": get_labeler("rule"), "chexbert": lab})
    assert result["n_reports"] == 4 and set(result["strategies"]) == {"random", "tfidf", "gradient"}
    for row in result["strategies"].values():
        assert 0 <= row["rule"]["label_change_rate"] <= 1 and 0 <= row["chexbert"]["f1_vs_unmasked"] <= 1
    assert "gradient" in format_masking_table(result)


# -- CLI -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_labeler_train_then_label(tmp_path):
    corpus = tmp_path / "reports.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "report": r}) + "\n" for i, r in enumerate(toy_reports(60))))
    out = tmp_path / "lab"
    proc = subprocess.run([sys.executable, "-m", "radrl.cli", "labeler", "train", "--data", f"records:{corpus}",
                           "-o", str(out), "--epochs", "1", "--vocab-size", "200"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "macro F1" in proc.stdout
    labels = tmp_path / "labels.jsonl"
    proc = subprocess.run([sys.executable, "-m", "radrl.cli", "label", str(corpus), "-o", str(labels),
                           "--labeler", "chexbert", "--weights", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(x) for x in labels.read_text().splitlines()]
    assert len(rows) == 60 and set(rows[0]["labels"]) == set(OBSERVATIONS)


def test_the_trained_vocabulary_is_the_same_on_every_run(tmp_path):
    """Before: tokenizers' WordPiece trainer broke ties by hash order, so every run trained a
    different vocabulary, hence a different labeler (and a flaky agreement test)."""
    from radrl.training.labeler import train_wordpiece_vocab

    texts = toy_reports()
    vocabs = [train_wordpiece_vocab(texts, 300, tmp_path / str(i)).read_text().split("\n") for i in range(3)]
    assert vocabs[0] == vocabs[1] == vocabs[2]
    assert vocabs[0][:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and "effusion" in vocabs[0]
