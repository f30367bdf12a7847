"""``radrl labeler train``: a CheXbert-architecture labeler trained on silver labels, the way
CheXbert itself was first trained (on the CheXpert rule labeler's output; Smit et al., 2020, §3).

Steps: distinct report texts are shuffled and split into train / held-out; the rule labeler
gives the silver labels; a WordPiece vocabulary is trained on the training reports (or a given
``vocab.txt`` is used, or the tokenizer and weights of a local BERT with ``init``); the model
(``SIZES``: tiny, small, base) is trained with transformers' ``Trainer`` (cross-entropy averaged
over the 14 heads; resumable checkpoints); finally its agreement with the rule labeler on the
held-out reports is measured. Output folder::

    OUT/labeler/            config.json, model.safetensors, vocab.txt, labeler_card.json
                            (``--weights OUT`` or ``--weights OUT/labeler``)
    OUT/agreement.json      per label and macro agreement on the held-out reports
    OUT/checkpoints/        training checkpoints (``--resume`` continues from the newest)
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from radrl.config.sections import LabelerTrainSettings
from radrl.io import atomic_write_json
from radrl.labelers.chexbert import (
    MAX_TOKENS,
    SIZES,
    ChexbertLabeler,
    ChexbertModel,
    clean_report,
    encode_reports,
    load_tokenizer,
    save_labeler_folder,
)
from radrl.schema import NO_FINDING, OBSERVATIONS, POSITIVE, to_chexbert_classes


def split_reports(reports: Sequence[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Distinct non-empty cleaned texts, shuffled, split into (train, held-out): a report that
    occurs twice never lands on both sides."""
    distinct = list(dict.fromkeys(t for t in (clean_report(r) for r in reports) if t))
    if len(distinct) < 10:
        raise ValueError(f"need at least 10 distinct non-empty reports to train a labeler, got {len(distinct)}")
    random.Random(seed).shuffle(distinct)
    n_val = max(1, round(len(distinct) * val_fraction))
    return distinct[n_val:], distinct[:n_val]


def silver_classes(labels: dict) -> list[int]:
    """Class ids for the 14 heads (No Finding: 1 if positive, else 0)."""
    classes = to_chexbert_classes(labels)
    classes[-1] = 1 if labels.get(NO_FINDING) == POSITIVE else 0
    return classes


def train_wordpiece_vocab(texts: Sequence[str], vocab_size: int, folder: Path) -> Path:
    """A lower-cased BERT WordPiece vocabulary of ``texts``, the same for the same texts: the
    special tokens, every character alone and as a ``##`` continuation (so no word is [UNK]), then
    the words seen at least twice, most frequent first (ties alphabetical), up to ``vocab_size``.
    Words are split as BERT's tokenizer splits them (its normalizer and pre-tokenizer). (``tokenizers``' WordPiece trainer breaks
    ties by hash order, so it gave another vocabulary, and another labeler, on every run.)"""
    from collections import Counter

    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    normalize, split = BertNormalizer(lowercase=True), BertPreTokenizer()
    words = Counter(w for text in texts for w, _ in split.pre_tokenize_str(normalize.normalize_str(text)))
    chars = Counter()
    for word, count in words.items():
        for ch in word:
            chars[ch] += count
    by_frequency = sorted(chars, key=lambda c: (-chars[c], c))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *by_frequency, *(f"##{c}" for c in by_frequency)]
    taken = set(vocab)
    for word in sorted((w for w, n in words.items() if n >= 2), key=lambda w: (-words[w], w)):
        if len(vocab) >= vocab_size:
            break
        if word not in taken:
            vocab.append(word)
            taken.add(word)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    return path


def _build_model(settings: LabelerTrainSettings, train_texts: Sequence[str], work: Path):
    from transformers import BertConfig, BertModel

    if settings.init:
        init = Path(settings.init)
        vocab = Path(settings.vocab) if settings.vocab else init / "vocab.txt"
        tokenizer = load_tokenizer(vocab)
        config = BertConfig.from_pretrained(init)
        model = ChexbertModel(config)
        model.bert.load_state_dict(BertModel.from_pretrained(init, add_pooling_layer=True).state_dict())
        return model, tokenizer
    vocab = Path(settings.vocab) if settings.vocab else train_wordpiece_vocab(train_texts, settings.vocab_size, work)
    tokenizer = load_tokenizer(vocab)
    torch.manual_seed(settings.seed)
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=MAX_TOKENS, **SIZES[settings.size])
    return ChexbertModel(config), tokenizer


def train_labeler(reports: Sequence[str], out: str | Path, settings: LabelerTrainSettings | None = None,
                  resume: bool = False, progress: bool = True) -> dict:
    """Train, save ``OUT/labeler``, measure agreement on held-out reports. Returns the card."""
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from radrl.labelers.rule import RuleLabeler
    from radrl.metrics.agreement import labeler_agreement
    from radrl.training.checkpoints import NativeLayoutCheckpoints, latest_checkpoint

    settings = settings or LabelerTrainSettings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train_texts, val_texts = split_reports(reports, settings.val_fraction, settings.seed)
    teacher = RuleLabeler()
    train_labels = teacher.label_batch(train_texts)
    model, tokenizer = _build_model(settings, train_texts, out / "vocab")

    max_len = min(settings.max_length, MAX_TOKENS)
    ids = [e.ids for e in encode_reports(tokenizer, train_texts, max_len)]
    dataset = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids],
                                 "labels": [silver_classes(lab) for lab in train_labels]})

    cuda = torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=settings.batch_size,
        num_train_epochs=settings.epochs, learning_rate=settings.learning_rate, weight_decay=0.01,
        warmup_steps=max(1, int(0.06 * settings.epochs * len(ids) / settings.batch_size)),
        lr_scheduler_type="linear", logging_steps=20, save_strategy="epoch", save_total_limit=1,
        report_to=[], seed=settings.seed, disable_tqdm=not progress, bf16=cuda and torch.cuda.is_bf16_supported(),
        dataloader_pin_memory=cuda, train_sampling_strategy="group_by_length",
    )

    class LabelerTrainer(NativeLayoutCheckpoints, Trainer):
        pass

    trainer = LabelerTrainer(model=model, args=args, train_dataset=dataset,
                             data_collator=DataCollatorWithPadding(tokenizer))
    checkpoint = latest_checkpoint(out / "checkpoints") if resume else None
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_seconds = time.perf_counter() - t0

    trained = ChexbertLabeler(trainer.model, tokenizer)
    agreement = labeler_agreement(trained.label_batch(val_texts), teacher.label_batch(val_texts))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    card = {
        "architecture": "CheXbert (BERT + 13 x 4-class heads + 1 x 2-class head)",
        "settings": asdict(settings),
        "config": {k: getattr(model.config, k) for k in ("vocab_size", "hidden_size", "num_hidden_layers",
                                                          "num_attention_heads", "intermediate_size")},
        "parameters": sum(p.numel() for p in model.parameters()),
        "teacher": "rule",
        "n_train_reports": len(train_texts),
        "n_heldout_reports": len(val_texts),
        "train_seconds": round(train_seconds, 1),
        "final_loss": losses[-1] if losses else None,
        "agreement_heldout": {"macro_f1": agreement["macro_f1"], "macro_positive_f1": agreement["macro_positive_f1"],
                              "exact": agreement["exact"]},
        "observations": list(OBSERVATIONS),
    }
    save_labeler_folder(trained.model.cpu(), tokenizer, out / "labeler", card)
    atomic_write_json(out / "agreement.json", agreement)
    return {**card, "agreement": agreement}
