"""`radrl plan`: exact parameter counts of the shipped architectures, the processor's visual token
count, and the memory formulas checked against what the tiny model really holds."""

from __future__ import annotations

import json

import pytest
import torch

from radrl.cli import main
from radrl.planning import activation_bytes, architecture_config, count_params, static_bytes, visual_tokens


@pytest.mark.parametrize("name, total", [("Qwen/Qwen2.5-VL-3B-Instruct", 3_754_622_976),
                                         ("qwen2.5-vl-7b-instruct", 8_292_166_656)])
def test_shipped_architectures_have_the_papers_sizes(name, total):
    from radrl.planning import _meta_model

    config = architecture_config(name)
    assert count_params(_meta_model(config), "none", None) == (total, total)
    # the hub processor's default cap: a 3056 x 2544 MIMIC film is ~9,900 visual tokens; 448 x 448 is 256
    assert visual_tokens(config, 3056, 2544, None, None) == 109 * 91
    assert visual_tokens(config, 448, 448, None, 200704) == 256


def test_plan_json_and_table(capsys):
    assert main(["plan", "--recipe", "deer", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    for key in ("params_total", "params_trainable", "visual_tokens_per_image", "max_sequence_tokens",
                "memory_gb_per_device", "fits"):
        assert key in plan
    assert set(plan["memory_gb_per_device"]) == set(plan["fits"]) == {"ddp", "zero2", "zero3", "fsdp"}
    assert plan["params_total"] == 3_754_622_976 and plan["visual_tokens_per_image"] == 238
    # full fine-tuning of 3.75 B in fp32 with AdamW: 16 B/param = 60 GB before activations; DDP cannot fit 80 GB
    assert plan["memory_gb_per_device"]["ddp"] > 60 and not plan["fits"]["ddp"] and plan["fits"]["zero3"]
    assert main(["plan", "--recipe", "deer", "model.lora={r: 8}", "rl.gradient_checkpointing=true",
                 "--gpu-memory", "24"]) == 0
    table = capsys.readouterr().out
    assert "trainable (0." in table and "gradient checkpointing on" in table
    assert main(["plan", "--recipe", "mrg_r1"]) == 2  # a fine-tune's hub id: --architecture says what it is
    assert "--architecture" in capsys.readouterr().err
    assert main(["plan", "--recipe", "mrg_r1", "--architecture", "qwen2.5-vl-7b-instruct", "--json"]) == 0


def _saved_bytes(model, inputs) -> float:
    """Bytes of the tensors autograd keeps for backward (the activations), parameters excluded."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(**inputs).logits.float().logsumexp(-1).mean()
    return float(sum(seen.values()))


@pytest.mark.parametrize("batch, words", [(2, 16), (4, 64)])
def test_memory_formulas_match_the_tiny_model(batch, words):
    from PIL import Image

    from radrl.assets import tiny_sft_checkpoint
    from radrl.models.policy import load_policy
    from radrl.models.prompts import prompt_messages

    model, processor = load_policy(str(tiny_sft_checkpoint()))
    model.train()
    texts = [processor.apply_chat_template(prompt_messages(1, "Write the report."), add_generation_prompt=True,
                                           tokenize=False) + " lungs" * words for _ in range(batch)]
    inputs = processor(text=texts, images=[Image.new("RGB", (224, 224), 100)] * batch, return_tensors="pt",
                       padding=True)
    measured = _saved_bytes(model, inputs)
    tokens = inputs["input_ids"].numel()
    predicted = activation_bytes(model.config, tokens, inputs["pixel_values"].shape[0], 4.0, False)
    # language model + vision tower; the rest (embeddings, logits over a 951-token vocabulary) is small here
    assert 0.8 < sum(predicted.values()) / measured < 1.1, (predicted, measured)
    # static: float32 weights, gradients and AdamW's two moments, after one real step
    total, trainable = count_params(model, "none", None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model(**inputs).logits.float().logsumexp(-1).mean().backward()
    optimizer.step()
    held = {"weights": sum(p.numel() * p.element_size() for p in model.parameters()),
            "gradients": sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None),
            "optimizer": sum(v.numel() * v.element_size() for s in optimizer.state.values() for v in s.values()
                             if torch.is_tensor(v) and v.dim() > 0)}
    planned = static_bytes(total, trainable, "ddp", 1, reference=False)
    assert {k: planned[k] for k in held} == held


@pytest.mark.slow
def test_the_gpu_step_benchmark_runs_on_the_tiny_model(tmp_path):
    """bench/gpu_step.py waits for a GPU; --tiny runs the same code on the CPU so it cannot rot."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "bench" / "gpu_step.py"
    out = tmp_path / "gpu_step.json"
    proc = subprocess.run([sys.executable, str(script), "--tiny", "--steps", "2", "--prompts", "2", "--completions", "2",
                           "--max-completion-length", "8", "-o", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert len(result["steps"]) == 2 and result["tokens_per_second"] > 0
    for step in result["steps"]:
        assert step["generation"] > 0 and step["training"] > 0 and step["tokens"] > 0
        assert abs(step["generation"] + step["reward"] + step["training"] - step["total"]) < 1e-6
