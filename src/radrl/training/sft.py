"""Supervised fine-tuning of a policy VLM on (image, report) pairs with TRL's ``SFTTrainer``.

The loss is on the report only (TRL's prompt/completion format: ``completion_only_loss``).
Checkpoints (model, optimizer, scheduler, RNG states) are written every ``save_steps`` under
``OUT/checkpoints``; running the same command again resumes from the newest one. The final
model and processor go to ``OUT/final`` (safetensors), written to a temporary folder first and
renamed, so ``final`` is either complete or absent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from radrl.config.sections import SFTSettings
from radrl.data.sample import Sample
from radrl.distributed import is_main
from radrl.io import output_state, run_lock, write_output_record
from radrl.models.policy import load_policy, trainable_summary
from radrl.training.checkpoints import NativeLayoutCheckpoints, latest_checkpoint
from radrl.training.datasets import to_trl_dataset
from radrl.training.saving import save_final_model

__all__ = ["SFTSettings", "latest_checkpoint", "run_sft", "sft_config"]


def sft_config(settings: SFTSettings, output_dir: Path):
    from trl import SFTConfig

    use_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    extra = dict(settings.extra)
    # TRL turns activation checkpointing on by default; it costs ~30 % more compute and the tiny
    # model does not need it, so radrl makes it an explicit choice, under transformers 5's name
    # (the old one, gradient_checkpointing, still mirrors it)
    return SFTConfig(
        activation_checkpointing=settings.gradient_checkpointing,
        output_dir=str(output_dir / "checkpoints"),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.scheduler,
        warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        logging_steps=settings.logging_steps,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=settings.save_total_limit,
        seed=settings.seed,
        data_seed=settings.seed,
        bf16=use_bf16,
        max_length=None,  # never cut image tokens; reports are short
        completion_only_loss=True,
        remove_unused_columns=False,
        report_to=[],
        dataloader_num_workers=4 if torch.cuda.is_available() else 0,  # image decoding off the GPU's path
        dataloader_pin_memory=torch.cuda.is_available(),
        use_cpu=not torch.cuda.is_available(),  # a CPU multi-process launch joins one gloo group
        disable_tqdm=False,
        **extra,
    )


def run_sft(model_path: str, train: Sequence[Sample], output_dir: str | Path, settings: SFTSettings | None = None,
            resume: bool = True, trust_remote_code: bool = False, callbacks: list | None = None) -> Path:
    """Train, save ``OUT/final`` and return its path. Resumes from ``OUT/checkpoints`` when
    ``resume`` and a complete checkpoint exists; a finished run (``OUT/final`` recorded with the
    same model, data and settings) is returned as it is: resuming a finished run from its last
    checkpoint would train one step more (transformers checks ``max_steps`` after a step)."""
    from trl import SFTTrainer

    class RadSFTTrainer(NativeLayoutCheckpoints, SFTTrainer):
        pass

    settings = settings or SFTSettings()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = {"model": str(model_path), "settings": _jsonable(asdict(settings)),
                   "train": hashlib.sha256("\n".join(f"{s.id}\t{s.report}" for s in train).encode()).hexdigest()}
    if resume and output_state(out / "final", fingerprint) == "done":
        print(f"SFT: {out / 'final'} is finished with these settings: reused")
        return out / "final"
    with run_lock(out):  # a second SFT run into the same folder is refused
        from radrl.data.images import drop_unreadable
        from radrl.io import InputError

        train, skipped = drop_unreadable(train, "SFT data", progress=True)  # a bad film costs one sample
        if not train:
            raise InputError("no SFT sample has readable images")
        model, processor = load_policy(model_path, freeze=settings.freeze, lora=settings.lora, seed=settings.seed,
                                       trust_remote_code=trust_remote_code)
        print(f"SFT of {model_path}: {trainable_summary(model)}")
        dataset = to_trl_dataset(train, settings.instruction)
        trainer = RadSFTTrainer(model=model, args=sft_config(settings, out), train_dataset=dataset,
                             processing_class=processor, callbacks=callbacks)
        checkpoint = latest_checkpoint(out / "checkpoints") if resume else None
        if checkpoint:
            print(f"resuming from {checkpoint}")
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)

        final = out / "final"
        save_final_model(trainer, final, "float32", "radrl_sft.json",  # every rank: gathers sharded weights
                         {"base_model": str(model_path), "n_train": len(train), "skipped_images": skipped.summary(),
                          "settings": _jsonable(asdict(settings)), "log_history": trainer.state.log_history})
        if skipped.count:
            print(skipped.message())
        if is_main():
            write_output_record(final, "sft", fingerprint)
    return final


def _jsonable(d):
    return json.loads(json.dumps(d, default=str))
