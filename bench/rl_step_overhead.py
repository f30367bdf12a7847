"""Step-time overhead of radrl's trainer against stock TRL ``GRPOTrainer``, same process.

Same tiny model (the committed SFT checkpoint), same batch (4 prompts x 8 rollouts, up to 160
new tokens), same seed per repetition, so every trainer sees the same completions. One "step" is
what differs between trainers: generate + score (``_generate_and_score_completions``) + loss +
backward; the optimizer update is the same for all and left out. The trainers take turns within
each repetition, so machine noise hits them alike; the medians' ratios are printed.

    python bench/rl_step_overhead.py [--reps 8]

Targets: DiTPO-TF-IDF + CAPO <= 1.15 x stock (issue 4); OraPO <= 1.15 x stock (issue 38). OraPO's
extra passes: one reference pass (at beta 0, the rollouts' log-probs and, appended to them, each
prompt's ground truth once; each film encoded once), and the policy's log-probs of each prompt's
ground truth. At the recipe's beta 0.04 TRL already computes the reference's rollout log-probs
(its KL term), which the DPO term reuses: the last two arms compare OraPO there with stock TRL at
the same beta.

Issue 5: the gradient DiTPO weights (one labeler forward + backward per rollout, prefix decoding
for the character offsets) against the TF-IDF weights, with CheXbert-architecture labelers of
``--labeler-sizes`` (random weights: the cost does not depend on their values; vocabulary
trained on the bench reports).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from radrl.assets import tiny_sft_checkpoint
from radrl.data.synthetic import SyntheticConfig, build_synthetic, load_synthetic
from radrl.models import load_policy
from radrl.rewards import ExampleF1Reward
from radrl.training.datasets import to_trl_dataset
from radrl.training.rl_trainer import RadRLConfig, RadRLTrainer

VARIANTS = {  # the components each arm hands the trainer (None: stock TRL), and its KL beta
    "stock TRL GRPOTrainer": (None, 0.0),
    "radrl, extensions off": ((), 0.0),
    "radrl, DiTPO-TF-IDF + CAPO": (("tfidf", "capo"), 0.0),
    "radrl, OraPO": (("orapo_dpo",), 0.0),
    "radrl, DiTPO + CAPO + OraPO": (("tfidf", "capo", "orapo_dpo"), 0.0),
    # OraPO as recipes/orapo.yaml runs it (beta 0.04): TRL computes the reference's rollout log-probs
    # for its KL term and the DPO term reuses them, so the fair baseline is stock TRL at that beta
    "stock TRL GRPOTrainer, beta 0.04": (None, 0.04),
    "radrl, OraPO, beta 0.04": (("orapo_dpo",), 0.04),
}


def main() -> None:
    from trl import GRPOConfig, GRPOTrainer

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=8)
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--generations", type=int, default=8)
    p.add_argument("--labeler-sizes", default="tiny,base", help="comma-separated: tiny, small, base ('' for none)")
    a = p.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    tmp = tempfile.mkdtemp()
    bench = build_synthetic(f"{tmp}/bench", SyntheticConfig(n_train=64, n_val=2, n_test=2), progress=False)
    samples = load_synthetic(bench, "train")[: a.prompts]
    dataset = to_trl_dataset(samples, with_completion=False).add_column(
        "critical", [i % 2 == 0 for i in range(len(samples))])
    batch = [dataset[i] for i in range(len(samples)) for _ in range(a.generations)]
    common = dict(per_device_train_batch_size=len(batch), num_generations=a.generations, max_completion_length=160,
                  report_to=[], save_strategy="no", bf16=False, activation_checkpointing=False, loss_type="grpo",
                  dataloader_pin_memory=False, disable_tqdm=True, seed=0)
    reward = ExampleF1Reward()
    variants = dict(VARIANTS)
    weighers = {}
    for size in filter(None, a.labeler_sizes.split(",")):
        weighers[f"radrl, DiTPO-gradient ({size} labeler)"] = _labeler(size, bench)
        variants[f"radrl, DiTPO-gradient ({size} labeler)"] = (("gradient",), 0.0)
    trainers = {}
    for name, (ext, beta) in variants.items():
        model, processor = load_policy(str(tiny_sft_checkpoint()))
        if ext is None:
            trainer = GRPOTrainer(model=model, reward_funcs=[reward],
                                  args=GRPOConfig(output_dir=tmp, beta=beta, **common),
                                  train_dataset=dataset, processing_class=processor)
        else:
            from radrl.algorithms import COMPONENTS, GradientTokenWeights

            components = [GradientTokenWeights(labeler=weighers[name], tokenizer=processor) if kind == "gradient"
                          else COMPONENTS.get(kind)() for kind in ext]
            trainer = RadRLTrainer(model=model, reward_funcs=[reward],
                                   args=RadRLConfig(output_dir=tmp, beta=beta, **common),
                                   train_dataset=dataset, processing_class=processor, components=components)
        trainer.model.train()
        trainer.current_gradient_accumulation_steps = 1
        trainers[name] = trainer

    times = {name: [] for name in trainers}
    for rep in range(a.reps + 1):
        for name, trainer in trainers.items():
            torch.manual_seed(rep)
            t0 = time.perf_counter()
            out = trainer._generate_and_score_completions([dict(x) for x in batch])
            loss = trainer._compute_loss(trainer.model, out)
            loss.backward()
            trainer.model.zero_grad(set_to_none=True)
            if rep:  # the first repetition warms caches up
                times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["stock TRL GRPOTrainer"])
    tfidf = statistics.median(times["radrl, DiTPO-TF-IDF + CAPO"])
    print(f"batch {len(batch)} completions ({a.prompts} prompts x {a.generations}), {a.reps} repetitions, "
          f"{torch.get_num_threads()} threads")
    print(f"{'trainer':40s} {'median s/step':>14s} {'vs stock':>9s} {'vs TF-IDF':>10s}")
    for name, t in times.items():
        m = statistics.median(t)
        print(f"{name:40s} {m:14.3f} {m / base:9.3f} {m / tfidf:10.3f}")
    at_beta = statistics.median(times["stock TRL GRPOTrainer, beta 0.04"])
    print(f"OraPO at beta 0.04 vs stock TRL at beta 0.04: "
          f"{statistics.median(times['radrl, OraPO, beta 0.04']) / at_beta:.3f} x")


def _labeler(size: str, bench):
    """A randomly initialised CheXbert-architecture labeler of ``size`` with a WordPiece vocabulary
    trained on the bench reports."""
    from transformers import BertConfig

    from radrl.labelers.chexbert import SIZES, ChexbertLabeler, ChexbertModel, load_tokenizer
    from radrl.training.labeler import train_wordpiece_vocab

    reports = [s.report for s in load_synthetic(bench, "train")]
    vocab = train_wordpiece_vocab(reports, 2000, Path(tempfile.mkdtemp()))
    tokenizer = load_tokenizer(vocab)
    torch.manual_seed(0)
    model = ChexbertModel(BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512, **SIZES[size]))
    return ChexbertLabeler(model, tokenizer)


if __name__ == "__main__":
    main()
