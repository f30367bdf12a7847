"""Generation throughput of the tiny demo VLM on this machine (reports/s and new tokens/s).

Uses the committed SFT checkpoint (assets/tiny-sft) when present, so reports have their real
length and end at <|im_end|>; otherwise a freshly built tiny model (which runs to max_new_tokens).
Prints greedy at batch 1 and batch 32, sampling with 4 returns per prompt (a GRPO group), beam 3,
and ratios against greedy batch 1 measured in the same process.

    python bench/generation_throughput.py [--n 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from radrl.assets import TINY_SFT
from radrl.data.synthetic import SyntheticConfig, build_synthetic, load_synthetic
from radrl.generation import GenerationSettings, build_inputs, generate_reports
from radrl.models import build_tiny_vlm, load_policy


def measure(model, processor, samples, settings: GenerationSettings) -> tuple[float, float]:
    tok = processor.tokenizer
    t0 = time.perf_counter()
    outs = generate_reports(model, processor, samples, settings, progress=False)
    dt = time.perf_counter() - t0
    n_reports = sum(len(o) for o in outs)
    n_tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) + 1 for o in outs for t in o)
    return n_reports / dt, n_tokens / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64, help="test studies per setting")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = build_synthetic(f"{tmp}/data", SyntheticConfig(n_train=200, n_val=1, n_test=args.n), progress=False)
        samples = load_synthetic(data, "test")
        if (TINY_SFT / "model.safetensors").is_file():
            path, what = TINY_SFT, "committed SFT checkpoint"
        else:
            path = build_tiny_vlm(f"{tmp}/tiny", [s.report for s in load_synthetic(data, "train")])
            what = "untrained tiny model (no checkpoint found)"
        model, processor = load_policy(str(path))
        n_params = sum(p.numel() for p in model.parameters())
        prompt_len = build_inputs(processor, samples[:1])["input_ids"].shape[1]
        print(f"model: {what}, {n_params / 1e6:.2f} M parameters, prompt {prompt_len} tokens, "
              f"{torch.get_num_threads()} threads, {args.n} studies")
        settings = {
            "greedy, batch 1": GenerationSettings(batch_size=1),
            "greedy, batch 32": GenerationSettings(batch_size=32),
            "sample x4 (GRPO group), batch 8": GenerationSettings(mode="sample", num_return_sequences=4, batch_size=8),
            "beam 3, batch 8": GenerationSettings(mode="beam", num_beams=3, batch_size=8),
        }
        measure(model, processor, samples[:4], GenerationSettings(batch_size=4))  # warm-up
        base = None
        print(f"{'setting':34s}{'reports/s':>11s}{'tokens/s':>11s}{'x greedy b1':>13s}")
        for name, s in settings.items():
            subset = samples[:16] if s.batch_size == 1 else samples
            rps, tps = measure(model, processor, subset, s)
            base = base or rps
            print(f"{name:34s}{rps:11.2f}{tps:11.1f}{rps / base:13.2f}")


if __name__ == "__main__":
    main()
