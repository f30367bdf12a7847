"""Supervised fine-tuning of a policy VLM on (image, report) pairs with TRL's ``SFTTrainer``.

The loss is on the report only (TRL's prompt/completion format: ``completion_only_loss``).
Checkpoints (model, optimizer, scheduler, RNG states) are written every ``save_steps`` under
``OUT/checkpoints``; running the same command again resumes from the newest one. The final
model and processor go to ``OUT/final`` (safetensors), written to a temporary folder first and
renamed, so ``final`` is either complete or absent.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from radrl.data.sample import Sample
from radrl.models.policy import LoraSettings, load_policy, trainable_summary
from radrl.models.prompts import DEFAULT_INSTRUCTION
from radrl.training.datasets import to_trl_dataset


@dataclass
class SFTSettings:
    """SFT hyper-parameters. The defaults suit the tiny demo model on CPU."""

    epochs: float = 2.0
    max_steps: int = -1
    batch_size: int = 16
    grad_accum: int = 1
    learning_rate: float = 2e-3
    warmup_steps: int = 10
    scheduler: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    freeze: str = "none"  # none / lm (DEER: vision + projector) / vision / all
    lora: LoraSettings | None = None
    save_steps: int = 100
    save_total_limit: int = 2
    logging_steps: int = 10
    seed: int = 0
    instruction: str = DEFAULT_INSTRUCTION
    gradient_checkpointing: bool = False
    extra: dict = field(default_factory=dict)  # any other SFTConfig / TrainingArguments field

    @classmethod
    def from_dict(cls, d: dict) -> SFTSettings:
        d = dict(d)
        lora = d.pop("lora", None)
        unknown = set(d) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"unknown SFT settings {sorted(unknown)}")
        return cls(**d, lora=LoraSettings(**lora) if isinstance(lora, dict) else lora)


def latest_checkpoint(folder: Path) -> Path | None:
    ckpts = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    complete = [c for c in ckpts if (c / "trainer_state.json").is_file()]
    return complete[-1] if complete else None


def sft_config(settings: SFTSettings, output_dir: Path):
    from trl import SFTConfig

    use_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    extra = dict(settings.extra)
    # TRL turns activation checkpointing on by default; it costs ~30 % more compute and the tiny
    # model does not need it, so radrl makes it an explicit choice. transformers 5 renamed the
    # field (FutureWarning) but TRL's config still reads the old name.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`gradient_checkpointing` is deprecated", category=FutureWarning)
        return SFTConfig(
            gradient_checkpointing=settings.gradient_checkpointing,
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
            dataloader_num_workers=0,
            dataloader_pin_memory=torch.cuda.is_available(),
            disable_tqdm=False,
            **extra,
        )


def run_sft(model_path: str, train: Sequence[Sample], output_dir: str | Path, settings: SFTSettings | None = None,
            resume: bool = True, trust_remote_code: bool = False, callbacks: list | None = None) -> Path:
    """Train, save ``OUT/final`` and return its path. Resumes from ``OUT/checkpoints`` when
    ``resume`` and a complete checkpoint exists."""
    from trl import SFTTrainer

    from radrl.training.checkpoints import NativeLayoutCheckpoints

    class RadSFTTrainer(NativeLayoutCheckpoints, SFTTrainer):
        pass

    settings = settings or SFTSettings()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, processor = load_policy(model_path, freeze=settings.freeze, lora=settings.lora,
                                   trust_remote_code=trust_remote_code)
    print(f"SFT of {model_path}: {trainable_summary(model)}")
    dataset = to_trl_dataset(train, settings.instruction)
    trainer = RadSFTTrainer(model=model, args=sft_config(settings, out), train_dataset=dataset,
                         processing_class=processor, callbacks=callbacks)
    checkpoint = latest_checkpoint(out / "checkpoints") if resume else None
    if checkpoint:
        print(f"resuming from {checkpoint}")
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)

    final, tmp = out / "final", out / "final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model_to_save = trainer.model
    if settings.lora is not None and hasattr(model_to_save, "merge_and_unload"):
        model_to_save = model_to_save.merge_and_unload()  # a plain checkpoint any loader opens
    model_to_save.save_pretrained(tmp, safe_serialization=True)
    processor.save_pretrained(tmp)
    (tmp / "radrl_sft.json").write_text(json.dumps(
        {"base_model": str(model_path), "n_train": len(train), "settings": _jsonable(asdict(settings)),
         "log_history": trainer.state.log_history}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def _jsonable(d):
    return json.loads(json.dumps(d, default=str))
