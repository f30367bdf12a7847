"""DEER steps of Qwen2.5-VL-3B on one GPU: seconds per step split into generation, reward and
training, peak memory, tokens/s, and `radrl plan`'s estimate beside the measured peak.

The policy is built from the shipped architecture config (radrl/configs/models) with random
weights: the same cost as the real checkpoint, nothing downloaded. Weights float32, bf16
autocast, gradient checkpointing, 4 prompts x 8 completions, images resized to 448 x 448 (256
visual tokens), DEER's rewards (example F1 + BLEU-2) and TF-IDF token weights, as recipes/deer_tfidf.yaml.
Random weights write until max_completion_length, the slowest case.

    python bench/gpu_step.py [--steps 5] [--arch qwen2.5-vl-3b-instruct] [-o runs/bench/gpu_step.json]
    python bench/gpu_step.py --tiny --steps 2     # the committed tiny model on the CPU: checks the script

The tokenizer and processor are the tiny checkpoint's (Qwen2-VL image processor, byte-level BPE);
the config's special token ids are set to theirs, so prompts carry the same image tokens. The
first step warms up (CUDA kernels, allocator) and is reported apart from the median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def build_policy(arch: str | None, device: str):
    from transformers import AutoModelForImageTextToText

    from radrl.assets import tiny_sft_checkpoint
    from radrl.models.policy import load_policy
    from radrl.models.processor import load_processor
    from radrl.planning import architecture_config

    source = str(tiny_sft_checkpoint())
    processor = load_processor(source, max_pixels=448 * 448, min_pixels=448 * 448)
    if arch is None:
        model, _ = load_policy(source)
        return model.to(device), processor
    config = architecture_config(arch)
    tok = processor.tokenizer
    ids = {name: tok.convert_tokens_to_ids(token) for name, token in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    for name, value in ids.items():
        setattr(config, name, value)
    config.eos_token_id = tok.eos_token_id
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)  # radrl trains fp32 weights
    return model, processor


class Timings:
    def __init__(self, sync):
        self.sync, self.parts, self.current = sync, [], None

    def start_step(self):
        self.sync()
        self.current = {"start": time.perf_counter(), "generation": 0.0, "reward": 0.0}

    def add(self, part, seconds):
        if self.current is not None:
            self.current[part] += seconds

    def end_step(self):
        self.sync()
        total = time.perf_counter() - self.current.pop("start")
        self.current.update(total=total, training=total - self.current["generation"] - self.current["reward"])
        self.parts.append(self.current)
        self.current = None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--arch", default="qwen2.5-vl-3b-instruct")
    ap.add_argument("--tiny", action="store_true", help="the committed tiny model on the CPU (checks the script)")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--completions", type=int, default=8)
    ap.add_argument("--max-completion-length", type=int, default=160)
    ap.add_argument("-o", "--output", default=str(ROOT / "runs" / "bench" / "gpu_step.json"))
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.tiny:
        sys.exit("no CUDA device: this benchmark measures a GPU (use --tiny to check the script on a CPU)")
    device = "cuda" if cuda else "cpu"

    from transformers import TrainerCallback

    from radrl.data.synthetic import SyntheticConfig, build_synthetic, load_synthetic
    from radrl.planning import plan_recipe
    from radrl.recipe import load_recipe
    from radrl.rewards import build_rewards
    from radrl.training.datasets import to_trl_dataset
    from radrl.training.rl import rl_config
    from radrl.training.rl_trainer import RadRLTrainer

    batch = args.prompts * args.completions
    overrides = [f"rl.per_device_train_batch_size={batch}", f"rl.num_generations={args.completions}",
                 f"rl.max_completion_length={args.max_completion_length}", "rl.activation_checkpointing=true",
                 "model.max_pixels=200704", "model.min_pixels=200704"]
    recipe = load_recipe("deer_tfidf", tiny=args.tiny, overrides=overrides)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    timings = Timings(sync)

    class Timed(RadRLTrainer):
        def _generate(self, prompts):
            sync()
            t0 = time.perf_counter()
            out = super()._generate(prompts)
            sync()
            timings.add("generation", time.perf_counter() - t0)
            return out

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            t0 = time.perf_counter()
            out = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            timings.add("reward", time.perf_counter() - t0)
            return out

    class Steps(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            timings.start_step()

        def on_step_end(self, a, state, control, **kw):
            timings.end_step()

    with tempfile.TemporaryDirectory() as tmp:
        bench = build_synthetic(Path(tmp) / "synthetic", SyntheticConfig(n_train=64, n_val=1, n_test=1), progress=False)
        samples = load_synthetic(bench, "train")
        model, processor = build_policy(None if args.tiny else args.arch, device)
        cfg = rl_config(recipe, Path(tmp) / "run")
        for key, value in dict(max_steps=args.steps, save_strategy="no", report_to=[], logging_steps=1,
                               activation_checkpointing=True, bf16=cuda and torch.cuda.is_bf16_supported(),
                               disable_tqdm=True).items():
            setattr(cfg, key, value)
        rewards = build_rewards(recipe.rewards)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        trainer = Timed(model=model, reward_funcs=rewards.functions, args=cfg, processing_class=processor,
                        train_dataset=to_trl_dataset(samples, with_completion=False), callbacks=[Steps()])
        trainer.train()
        peak = torch.cuda.max_memory_allocated() / 1e9 if cuda else None
    seen = [0] + [h["num_tokens"] for h in trainer.state.log_history if "num_tokens" in h]  # prompt + completion
    for part, before, after in zip(timings.parts, seen, seen[1:]):
        part["tokens"] = after - before

    steady = timings.parts[1:] or timings.parts
    med = {k: statistics.median(p[k] for p in steady) for k in ("total", "generation", "reward", "training")}
    tokens_per_s = statistics.median(p["tokens"] / p["total"] for p in steady)
    plan = plan_recipe(recipe, gpus=1, image_size=(448, 448)) if not args.tiny else None
    result = {"device": torch.cuda.get_device_name() if cuda else "cpu", "arch": "tiny-sft" if args.tiny else args.arch,
              "prompts": args.prompts, "completions_per_prompt": args.completions,
              "max_completion_length": args.max_completion_length, "steps": timings.parts,
              "median_seconds": med, "tokens_per_second": tokens_per_s, "peak_memory_gb": peak,
              "plan_memory_gb": plan.memory_gb_per_device["ddp"] if plan else None,
              "plan_parts_gb": plan.parts_gb["ddp"] if plan else None}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"{result['arch']} on {result['device']}: {batch} completions/step "
          f"({args.prompts} prompts x {args.completions}), steps after the first:")
    print(f"  step {med['total']:.2f} s = generation {med['generation']:.2f} + reward {med['reward']:.3f} "
          f"+ training {med['training']:.2f}; {tokens_per_s:,.0f} tokens/s")
    if peak is not None:
        print(f"  peak memory {peak:.1f} GB; radrl plan (1 GPU, ddp) estimates {result['plan_memory_gb']:.1f} GB "
              f"({result['plan_parts_gb']})")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
