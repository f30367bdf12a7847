"""Token character spans for gradient DiTPO weights: the linear-time incremental decoder equals
the prefix-decoding definition (kept here as the reference) on real reports, unicode and random ids."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radrl.algorithms.saliency import token_char_spans


def prefix_spans(tokenizer, ids):
    """The quadratic definition radrl used before: decode every prefix."""
    ids = [int(i) for i in ids]
    text = tokenizer.decode(ids, skip_special_tokens=True)
    prefixes = tokenizer.batch_decode([ids[:k] for k in range(1, len(ids) + 1)], skip_special_tokens=True)
    spans, previous = [], 0
    for prefix in prefixes:
        end = len(prefix.rstrip("\ufffd"))
        end = max(previous, min(end, len(text)))
        if end > previous:
            spans.append((previous, end))
        elif len(prefix) > end and end < len(text):
            spans.append((end, end + 1))
        else:
            spans.append((end, end))
        previous = end
    return text, spans


@pytest.fixture(scope="module")
def policy_tokenizer():
    from transformers import AutoTokenizer

    from radrl.assets import tiny_sft_checkpoint

    return AutoTokenizer.from_pretrained(tiny_sft_checkpoint())


UNICODE = ["No pneumothorax. XXXX héart — 肺 ok", "Température 38°C, naïve façade; ñ ü ß", "emoji 🫁 lungs 🙂.",
           "   leading spaces and\nnew lines\t tabs  ", "", "...", "é"]


def test_equal_to_prefix_decoding_on_unicode(policy_tokenizer):
    for text in UNICODE:
        ids = policy_tokenizer(text, add_special_tokens=False)["input_ids"] + [policy_tokenizer.eos_token_id]
        assert token_char_spans(policy_tokenizer, ids) == prefix_spans(policy_tokenizer, ids), text


def test_equal_to_prefix_decoding_on_real_reports(policy_tokenizer, shared_data):
    reports = []
    for path in sorted(shared_data.rglob("*.jsonl"))[:3]:
        for line in path.read_text(encoding="utf-8").splitlines()[:40]:
            row = json.loads(line)
            value = row.get("report") or row.get("findings") or ""
            if isinstance(value, str) and value:
                reports.append(value)
    impressions = shared_data / "radeval_impressions" / "refs_chexpert_impression.txt"
    if impressions.is_file():
        reports += impressions.read_text(encoding="utf-8").splitlines()[:200]
    if not reports:
        pytest.skip("no report text in ../shared/data")
    for text in reports:
        ids = policy_tokenizer(text, add_special_tokens=False)["input_ids"]
        assert token_char_spans(policy_tokenizer, ids) == prefix_spans(policy_tokenizer, ids)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_equal_to_prefix_decoding_on_random_ids(policy_tokenizer, data):
    """Any id sequence, broken UTF-8 and special tokens in the middle included."""
    ids = data.draw(st.lists(st.integers(0, len(policy_tokenizer) - 1), min_size=1, max_size=40))
    assert token_char_spans(policy_tokenizer, ids) == prefix_spans(policy_tokenizer, ids)


def test_no_tokens_no_spans(policy_tokenizer):
    # (the prefix method gave one span here: batch_decode([]) returns [''])
    assert token_char_spans(policy_tokenizer, []) == ("", [])


def test_equal_to_prefix_decoding_with_a_wordpiece_tokenizer(tmp_path):
    from transformers import BertTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "no", "pneum", "##oth", "##orax",
                                ".", ",", "small", "effusion", "##s", "left"]) + "\n")
    tok = BertTokenizer(str(vocab))
    for text in ("No pneumothorax. Small effusions, left.", "no pneumothorax , left ."):
        ids = tok(text)["input_ids"]
        assert token_char_spans(tok, ids) == prefix_spans(tok, ids)
