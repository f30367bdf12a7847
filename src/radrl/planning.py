"""``radrl plan``: what a recipe costs before a GPU is rented. Offline, nothing is loaded but a config.

The policy is built on the meta device from its ``config.json`` (the shipped Qwen2.5-VL-3B/7B
architectures, ``radrl configs``; a local model folder; ``tiny-sft``), so the parameter counts
are exact. Memory is an estimate, per device, in GB (1e9 bytes):

============  ===============================================================================
static        weights + gradients + AdamW states (+ OraPO / KL reference weights). radrl loads
              float32 weights: 4 B/param, gradients 4 B and AdamW 8 B per trainable param.
              ``ddp``: all of it on every device. ``fsdp`` (FSDP2, full shard): all of it / N.
              ``zero2`` / ``zero3`` (accelerate + DeepSpeed in bf16): 2 B/param bf16 weights,
              and fp32 master weights, AdamW and bf16 gradients (4 + 8 + 2 B per trainable
              param) sharded over N; ZeRO-3 shards the bf16 weights too. The reference model is
              whole per device except under ZeRO-3 and FSDP (TRL prepares it sharded there).
activations   the loss forward over ``per_device_train_batch_size`` completions of
              ``max_sequence_tokens``: per token and language layer ``8h + 2kv + 4i`` values,
              per image patch and vision block ``19h_v + 4i_v`` (coefficients measured on the
              tiny model's saved tensors, fp32; bf16 autocast halves them), or, with gradient
              checkpointing, each layer's float32 input plus one layer recomputed.
generation    the KV cache of the rollouts: 2 x kv x layers x 2 B per token.
============  ===============================================================================

peak = static + max(activations, generation) + 1 GB for CUDA context and allocator slack. The
test compares the activation and static terms with what the tiny model really holds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

ENGINES = ("ddp", "zero2", "zero3", "fsdp")
CUDA_OVERHEAD_GB = 1.0
# values saved for backward per token and language layer / per patch and vision block (fp32 count)
LM_VALUES = {"h": 8, "kv": 2, "i": 4}
VISION_VALUES = {"h": 19, "i": 4}
PROMPT_TEXT_TOKENS = 64  # chat template + instruction, without the image tokens
MIMIC_FILM = (3056, 2544)  # width x height of a typical MIMIC-CXR film


@dataclass
class Plan:
    model: str
    params_total: int
    params_trainable: int
    visual_tokens_per_image: int
    images_per_sample: int
    max_sequence_tokens: int
    completions_per_step: int
    prompts_per_step: int
    per_device_completions: int
    gpus: int
    gradient_checkpointing: bool
    reference_model: bool
    memory_gb_per_device: dict[str, float] = field(default_factory=dict)
    parts_gb: dict[str, dict[str, float]] = field(default_factory=dict)
    gpu_memory_gb: float = 80.0
    fits: dict[str, bool] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def architecture_config(path: str):
    """The transformers config of ``model.path`` (or of ``--architecture``): a shipped
    architecture by name or hub id (``Qwen/Qwen2.5-VL-3B-Instruct``), ``tiny-sft``, or a local
    model folder. Never downloads."""
    from transformers import AutoConfig

    from radrl.assets import CONFIGS, resolve_model_path
    from radrl.io import InputError

    name = str(path).rsplit("/", 1)[-1].lower()
    shipped = CONFIGS / "models" / f"{name}.json"
    if shipped.is_file():
        data = json.loads(shipped.read_text())
        data.pop("_radrl_note", None)
        model_type = data.pop("model_type")
        return AutoConfig.for_model(model_type, **data)
    local = Path(resolve_model_path(path))
    if (local / "config.json").is_file():
        return AutoConfig.from_pretrained(local)
    known = ", ".join(p.stem for p in sorted((CONFIGS / "models").glob("*.json")))
    raise InputError(f"model.path {path}: radrl plan reads a local model folder or a shipped architecture "
                     f"({known}; by name or hub id), and never downloads; for a fine-tune of one, pass "
                     "--architecture NAME")


def _meta_model(config):
    import torch
    from transformers import AutoModelForImageTextToText

    with torch.device("meta"):
        return AutoModelForImageTextToText.from_config(config)


def count_params(model, freeze: str, lora) -> tuple[int, int]:
    """(total, trainable) of a (meta) policy under ``freeze`` and ``lora`` as load_policy sets them."""
    from radrl.models.policy import _language_targets, apply_freezing

    total = sum(p.numel() for p in model.parameters())
    if lora is None:
        return total, sum(apply_freezing(model, freeze).values())
    modules = dict(model.named_modules())
    adapters = sum(lora.r * (modules[n].in_features + modules[n].out_features)
                   for n in _language_targets(model, lora.target_modules))
    kept = sum(apply_freezing(model, freeze).values()) if freeze in ("lm", "vision") else 0  # trained beside LoRA
    return total + adapters, adapters + kept


def visual_tokens(config, width: int, height: int, min_pixels: int | None, max_pixels: int | None) -> int:
    """Merged visual tokens of one image after the Qwen2-VL processor's ``smart_resize``."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize  # no torchvision needed

    vision = config.vision_config
    factor = vision.patch_size * vision.spatial_merge_size
    h, w = smart_resize(height, width, factor=factor, min_pixels=min_pixels or 56 * 56,
                        max_pixels=max_pixels or 28 * 28 * 16384)  # the hub processor's default cap
    return (h // factor) * (w // factor)


def _text_dims(config):
    text = getattr(config, "text_config", config)
    kv = text.num_key_value_heads * (text.hidden_size // text.num_attention_heads)
    return text.hidden_size, text.intermediate_size, kv, text.num_hidden_layers


def activation_bytes(config, tokens: int, patches: int, value_bytes: float, checkpointing: bool) -> dict[str, float]:
    """Bytes saved for backward by one loss forward: language model over ``tokens`` tokens,
    vision tower over ``patches`` patches (before the 2x2 merge)."""
    h, i, kv, layers = _text_dims(config)
    vision = config.vision_config
    hv, iv, blocks = vision.hidden_size, vision.intermediate_size, vision.depth
    lm_layer = (LM_VALUES["h"] * h + LM_VALUES["kv"] * kv + LM_VALUES["i"] * i) * value_bytes
    vision_block = (VISION_VALUES["h"] * hv + VISION_VALUES["i"] * iv) * value_bytes
    if checkpointing:  # each layer's float32 input kept, one layer's activations alive in the recompute
        return {"lm": tokens * (layers * 4 * h + lm_layer), "vision": patches * (blocks * 4 * hv + vision_block)}
    return {"lm": tokens * layers * lm_layer, "vision": patches * blocks * vision_block}


def static_bytes(total: int, trainable: int, engine: str, gpus: int, reference: bool) -> dict[str, float]:
    if engine == "ddp":
        parts = {"weights": 4 * total, "gradients": 4 * trainable, "optimizer": 8 * trainable}
        ref = 4 * total
    elif engine == "fsdp":
        parts = {"weights": 4 * total / gpus, "gradients": 4 * trainable / gpus, "optimizer": 8 * trainable / gpus}
        ref = 4 * total / gpus
    elif engine == "zero2":
        parts = {"weights": 2 * total, "gradients": 2 * trainable / gpus, "optimizer": 12 * trainable / gpus}
        ref = 2 * total
    elif engine == "zero3":
        parts = {"weights": 2 * total / gpus, "gradients": 2 * trainable / gpus, "optimizer": 12 * trainable / gpus}
        ref = 2 * total / gpus
    else:
        raise ValueError(f"engine must be one of {ENGINES}")
    parts["reference"] = ref if reference else 0.0
    return parts


def plan_recipe(recipe, gpus: int = 8, gpu_memory_gb: float = 80.0, image_size: tuple[int, int] = MIMIC_FILM,
                images_per_sample: int = 1, architecture: str | None = None) -> Plan:
    """The :class:`Plan` of an RL recipe on ``gpus`` devices of ``gpu_memory_gb``."""
    config = architecture_config(architecture or recipe.model.path)
    model = _meta_model(config)
    total, trainable = count_params(model, recipe.model.freeze, recipe.model.lora)
    rl = recipe.rl.settings
    per_device = int(rl.get("per_device_train_batch_size", 8))
    generations = int(rl.get("num_generations", 8))
    accumulation = int(rl.get("gradient_accumulation_steps", 1))
    completion = int(rl.get("max_completion_length", 256))
    checkpointing = bool(rl.get("activation_checkpointing", rl.get("gradient_checkpointing", False)))
    visual = visual_tokens(config, *image_size, recipe.model.min_pixels, recipe.model.max_pixels)
    sequence = PROMPT_TEXT_TOKENS + images_per_sample * visual + completion
    completions = per_device * gpus * accumulation
    beta = float(rl.get("beta", 0.0))
    from radrl.algorithms.components import COMPONENTS

    frozen = any(COMPONENTS.get(e.type).needs_reference_model for e in recipe.algorithm.entries().values())
    reference = recipe.model.lora is None and (beta != 0.0 or frozen)
    patches = per_device * images_per_sample * visual * config.vision_config.spatial_merge_size ** 2
    acts = activation_bytes(config, per_device * sequence, patches, 2.0, checkpointing)  # bf16 autocast
    h, i, kv, layers = _text_dims(config)
    generation = per_device * sequence * layers * 2 * kv * 2  # the rollouts' bf16 KV cache
    memory, parts = {}, {}
    for engine in ENGINES:
        static = static_bytes(total, trainable, engine, gpus, reference)
        dynamic = max(sum(acts.values()), generation)
        memory[engine] = round((sum(static.values()) + dynamic) / 1e9 + CUDA_OVERHEAD_GB, 1)
        parts[engine] = {**{k: round(v / 1e9, 2) for k, v in static.items()},
                         "activations": round(sum(acts.values()) / 1e9, 2), "kv_cache": round(generation / 1e9, 2)}
    return Plan(model=str(recipe.model.path), params_total=total, params_trainable=trainable,
                visual_tokens_per_image=visual, images_per_sample=images_per_sample, max_sequence_tokens=sequence,
                completions_per_step=completions, prompts_per_step=completions // max(generations, 1),
                per_device_completions=per_device, gpus=gpus, gradient_checkpointing=checkpointing,
                reference_model=reference, memory_gb_per_device=memory, parts_gb=parts, gpu_memory_gb=gpu_memory_gb,
                fits={e: memory[e] <= gpu_memory_gb for e in ENGINES})


def format_plan(plan: Plan) -> str:
    lines = [f"model {plan.model}: {plan.params_total / 1e9:.2f} B parameters, {plan.params_trainable / 1e9:.3f} B "
             f"trainable ({100 * plan.params_trainable / plan.params_total:.1f} %)",
             f"{plan.visual_tokens_per_image} visual tokens per image x {plan.images_per_sample}; at most "
             f"{plan.max_sequence_tokens} tokens per sequence",
             f"{plan.completions_per_step} completions per step ({plan.prompts_per_step} prompts) on {plan.gpus} GPUs, "
             f"{plan.per_device_completions} per device per forward; gradient checkpointing "
             f"{'on' if plan.gradient_checkpointing else 'off'}; reference model {'yes' if plan.reference_model else 'no'}",
             f"{'engine':7s} {'GB/device':>10s} {'fits ' + format(plan.gpu_memory_gb, 'g') + ' GB':>12s}  "
             "weights  grads  optim    ref  activ  kv"]
    for engine, gb in plan.memory_gb_per_device.items():
        p = plan.parts_gb[engine]
        lines.append(f"{engine:7s} {gb:10.1f} {('yes' if plan.fits[engine] else 'NO'):>12s}  {p['weights']:7.1f} "
                     f"{p['gradients']:6.1f} {p['optimizer']:6.1f} {p['reference']:6.1f} {p['activations']:6.1f} "
                     f"{p['kv_cache']:4.1f}")
    if not any(plan.fits.values()):
        lines.append("nothing fits: turn on rl.gradient_checkpointing, lower rl.per_device_train_batch_size or "
                     "model.max_pixels, use LoRA, or more GPUs")
    lines.append("estimates (the formulas: radrl.planning); measure with bench/gpu_step.py")
    return "\n".join(lines)
