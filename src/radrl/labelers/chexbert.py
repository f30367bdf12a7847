"""CheXbert-architecture labeler (Smit et al., 2020): BERT + 14 linear heads on the [CLS] state.

Architecture (as in stanfordmlgroup/CheXbert ``models/bert_labeler.py``): a ``BertModel``, dropout
0.1 on the final [CLS] hidden state, 13 heads of 4 classes (0 blank, 1 positive, 2 negative,
3 uncertain) for the findings and Support Devices, and 1 head of 2 classes (0 blank, 1 positive)
for No Finding, in :data:`radrl.schema.OBSERVATIONS` order.

Two checkpoint layouts load with :meth:`ChexbertLabeler.from_checkpoint`:

* the **official** ``chexbert.pth``: ``torch.save`` of a dict whose ``model_state_dict`` holds the
  weights of an ``nn.DataParallel``-wrapped model (keys ``module.bert.*`` and
  ``module.linear_heads.{0..13}.*``). It is read with ``weights_only=True`` and checked key by key.
  The tokenizer is bert-base-uncased's ``vocab.txt``: pass ``vocab=``, or put it next to the file,
  or have bert-base-uncased in the local Hugging Face cache (never downloaded).
* a **radrl** folder written by ``radrl labeler train`` (``config.json``, ``model.safetensors``,
  ``vocab.txt``, ``labeler_card.json``).

Input text is cleaned as CheXbert does (strip, newlines to spaces, runs of whitespace to one
space) and cut at 512 tokens (511 + [SEP]); an empty report is ``[CLS] [SEP]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertModel, BertTokenizer
from transformers.modeling_outputs import ModelOutput
from transformers.models.bert.modeling_bert import BertPreTrainedModel

from radrl.io import InputError
from radrl.labelers.base import CachedLabeler
from radrl.schema import (
    BLANK,
    CHEXBERT_VALUE,
    NO_FINDING,
    NUM_OBSERVATIONS,
    OBSERVATIONS,
    POSITIVE,
    Labels,
)

MAX_TOKENS = 512
NUM_CLASSES = (4,) * (NUM_OBSERVATIONS - 1) + (2,)
"""Classes per head: 4 for the 13 findings + Support Devices, 2 (blank, positive) for No Finding."""

SIZES: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256},
    "small": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
}
"""Labeler sizes for ``radrl labeler train``; ``base`` is bert-base, the size of the official CheXbert."""

_WHITESPACE = re.compile(r"\s+")


class CheckpointError(InputError):
    """A labeler checkpoint that is not what it should be (the message names the file)."""


def clean_report(text: str | None) -> str:
    """CheXbert's cleaning: strip, newlines to spaces, whitespace runs to one space, strip."""
    return clean_report_with_map(text)[0]


def clean_report_with_map(text: str | None) -> tuple[str, list[int]]:
    """The cleaned text and, for each of its characters, its index in ``text`` (so character
    offsets of the labeler's tokens can be mapped back to the original report)."""
    text = "" if text is None else str(text)
    out: list[str] = []
    index: list[int] = []
    for match in re.finditer(r"\S+", text):
        if out:
            out.append(" ")
            index.append(match.start() - 1)
        out.append(match.group())
        index.extend(range(match.start(), match.end()))
    return "".join(out), index


@dataclass
class ChexbertOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: tuple[torch.Tensor, ...] | None = None


class ChexbertModel(BertPreTrainedModel):
    """BERT encoder + 14 heads on [CLS]. Module names match the official checkpoint (``bert``,
    ``linear_heads``), so its state dict loads without renaming."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=True)  # the official weights include the pooler
        self.dropout = nn.Dropout(0.1)
        self.linear_heads = nn.ModuleList([nn.Linear(config.hidden_size, n) for n in NUM_CLASSES])
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, labels=None, **kwargs):
        """``labels``: (B, 14) class ids -> loss = mean over heads of the cross-entropy."""
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                           return_dict=True).last_hidden_state
        cls = self.dropout(hidden[:, 0])
        logits = tuple(head(cls) for head in self.linear_heads)
        loss = None
        if labels is not None:
            loss = sum(F.cross_entropy(lg, labels[:, i]) for i, lg in enumerate(logits)) / len(logits)
        return ChexbertOutput(loss=loss, logits=logits)


def logits_to_labels(logits: Sequence[torch.Tensor]) -> list[Labels]:
    """Arg-max of each head -> label values (No Finding: class 1 positive, else blank)."""
    classes = torch.stack([lg.argmax(-1) for lg in logits], dim=1).tolist()
    out = []
    for row in classes:
        labels = {name: CHEXBERT_VALUE[c] for name, c in zip(OBSERVATIONS[:-1], row[:-1])}
        labels[NO_FINDING] = POSITIVE if row[-1] == 1 else BLANK
        out.append(labels)
    return out


# ---------------------------------------------------------------------------------------------
# Official checkpoint layout
# ---------------------------------------------------------------------------------------------

_IGNORED_KEYS = ("bert.embeddings.position_ids",)  # a buffer older transformers versions saved


def read_official_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The weights of a ``chexbert.pth``-layout file, ``module.`` prefixes removed."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file (expected CheXbert's chexbert.pth or a folder written by "
                              "`radrl labeler train`)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - pickle errors, zip errors, refused globals: all mean "not loadable"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a PyTorch checkpoint that loads with weights_only=True ({first}). "
                              "radrl never unpickles arbitrary objects; re-save the state dict with torch.save") from None
    if not isinstance(obj, dict) or "model_state_dict" not in obj:
        found = sorted(obj)[:6] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: expected a dict with 'model_state_dict' (the layout of CheXbert's "
                              f"chexbert.pth), found {found}")
    state = obj["model_state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: 'model_state_dict' is not a mapping of tensors")
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key not in _IGNORED_KEYS:
            out[key] = value
    return out


def config_from_state_dict(state: dict[str, torch.Tensor], path: str | Path = "checkpoint") -> BertConfig:
    """A ``BertConfig`` read off the tensor shapes (heads: hidden / 64, BERT's convention)."""
    try:
        vocab, hidden = state["bert.embeddings.word_embeddings.weight"].shape
        max_pos = state["bert.embeddings.position_embeddings.weight"].shape[0]
        type_vocab = state["bert.embeddings.token_type_embeddings.weight"].shape[0]
        intermediate = state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0]
    except KeyError as err:
        raise CheckpointError(f"{path}: missing {err.args[0]!r}; this is not a CheXbert (BERT + 14 heads) "
                              "checkpoint") from None
    layers = 1 + max(int(k.split(".")[3]) for k in state if k.startswith("bert.encoder.layer."))
    return BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=max(1, hidden // 64), intermediate_size=intermediate,
                      max_position_embeddings=max_pos, type_vocab_size=type_vocab)


def _shape_problems(expected: dict[str, tuple], found: dict[str, tuple], path) -> None:
    missing = [k for k in expected if k not in found]
    extra = [k for k in found if k not in expected]
    shapes = [f"{k} {tuple(found[k])} vs {tuple(v)}" for k, v in expected.items()
              if k in found and tuple(found[k]) != tuple(v)]
    if missing or extra or shapes:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", extra), ("wrong shape", shapes)):
            if keys:
                parts.append(f"{len(keys)} {what} (e.g. {', '.join(keys[:3])})")
        raise CheckpointError(f"{path}: does not match the CheXbert architecture: {'; '.join(parts)}")


def build_checked(config: BertConfig, shapes: dict[str, tuple], path: str | Path) -> ChexbertModel:
    """The model ``config`` describes, built only once its parameter shapes match the weights'
    ``shapes``: the check runs on the meta device (no memory), so a ``config.json`` with huge
    sizes is refused before it allocates anything."""
    with torch.device("meta"):
        skeleton = ChexbertModel(config)
    _shape_problems({k: tuple(v.shape) for k, v in skeleton.state_dict().items()}, shapes, path)
    return ChexbertModel(config)


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors; a truncated or corrupt file is a :class:`CheckpointError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: not a complete safetensors file ({exc}); copy it again or "
                              "re-save the labeler") from None


def load_state_dict_strict(model: ChexbertModel, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Load with every key checked; a clear error listing what is missing, extra or mis-shaped."""
    _shape_problems({k: tuple(v.shape) for k, v in model.state_dict().items()},
                    {k: tuple(v.shape) for k, v in state.items()}, path)
    model.load_state_dict(state, strict=True)


def save_official_checkpoint(model: ChexbertModel, path: str | Path) -> Path:
    """Write ``model`` in the official ``chexbert.pth`` layout (DataParallel ``module.`` keys),
    atomically. Lets a radrl-trained labeler be used by CheXbert's own scripts."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {f"module.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"epoch": 0, "model_state_dict": state}, tmp)
    tmp.replace(path)
    return path


def find_vocab(checkpoint: Path, vocab: str | Path | None) -> Path:
    """vocab.txt for an official checkpoint: given, next to the file, or bert-base-uncased in the
    local Hugging Face cache (looked up offline only)."""
    if vocab is not None:
        vocab = Path(vocab)
        if not vocab.is_file():
            raise CheckpointError(f"{vocab}: no such vocab file")
        return vocab
    beside = checkpoint.parent / "vocab.txt"
    if beside.is_file():
        return beside
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache("bert-base-uncased", "vocab.txt")
        if isinstance(cached, str) and Path(cached).is_file():
            return Path(cached)
    except Exception:  # noqa: BLE001, S110 - no cache, no hub library: fall through to the error
        pass
    raise CheckpointError(f"{checkpoint}: CheXbert needs bert-base-uncased's vocab.txt; put it next to the "
                          "checkpoint or pass vocab=PATH (radrl downloads nothing)")


def load_tokenizer(vocab: str | Path) -> BertTokenizer:
    return BertTokenizer(vocab=str(vocab), do_lower_case=True)


def write_vocab(tokenizer: BertTokenizer, path: str | Path) -> None:
    from radrl.io import atomic_write_text

    vocab = tokenizer.get_vocab()
    atomic_write_text(path, "".join(tok + "\n" for tok, _ in sorted(vocab.items(), key=lambda kv: kv[1])))


# ---------------------------------------------------------------------------------------------
# The labeler
# ---------------------------------------------------------------------------------------------

@dataclass
class Encoded:
    """One report as the labeler reads it: token ids and each token's span in the original text."""

    ids: list[int]
    spans: list[tuple[int, int]]  # (start, end) in the original text; (0, 0) for [CLS]/[SEP]


def encode_reports(tokenizer: BertTokenizer, texts: Sequence[str], max_len: int = MAX_TOKENS) -> list[Encoded]:
    """CheXbert's cleaning and tokenisation, cut at ``max_len`` tokens ((max_len - 1) + [SEP]);
    each token's span refers to the original, uncleaned text."""
    out = []
    for text in texts:
        cleaned, index = clean_report_with_map(text)
        enc = tokenizer(cleaned, add_special_tokens=True, return_offsets_mapping=True, truncation=False,
                        return_attention_mask=False, return_token_type_ids=False)
        ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
        if len(ids) > max_len:
            ids = ids[:max_len - 1] + [tokenizer.sep_token_id]
            offsets = offsets[:max_len - 1] + [(0, 0)]
        spans = [(index[s], index[e - 1] + 1) if e > s else (0, 0) for s, e in offsets]
        out.append(Encoded(ids, spans))
    return out


def _read_config(folder: Path) -> BertConfig:
    try:
        return BertConfig.from_pretrained(folder)
    except (OSError, ValueError) as exc:  # transformers wraps a broken JSON in OSError/ValueError
        raise CheckpointError(f"{folder / 'config.json'}: not a readable BERT config ({exc})") from None


class ChexbertLabeler(CachedLabeler):
    """Batched CheXbert-architecture labeler (GPU when present), with gradient saliency."""

    name = "chexbert"

    def __init__(self, model: ChexbertModel, tokenizer: BertTokenizer, device: str | torch.device | None = None,
                 batch_size: int | None = None, source: str = "", cache_size: int = 200_000):
        super().__init__(cache_size)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.model.requires_grad_(False)
        self.tokenizer = tokenizer
        self.batch_size = batch_size or (128 if self.device.type == "cuda" else 32)
        self.source = source

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, path: str | Path | None, vocab: str | Path | None = None, **kwargs) -> ChexbertLabeler:
        """Official ``chexbert.pth`` (a file) or a radrl labeler folder."""
        if path is None:
            raise CheckpointError("the chexbert labeler needs --weights PATH: CheXbert's chexbert.pth, or a "
                                  "folder written by `radrl labeler train`")
        path = Path(path)
        if path.is_dir() and not (path / "model.safetensors").is_file() and (path / "labeler").is_dir():
            path = path / "labeler"  # the output folder of `radrl labeler train`
        if path.is_dir():
            if not (path / "model.safetensors").is_file() or not (path / "config.json").is_file():
                raise CheckpointError(f"{path}: a labeler folder needs config.json and model.safetensors "
                                      "(written by `radrl labeler train`)")
            config = _read_config(path)
            state = read_safetensors(path / "model.safetensors")
            model = build_checked(config, {k: tuple(v.shape) for k, v in state.items()}, path / "model.safetensors")
            load_state_dict_strict(model, state, path / "model.safetensors")
            vocab_path = Path(vocab) if vocab else path / "vocab.txt"
            if not vocab_path.is_file():
                raise CheckpointError(f"{path}: no vocab.txt")
            return cls(model, load_tokenizer(vocab_path), source=str(path), **kwargs)
        state = read_official_state_dict(path)
        beside = path.parent / "config.json"
        config = _read_config(path.parent) if beside.is_file() else config_from_state_dict(state, path)
        model = build_checked(config, {k: tuple(v.shape) for k, v in state.items()}, path)
        load_state_dict_strict(model, state, path)
        return cls(model, load_tokenizer(find_vocab(path, vocab)), source=str(path), **kwargs)

    def save(self, folder: str | Path, card: dict | None = None) -> Path:
        """``config.json``, ``model.safetensors``, ``vocab.txt`` (+ ``labeler_card.json``), atomically."""
        return save_labeler_folder(self.model, self.tokenizer, folder, card)

    # -- encoding ------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        """CheXbert's cleaning and tokenisation, cut at 512 tokens (511 + [SEP])."""
        return encode_reports(self.tokenizer, texts, min(MAX_TOKENS, self.model.config.max_position_embeddings))

    def _batches(self, encoded: Sequence[Encoded]):
        """Index batches sorted by length (less padding), and their padded tensors."""
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        pad = self.tokenizer.pad_token_id or 0
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            length = max(len(encoded[i].ids) for i in idx)
            ids = torch.full((len(idx), length), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), length), dtype=torch.long)
            for row, i in enumerate(idx):
                n = len(encoded[i].ids)
                ids[row, :n] = torch.tensor(encoded[i].ids)
                mask[row, :n] = 1
            yield idx, ids.to(self.device), mask.to(self.device)

    # -- labelling -----------------------------------------------------------------------------
    @torch.no_grad()
    def logits(self, texts: Sequence[str]) -> list[tuple[torch.Tensor, ...]]:
        """Per report, the 14 heads' logits (CPU tensors)."""
        encoded = self.encode(texts)
        out: list = [None] * len(texts)
        for idx, ids, mask in self._batches(encoded):
            heads = self.model(input_ids=ids, attention_mask=mask).logits
            for row, i in enumerate(idx):
                out[i] = tuple(h[row].float().cpu() for h in heads)
        return out

    def _label_uncached(self, texts: Sequence[str]) -> list[Labels]:
        per_report = self.logits(texts)
        if not per_report:
            return []
        stacked = [torch.stack([r[h] for r in per_report]) for h in range(NUM_OBSERVATIONS)]
        return logits_to_labels(stacked)

    # -- saliency (DEER eq. 9-11) ----------------------------------------------------------------
    def saliency(self, texts: Sequence[str], targets: Sequence[Sequence[int]]) -> list[tuple[list[tuple[int, int]], torch.Tensor]]:
        """Per report, its labeler tokens' spans (in the original text) and saliency scores.

        S = sum over the target heads c of logit_c^(1) (the positive class), Eq. 9;
        g = dS/dE over the input word embeddings E, Eq. 10; s_j = ||g_j||_2, Eq. 11.
        A report with no target gets all-zero scores. The model runs in eval mode (no dropout),
        so the reports of a batch do not interact and one backward pass serves them all.
        """
        if len(texts) != len(targets):
            raise ValueError(f"{len(texts)} texts but {len(targets)} target lists")
        encoded = self.encode(texts)
        out: list = [None] * len(texts)
        embeddings = self.model.bert.embeddings.word_embeddings
        for idx, ids, mask in self._batches(encoded):
            selector = torch.zeros((len(idx), NUM_OBSERVATIONS), device=self.device)
            for row, i in enumerate(idx):
                for c in targets[i]:
                    if not 0 <= int(c) < NUM_OBSERVATIONS:
                        raise ValueError(f"target head {c} is not in 0..{NUM_OBSERVATIONS - 1}")
                    selector[row, int(c)] = 1.0
            if selector.any():
                embeds = embeddings(ids).detach().requires_grad_(True)
                with torch.enable_grad():
                    heads = self.model(inputs_embeds=embeds, attention_mask=mask).logits
                    positive = torch.stack([h[:, 1] for h in heads], dim=1)          # (B, 14)
                    score = (positive * selector).sum()                              # sum_b S_b
                    (grad,) = torch.autograd.grad(score, embeds)
                scores = grad.float().norm(dim=-1) * mask                           # (B, L)
            else:
                scores = torch.zeros(ids.shape, device=self.device)
            for row, i in enumerate(idx):
                n = len(encoded[i].ids)
                out[i] = (encoded[i].spans, scores[row, :n].detach().cpu())
        return out


def save_labeler_folder(model: ChexbertModel, tokenizer: BertTokenizer, folder: str | Path,
                        card: dict | None = None) -> Path:
    """Write a radrl labeler folder atomically (a crash leaves the old folder or none)."""
    from safetensors.torch import save_file

    from radrl.io import atomic_folder

    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        model.config.save_pretrained(tmp)
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                  tmp / "model.safetensors")
        write_vocab(tokenizer, tmp / "vocab.txt")
        if card is not None:
            (tmp / "labeler_card.json").write_text(json.dumps(card, indent=2) + "\n")
    return folder


def tiny_random_labeler(vocab_tokens: Sequence[str], size: str = "tiny", seed: int = 0, **kwargs) -> ChexbertLabeler:
    """A randomly initialised labeler over a given word-piece vocabulary (tests, benches)."""
    import tempfile

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens = specials + [t for t in dict.fromkeys(vocab_tokens) if t not in specials]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "vocab.txt"
        path.write_text("".join(t + "\n" for t in tokens))
        tokenizer = load_tokenizer(path)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokens), max_position_embeddings=MAX_TOKENS, **SIZES[size])
    return ChexbertLabeler(ChexbertModel(config), tokenizer, **kwargs)
