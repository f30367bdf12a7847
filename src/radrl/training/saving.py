"""Saving the trained policy from a (possibly sharded) trainer: ``OUT/final``, atomically.

Every rank calls :func:`save_final_model`. The weights are gathered with
``accelerator.get_state_dict``, a collective under FSDP and ZeRO-3, where the main process's own
module holds only its shards (TRL and transformers save through the same call). LoRA adapters are
merged into the base weights so that ``final`` loads like any checkpoint; under a sharded engine
the merge runs on a CPU copy rebuilt from the gathered state.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch

from radrl.io import atomic_folder
from radrl.training.checkpoints import saves_where_told


def save_final_model(trainer, final: Path, save_dtype: str = "float32", record_name: str | None = None,
                     record: dict | None = None) -> None:
    """Write the trained policy (safetensors, cast to ``save_dtype``) and the trainer's processor
    to ``final``, with ``record`` as JSON in ``final/record_name``. Call it on every rank."""
    acc = trainer.accelerator
    # the DeepSpeed engine, not the module inside it: under ZeRO-3 only the engine can gather the
    # 16-bit weights (given the module, accelerate fails: no zero_gather_16bit_weights_on_model_save)
    wrapped = trainer.model_wrapped if trainer.is_deepspeed_enabled else trainer.model
    state = acc.get_state_dict(wrapped)  # full on the main process; collective when sharded
    # every node its own folder (rl.save_on_each_node): each node's main process writes its copy where
    # it holds the whole state (DDP, ZeRO-2); a gather to one rank (FSDP, ZeRO-3) is written there alone
    per_node = trainer.args.save_on_each_node and acc.is_local_main_process and bool(state)
    if acc.is_main_process or per_node:
        dtype = getattr(torch, save_dtype)
        model = acc.unwrap_model(trainer.model)
        with atomic_folder(final) as tmp:
            if hasattr(model, "merge_and_unload"):  # peft
                sharded = trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled
                merged = merged_lora_copy(model, state) if sharded else model.merge_and_unload()
                merged.to(dtype).save_pretrained(tmp, safe_serialization=True)
            else:
                state = without_tied_copies(model, state)
                with conversions_of_a_built_model(model, trainer.is_deepspeed_enabled), saves_where_told(model):
                    model.save_pretrained(tmp, state_dict={k: v.to(dtype) for k, v in state.items()},
                                          safe_serialization=True)
            trainer.processing_class.save_pretrained(tmp)
            if record_name:
                (tmp / record_name).write_text(json.dumps(record or {}, indent=1, default=str))
        print(f"final model written by process {acc.process_index} -> {final}", flush=True)
    acc.wait_for_everyone()


@contextlib.contextmanager
def conversions_of_a_built_model(model, deepspeed: bool):
    """Save in the checkpoint layout that ``from_pretrained`` reads. Under ZeRO-3, transformers
    5.23's ``from_pretrained`` records the legacy renamings and a ``PrefixChange`` among the
    model's ``_weight_conversions`` (under DDP only the plain renamings), and reverting them at save
    writes ``model.model.embed_tokens.weight``: the language model would not load. Without a record,
    ``save_pretrained`` uses the default mapping minus ``PrefixChange``, as for a model built from
    a config (the LoRA merge's copy), which is the layout every other engine writes."""
    from transformers.integrations import is_deepspeed_zero3_enabled

    if not (deepspeed and is_deepspeed_zero3_enabled() and hasattr(model, "_weight_conversions")):
        yield
        return
    recorded = model._weight_conversions
    model._weight_conversions = None
    try:
        yield
    finally:
        model._weight_conversions = recorded


def without_tied_copies(model, state: dict) -> dict:
    """``state`` without the second names of tied parameters (``lm_head.weight`` when the word
    embeddings are tied). A gathered state (FSDP, ZeRO-3) holds them as separate tensors, so
    ``save_pretrained`` cannot see the tie by storage and writes the embedding twice (0.6 GB more
    for Qwen2.5-VL-3B); the module still knows the tie, and loading re-ties it."""
    every = {name for name, _ in model.named_parameters(remove_duplicate=False)}
    first = {name for name, _ in model.named_parameters()}
    return {k: v for k, v in state.items() if k not in every - first}


def merged_lora_copy(peft_model, state: dict):
    """The LoRA policy merged, rebuilt on the CPU from the gathered ``state`` (under FSDP/ZeRO-3 the
    process's own modules hold shards, which cannot be merged in place)."""
    from peft import get_peft_model
    from transformers import AutoModelForImageTextToText

    fresh = AutoModelForImageTextToText.from_config(peft_model.get_base_model().config, dtype=torch.float32)
    active = peft_model.active_adapter
    rebuilt = get_peft_model(fresh, peft_model.peft_config[active])
    state = active_adapter_state(state, set(peft_model.peft_config) - {active})
    missing, unexpected = rebuilt.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"the gathered LoRA state does not fit the policy: missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}")
    return rebuilt.merge_and_unload()


def active_adapter_state(state: dict, others: set[str]) -> dict:
    """``state`` without the tensors of the adapters in ``others``: the LoRA weights of an adapter
    named ``ref`` sit at ``...q_proj.lora_A.ref.weight`` (TRL adds that adapter, a copy of the
    initial one, as the reference model when ``beta > 0``). Only the active adapter is merged."""
    def other_adapter(key: str) -> bool:
        parts = key.split(".")
        return any(part in others and parts[i - 1].startswith("lora_") for i, part in enumerate(parts) if i)

    return {k: v for k, v in state.items() if not other_adapter(k)}
