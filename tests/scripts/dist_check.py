"""Run under ``accelerate launch --num_processes 2 --cpu``: RadRLTrainer on 2 processes.

One GRPO group of 8 rollouts spans both processes (4 each). Every step checks, on every rank,
that the rewards were gathered from both processes, and that the local token advantages equal
A_i * w_i^t computed here in plain Python from the whole group's raw completions (their texts
for LengthReward, their token ids for TF-IDF): none of radrl's functions computes the expected
value. Rank 0 writes OUT/dist_check.json.
"""

import gc
import json
import math
import sys
from pathlib import Path

import torch
from accelerate.utils import gather_object
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared helpers
from helpers import LengthReward  # noqa: E402

from radrl.algorithms import TfidfTokenWeights
from radrl.data.synthetic import load_synthetic
from radrl.distributed import shutdown_process_group
from radrl.models import load_policy
from radrl.training.datasets import to_trl_dataset
from radrl.training.rl_trainer import RadRLConfig, RadRLTrainer


def group_advantages_by_hand(rewards: list[float]) -> list[float]:
    """(r - mean) / (sample std + 1e-4) over one group, as GRPO (and TRL) define it."""
    mean = sum(rewards) / len(rewards)
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (len(rewards) - 1))
    return [(r - mean) / (std + 1e-4) for r in rewards]


def tfidf_by_hand(reports: list[list[int]], alpha: float = 4.0) -> list[list[float]]:
    """DEER Eq. 7-8 over one group: w = 1 + alpha * (count in o_i / |o_i|) * log(N / df)."""
    n = len(reports)
    df = {tok: sum(tok in set(r) for r in reports) for tok in {t for r in reports for t in r}}
    return [[1 + alpha * (r.count(t) / len(r)) * math.log(n / df[t]) for t in r] for r in reports]


class CheckedTrainer(RadRLTrainer):
    checks: list = []

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        acc = self.accelerator
        n = len(inputs)
        texts = self.processing_class.batch_decode(out["completion_ids"], skip_special_tokens=True)
        reports = [row[: int(m.sum())].tolist() for row, m in zip(out["completion_ids"], out["completion_mask"])]
        everything = gather_object([(texts, reports)])
        all_texts = [t for chunk_texts, _ in everything for t in chunk_texts]
        all_reports = [r for _, chunk_reports in everything for r in chunk_reports]
        advantages = group_advantages_by_hand([len(t) / 100 for t in all_texts])  # LengthReward, from the texts
        weights = tfidf_by_hand(all_reports)
        start = acc.process_index * n
        expected = torch.ones(out["advantages"].shape)
        for row in range(n):
            expected[row] = advantages[start + row]
            expected[row, : len(weights[start + row])] *= torch.tensor(weights[start + row])
        rewards = self._last_rewards_per_func[:, 0]
        prompts = [x["id"] for x in inputs]
        all_prompts = [p for chunk in acc.gather_for_metrics([prompts], use_gather_object=True) for p in chunk]
        self.checks.append({
            "rank": acc.process_index, "n_local": n, "n_gathered_rewards": int(rewards.numel()),
            "one_prompt_across_ranks": len(set(all_prompts)) == 1,
            "advantages_match": bool(torch.allclose(out["advantages"].float(), expected, rtol=1e-4, atol=1e-5)),
            "group_has_signal": bool(rewards.std() > 0),
        })
        return out


if __name__ == "__main__":
    model_path, bench, out = sys.argv[1:4]
    model, processor = load_policy(model_path)
    dataset = to_trl_dataset(load_synthetic(bench, "train")[:8], with_completion=False)
    args = RadRLConfig(output_dir=out, per_device_train_batch_size=4, num_generations=8, max_completion_length=24,
                       learning_rate=1e-3, max_steps=2, report_to=[], save_strategy="no", bf16=False,
                       activation_checkpointing=False, logging_steps=1, disable_tqdm=True, seed=0,
                       dataloader_pin_memory=False, loss_type="grpo", use_cpu=True)
    trainer = CheckedTrainer(model=model, reward_funcs=[LengthReward()], args=args, train_dataset=dataset,
                             processing_class=processor, components=[TfidfTokenWeights()])
    trainer.train()
    acc = trainer.accelerator
    all_checks = acc.gather_for_metrics([trainer.checks], use_gather_object=True)
    result = {"world_size": acc.num_processes, "checks": all_checks, "log_history": trainer.state.log_history}
    # As a user's script should end: drop the trainer (its DDP model holds the process group),
    # then close the group while Python is alive; left to teardown, gloo can abort a finished run.
    main = acc.is_main_process
    acc.free_memory()
    del trainer, acc
    shutdown_process_group()
    result["ddp_models_alive_at_exit"] = sum(isinstance(o, DistributedDataParallel) for o in gc.get_objects())
    if main:
        with open(f"{out}/dist_check.json", "w") as f:
            json.dump(result, f)
