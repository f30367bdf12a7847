"""The code that the docs show a user runs as shown: docs/recipes.md's worked token weighting is
executed from the page itself, its weights checked by hand on a real batch, and it trains a step."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import torch
from helpers import LengthReward

ROOT = Path(__file__).resolve().parents[1]


def _example(page: str, marker: str) -> str:
    text = (ROOT / "docs" / page).read_text()
    found = re.search(rf"<!-- example: {re.escape(marker)} -->\n```python\n(.*?)```", text, re.S)
    assert found, f"docs/{page} lost its '{marker}' example"
    return found.group(1)


def test_the_worked_token_weighting_in_recipes_md_runs_and_trains(tiny_vlm, tiny_bench, tmp_path):
    from radrl.algorithms import COMPONENTS, Rollouts
    from radrl.data.synthetic import load_synthetic
    from radrl.models import load_policy
    from radrl.training.datasets import to_trl_dataset
    from radrl.training.rl_trainer import RadRLConfig, RadRLTrainer

    code = _example("recipes.md", "finding-term token weights")
    assert 20 <= len(code.strip().splitlines()) <= 40  # "about 30 lines"
    namespace: dict = {}
    exec(compile(code, "docs/recipes.md", "exec"), namespace)  # noqa: S102 - the page's own example
    try:
        cls = COMPONENTS.get("finding_terms")
        with pytest.raises(ValueError, match="boost"):
            cls(boost=-1)
        samples = load_synthetic(tiny_bench, "train")[:8]
        dataset = to_trl_dataset(samples, with_completion=False)
        model, processor = load_policy(str(tiny_vlm))
        args = RadRLConfig(output_dir=str(tmp_path / "run"), per_device_train_batch_size=8, num_generations=4,
                           max_completion_length=24, learning_rate=0.1, optim="sgd", report_to=[], save_strategy="no",
                           bf16=False, seed=0, logging_steps=1, disable_tqdm=True, dataloader_pin_memory=False,
                           max_steps=1, loss_type="grpo")
        trainer = RadRLTrainer(model=model, reward_funcs=[LengthReward()], args=args, train_dataset=dataset,
                               processing_class=processor, components=[cls(boost=2.0)])
        batch = [dataset[i] for i in range(2) for _ in range(4)]
        trainer.model.train()
        torch.manual_seed(0)
        out = trainer._generate_and_score_completions(copy.deepcopy(batch))
        # by hand: a token gets 1 + 2 where its own text (3+ letters) is part of a finding word
        tokenizer = processor.tokenizer
        words = ("pneumothorax", "effusion", "consolidation", "edema", "cardiomegaly", "fracture")
        want = torch.ones(out["completion_ids"].shape)
        for row in range(want.size(0)):
            for t in range(int(out["completion_mask"][row].sum())):
                text = tokenizer.convert_tokens_to_string([tokenizer.convert_ids_to_tokens(
                    int(out["completion_ids"][row, t]))]).strip().lower()
                if len(text) >= 3 and any(text in w for w in words):
                    want[row, t] = 3.0
        assert (want > 1).any() and (want == 1).any()  # both kinds of token, or the check proves little
        ctx = trainer.component_context
        rollouts = Rollouts(batch, {**out, "advantages": out["advantages"]}, torch.zeros(8), slice(0, 8), 4)
        got = trainer.components["token_weights"].weights(ctx, rollouts)
        torch.testing.assert_close(got, want)
        trainer.train()
        log = trainer.state.log_history[0]
        assert "finding_terms/boosted_share" in log and torch.isfinite(torch.tensor(log["loss"]))
    finally:
        COMPONENTS.unregister("finding_terms")
