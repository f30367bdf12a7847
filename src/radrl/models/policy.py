"""Load a policy VLM (any image-text-to-text model) with its processor, LoRA and freezing.

``load_policy("Qwen/Qwen2.5-VL-3B-Instruct")`` on a machine with the hub cache, or a local
folder (the tiny demo model, a fine-tuned checkpoint) works the same way. Remote code is never
run unless ``trust_remote_code=True`` is asked for; weights load from safetensors.

Freezing (``freeze``):

=============  ========================================================================
``none``       train everything (the tiny model trained from scratch)
``lm``         train the vision encoder and the projector, freeze the language model
               (DEER's SFT cold start)
``vision``     freeze the vision encoder (projector and language model train)
``all``        freeze everything that LoRA does not add (the usual LoRA set-up)
=============  ========================================================================

Precision: weights load in float32 by default, as TRL loads a model it builds itself; bf16
compute on a GPU comes from autocast (``TrainingArguments.bf16``). A hub checkpoint stored in
bf16 and trained as bf16 weights at DEER's lr 1e-6 barely moves (:func:`low_precision_warning`).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import torch

from radrl.config.sections import LoraSettings
from radrl.io import ConfigError, InputError

FREEZE_CHOICES = ("none", "lm", "vision", "all")
# name fragments of vision-encoder and projector parameters in transformers' VLMs
VISION_KEYS = ("visual.", "vision_tower", "vision_model", "vision_encoder")
PROJECTOR_KEYS = ("visual.merger", "multi_modal_projector", "mm_projector", "connector")


def part_of(name: str) -> str:
    """``projector``, ``vision`` or ``lm`` for a parameter name."""
    if any(k in name for k in PROJECTOR_KEYS):
        return "projector"
    if any(k in name for k in VISION_KEYS):
        return "vision"
    return "lm"


def apply_freezing(model: torch.nn.Module, freeze: str) -> dict[str, int]:
    """Set ``requires_grad`` by part; returns trainable parameter counts per part."""
    if freeze not in FREEZE_CHOICES:
        raise ValueError(f"freeze must be one of {', '.join(FREEZE_CHOICES)}; got {freeze!r}")
    counts = {"vision": 0, "projector": 0, "lm": 0}
    for name, p in model.named_parameters():
        part = part_of(name)
        train = {"none": True, "lm": part != "lm", "vision": part != "vision", "all": False}[freeze]
        p.requires_grad_(train)
        if train:
            counts[part] += p.numel()
    return counts


def trainable_summary(model: torch.nn.Module) -> str:
    total = sum(p.numel() for p in model.parameters())
    train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return f"{train:,} of {total:,} parameters trainable ({100 * train / max(total, 1):.1f} %)"


def load_policy(
    name_or_path: str,
    *,
    freeze: str = "none",
    lora: LoraSettings | None = None,
    dtype: str | torch.dtype = "float32",
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
    processor_kwargs: dict | None = None,
    seed: int = 0,
):
    """(model, processor) for any image-text-to-text checkpoint.

    ``freeze`` is applied first; ``lora`` then wraps the model with peft (adapters trainable).
    The adapters' random initial values are drawn from ``seed``, not from whatever state this
    process's generator is in: every rank of a launch builds the same adapters, and so does every
    run. DDP would hide a difference (it broadcasts rank 0's parameters); FSDP2 would not (it
    shards each rank's own values, so the policy became a mix of two initialisations).
    """
    from transformers import AutoModelForImageTextToText

    from radrl.models.processor import load_processor

    kwargs = {"trust_remote_code": trust_remote_code, "dtype": _torch_dtype(dtype)}
    if attn_implementation == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        raise ConfigError("model.attn_implementation: flash_attention_2 needs the flash-attn package "
                          "(pip install flash-attn); sdpa needs nothing")
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    check_model_source(name_or_path)
    try:
        model = AutoModelForImageTextToText.from_pretrained(name_or_path, **kwargs)
    except Exception as exc:
        if type(exc).__name__ == "SafetensorError" or "safetensors" in str(exc).lower():
            raise InputError(f"{name_or_path}: its weights do not load ({str(exc).splitlines()[0]}); a truncated or "
                             "corrupt model.safetensors: copy or save the model again") from None
        raise
    processor = load_processor(name_or_path, trust_remote_code=trust_remote_code, **(processor_kwargs or {}))
    apply_freezing(model, freeze if lora is None else "all")
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        if freeze not in ("all", "none"):
            # keep the requested non-LoRA parts trainable beside the adapters
            keep = [n for n, _ in model.named_parameters() if (freeze == "lm" and part_of(n) != "lm")
                    or (freeze == "vision" and part_of(n) != "vision")]
        else:
            keep = []
        config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                            target_modules=_language_targets(model, lora.target_modules), task_type="CAUSAL_LM")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = get_peft_model(model, config)
        for n, p in model.named_parameters():
            if any(n.endswith(k) for k in keep):
                p.requires_grad_(True)
    return model, processor


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_model_source(name_or_path: str) -> None:
    """A clear error, before transformers looks anything up, for a model that is neither a model
    folder nor a hub id: a file, a folder without ``config.json``, a missing local path (a typo
    like ``tiny_sft`` would otherwise be looked up on the Hub)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        raise InputError(f"{name_or_path} is a file; a model is a folder with config.json and model.safetensors")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"{name_or_path}: no config.json; a model folder is what save_pretrained writes "
                             "(e.g. RUN/final)")
        return
    if not _HUB_ID.match(str(name_or_path)):
        raise InputError(f"{name_or_path}: no such model folder (nor a hub id like Qwen/Qwen2.5-VL-3B-Instruct; "
                         "tiny-sft names the shipped tiny model)")


def load_policy_for_inference(name_or_path: str, *, trust_remote_code: bool = False, device: str | None = None,
                              attn_implementation: str | None = None, processor_kwargs: dict | None = None):
    """(model, processor) ready to generate: evaluation mode, on ``device`` (default: the GPU when
    there is one), in bf16 on a GPU that supports it (float32 on a CPU)."""
    from radrl.assets import resolve_model_path

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
    model, processor = load_policy(resolve_model_path(name_or_path), trust_remote_code=trust_remote_code, dtype=dtype,
                                   attn_implementation=attn_implementation, processor_kwargs=processor_kwargs)
    return model.to(device).eval(), processor


LOW_PRECISION_LR = 1e-4


def _torch_dtype(dtype: str | torch.dtype) -> str | torch.dtype:
    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ConfigError(f"unknown dtype {dtype!r}; use float32, bfloat16, float16 or auto")
    return getattr(torch, dtype)


def low_precision_warning(model: torch.nn.Module, learning_rate: float) -> str | None:
    """A warning when trainable weights are bf16/fp16 and the learning rate is small: AdamW's
    update (about ``lr`` per element) is below half a bf16 ulp of most weights and rounds away,
    so the model silently does not train. ``None`` when all is well."""
    low = {p.dtype for p in model.parameters() if p.requires_grad and p.dtype in (torch.bfloat16, torch.float16)}
    if not low or learning_rate >= LOW_PRECISION_LR:
        return None
    names = ", ".join(sorted(str(d).replace("torch.", "") for d in low))
    return (f"trainable weights are {names} and the learning rate is {learning_rate:g}: most updates round away "
            "and the model barely moves. Load the weights in float32 (model.dtype: float32, the default) and "
            "let autocast compute in bf16 (rl.bf16 / TrainingArguments.bf16)")


def _language_targets(model: torch.nn.Module, names: list[str]) -> list[str]:
    """Full module names of the LM's linear layers called ``names`` (LoRA must not touch the
    vision tower, whose attention also has q/k/v-like names in some models)."""
    out = []
    for mod_name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and mod_name.split(".")[-1] in names and part_of(mod_name + ".") == "lm":
            out.append(mod_name)
    if not out:
        raise ValueError(f"no language-model linear layers named {names} in {type(model).__name__}")
    return out
