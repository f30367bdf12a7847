"""Run under ``accelerate launch --num_processes 2 --cpu``: RadRLTrainer on 2 processes.

One GRPO group of 8 rollouts spans both processes (4 each). Every step checks, on every rank,
that the rewards were gathered from both processes, that the local advantages are the group
advantages of the gathered rewards, and that the DiTPO weights are those of the whole group.
Rank 0 writes OUT/dist_check.json.
"""

import gc
import json
import sys
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared helpers
from helpers import LengthReward  # noqa: E402

from radrl.algorithms import TfidfTokenWeights, group_advantages, tfidf_token_weights, token_level_advantages
from radrl.data.synthetic import load_synthetic
from radrl.distributed import shutdown_process_group
from radrl.models import load_policy
from radrl.training.datasets import to_trl_dataset
from radrl.training.rl_trainer import RadRLConfig, RadRLTrainer


class CheckedTrainer(RadRLTrainer):
    checks: list = []

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        acc = self.accelerator
        rewards = self._last_rewards_per_func[:, 0]
        n = len(inputs)
        local = slice(acc.process_index * n, (acc.process_index + 1) * n)
        seq_adv = group_advantages(rewards, self.num_generations)[local]
        ids = acc.gather(acc.pad_across_processes(out["completion_ids"], dim=1, pad_index=self._tokenizer.pad_token_id))
        mask = acc.gather(acc.pad_across_processes(out["completion_mask"], dim=1, pad_index=0))
        weights = tfidf_token_weights(ids, mask, self.num_generations)[local, : out["completion_ids"].size(1)]
        expected = token_level_advantages(seq_adv, weights)
        prompts = [x["id"] for x in inputs]
        all_prompts = [p for chunk in acc.gather_for_metrics([prompts], use_gather_object=True) for p in chunk]
        self.checks.append({
            "rank": acc.process_index, "n_local": n, "n_gathered_rewards": int(rewards.numel()),
            "one_prompt_across_ranks": len(set(all_prompts)) == 1,
            "advantages_match": bool(torch.allclose(out["advantages"], expected)),
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
