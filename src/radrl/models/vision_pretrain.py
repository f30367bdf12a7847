"""Pretrain a VLM's vision tower on labelled films, and measure what it sees with a linear probe.

Real VLMs come with a vision encoder pretrained on many images; a report generator is then
fine-tuned on top of features that already separate the findings. The tiny demo VLM starts
from random weights, and SFT alone does not teach its vision tower to see small findings (a
rib fracture, a pneumothorax rim): RL then has nothing to correct, only a policy to sharpen.
This module gives the tiny VLM what real ones have:

* :func:`pretrain_vision_tower` trains the vision tower (``model.visual``, patch embedding,
  blocks and the patch merger that projects into the language model's width) with a
  multi-label head on the 13 CheXpert findings of a separate set of films (uncertain counts as
  present: the sign is on the film), then saves the whole VLM with the trained tower and
  drops the head. The language model is untouched.
* :func:`linear_probe_auroc` freezes a checkpoint, pools its vision features and fits one
  logistic regression per finding on a train set; the per-finding AUROC on another set says
  how much of each finding the features carry. It works on any Qwen2.5-VL-style checkpoint.

Pooling: the mean and the maximum over the image tokens, concatenated (a small finding moves
the max of a few tokens more than the mean of 64).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from radrl.config.sections import VisionPretrainSection
from radrl.schema import FINDINGS


def finding_targets(samples: Sequence) -> np.ndarray:
    """(n, 13) float array: 1 where a finding is positive or uncertain in the sample's labels."""
    out = np.zeros((len(samples), len(FINDINGS)), dtype=np.float32)
    for i, s in enumerate(samples):
        if s.labels is None:
            raise ValueError(f"sample {s.id}: no labels; vision pretraining needs labelled films")
        for j, f in enumerate(FINDINGS):
            out[i, j] = float(s.labels.get(f) in ("positive", "uncertain"))
    return out


def _pixel_batch(processor, paths: Sequence[str]):
    from radrl.generation import open_images  # as training opens them: pixel cap, clear errors

    enc = processor.image_processor(images=open_images(paths), return_tensors="pt")
    return enc["pixel_values"], enc["image_grid_thw"]


def pooled_vision_features(model, pixel_values, grid_thw):
    """(n_images, 2*width): mean and max over each image's merged vision tokens."""
    import torch

    tokens = model.model.visual(pixel_values.to(model.model.visual.dtype), grid_thw=grid_thw).pooler_output
    sizes = (grid_thw.prod(-1) // model.model.visual.spatial_merge_size ** 2).tolist()
    parts = torch.split(tokens, sizes)
    return torch.stack([torch.cat([p.mean(0), p.amax(0)]) for p in parts])


def pretrain_vision_tower(model_dir: str | Path, samples: Sequence, out_dir: str | Path,
                          settings: VisionPretrainSection | None = None, val_samples: Sequence | None = None,
                          progress: bool = True) -> dict:
    """Train ``model_dir``'s vision tower on ``samples`` (first image, 13 finding targets) and save
    the VLM to ``out_dir``; returns the card (also written as ``out_dir/vision_pretrain.json``).

    Loss: mean binary cross-entropy of a linear head on :func:`pooled_vision_features`, AdamW
    with linear warm-up and cosine decay. With ``val_samples``, the validation loss and macro
    AUROC after each epoch go into the card.
    """
    import torch
    from tqdm.auto import tqdm

    from radrl.io import atomic_write_json
    from radrl.models import load_policy

    settings = settings or VisionPretrainSection()
    torch.manual_seed(settings.seed)
    model, processor = load_policy(str(model_dir))
    for p in model.parameters():
        p.requires_grad_(False)
    visual = model.model.visual
    for p in visual.parameters():
        p.requires_grad_(True)
    width = model.config.text_config.hidden_size
    head = torch.nn.Linear(2 * width, len(FINDINGS))
    params = [p for p in visual.parameters()] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    targets = torch.from_numpy(finding_targets(samples))
    paths = [s.images[0] for s in samples]
    steps_per_epoch = math.ceil(len(samples) / settings.batch_size)
    total = steps_per_epoch * settings.epochs

    def lr_at(step):
        if step < settings.warmup_steps:
            return (step + 1) / settings.warmup_steps
        return 0.5 * (1 + math.cos(math.pi * (step - settings.warmup_steps) / max(1, total - settings.warmup_steps)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    gen = torch.Generator().manual_seed(settings.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state_file = out / "pretrain_state.pt"
    history, seconds, first_epoch = [], 0.0, 0
    if state_file.is_file():  # an interrupted run: continue after its last finished epoch
        state = torch.load(state_file, weights_only=True)
        visual.load_state_dict(state["visual"])
        head.load_state_dict(state["head"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        history, seconds, first_epoch = json.loads(state["history"]), state["seconds"], state["epoch"]
        print(f"vision pretraining: resuming after epoch {first_epoch} ({state_file})")
    t0 = time.perf_counter() - seconds
    bar = tqdm(total=total, initial=first_epoch * steps_per_epoch, desc="vision pretraining", disable=not progress)
    for epoch in range(first_epoch, settings.epochs):
        visual.train()
        order = torch.randperm(len(samples), generator=gen).tolist()
        batches = [order[b * settings.batch_size:(b + 1) * settings.batch_size] for b in range(steps_per_epoch)]
        losses = _train_epoch(model, processor, head, (opt, sched, params), paths, targets, batches, bar)
        record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses))}
        if val_samples:
            record.update(_head_eval(model, processor, head, val_samples))
        history.append(record)
        bar.write(json.dumps(record))
        state = {"visual": visual.state_dict(), "head": head.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "generator": gen.get_state(), "epoch": epoch + 1,
                 "history": json.dumps(history), "seconds": time.perf_counter() - t0}
        tmp = state_file.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(state_file)
    bar.close()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    card = {"base_model": str(model_dir), "n_train": len(samples), "settings": asdict(settings),
            "history": history, "seconds": round(time.perf_counter() - t0, 1)}
    atomic_write_json(out / "vision_pretrain.json", card)  # written last: its presence marks a finished run
    state_file.unlink()
    return card


def _train_epoch(model, processor, head, optimization, paths, targets, batches, bar) -> list[float]:
    """One pass over ``batches`` (lists of sample indices): BCE of the head on the pooled
    features, clipped gradients, one optimizer and scheduler step per batch. Returns the losses."""
    import torch

    opt, sched, params = optimization
    losses = []
    for idx in batches:
        pixels, grid = _pixel_batch(processor, [paths[i] for i in idx])
        logits = head(pooled_vision_features(model, pixels, grid))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    return losses


def _head_eval(model, processor, head, samples) -> dict:
    import torch
    from sklearn.metrics import roc_auc_score

    model.model.visual.eval()
    with torch.no_grad():
        feats = extract_features(model, processor, samples, progress=False)
        logits = head(torch.from_numpy(feats))
    y = torch.from_numpy(finding_targets(samples))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y).item()
    aurocs = [roc_auc_score(y[:, j], logits[:, j]) for j in range(len(FINDINGS)) if 0 < y[:, j].sum() < len(y)]
    return {"val_loss": loss, "val_macro_auroc": float(np.mean(aurocs))}


def extract_features(model, processor, samples: Sequence, batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """(n, 2*width) pooled vision features of each sample's first image, no gradients."""
    import torch
    from tqdm.auto import tqdm

    out = []
    with torch.no_grad():
        for b in tqdm(range(0, len(samples), batch_size), desc="vision features", disable=not progress):
            pixels, grid = _pixel_batch(processor, [s.images[0] for s in samples[b:b + batch_size]])
            out.append(pooled_vision_features(model, pixels, grid).float().numpy())
    return np.concatenate(out)


def linear_probe_auroc(model_dir: str | Path, train_samples: Sequence, eval_samples: Sequence,
                       progress: bool = True) -> dict:
    """Per-finding AUROC of logistic regressions on a frozen checkpoint's pooled vision features.

    Features are standardised on ``train_samples``; each finding gets its own L2-regularised
    logistic regression (sklearn, C = 1). Findings without both classes in ``eval_samples`` are
    left out (None). Returns {"auroc": {finding: value}, "macro_auroc", "n_train", "n_eval"}.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    from radrl.models import load_policy

    model, processor = load_policy(str(model_dir))
    model.eval()
    x_train = extract_features(model, processor, train_samples, progress=progress)
    x_eval = extract_features(model, processor, eval_samples, progress=progress)
    scaler = StandardScaler().fit(x_train)
    x_train, x_eval = scaler.transform(x_train), scaler.transform(x_eval)
    y_train, y_eval = finding_targets(train_samples), finding_targets(eval_samples)
    auroc = {}
    for j, f in enumerate(FINDINGS):
        if not (0 < y_train[:, j].sum() < len(y_train)) or not (0 < y_eval[:, j].sum() < len(y_eval)):
            auroc[f] = None
            continue
        clf = LogisticRegression(C=1.0, max_iter=2000).fit(x_train, y_train[:, j])
        auroc[f] = float(roc_auc_score(y_eval[:, j], clf.decision_function(x_eval)))
    values = [v for v in auroc.values() if v is not None]
    return {"auroc": auroc, "macro_auroc": float(np.mean(values)) if values else None,
            "n_train": len(train_samples), "n_eval": len(eval_samples)}


def transplant_vision_tower(source: str | Path, target: str | Path) -> int:
    """Copy ``source``'s vision tower (every ``visual.*`` tensor: encoder and merger) into the
    checkpoint folder ``target``, in place; returns the number of tensors copied.

    Both must be the same architecture (names and shapes are checked); the language model of
    ``target`` is untouched. The demo uses it to start a short SFT from the committed
    checkpoint's pretrained vision tower, as a real pipeline starts from a pretrained encoder.
    """
    from safetensors.torch import load_file, save_file

    from radrl.io import InputError

    src = load_file(Path(source) / "model.safetensors")
    dst_file = Path(target) / "model.safetensors"
    dst = load_file(dst_file)
    copied = 0
    for name, tensor in src.items():
        if ".visual." not in f".{name}":
            continue
        if name not in dst or dst[name].shape != tensor.shape:
            raise InputError(f"{source}: vision tensor {name} {tuple(tensor.shape)} has no match in {target}; "
                             "both checkpoints need the same vision architecture")
        dst[name] = tensor.to(dst[name].dtype)
        copied += 1
    if not copied:
        raise InputError(f"{source}/model.safetensors holds no visual.* tensors: not a Qwen2.5-VL-style checkpoint")
    tmp = dst_file.with_suffix(".tmp")
    save_file(dst, str(tmp), metadata={"format": "pt"})
    tmp.replace(dst_file)
    return copied
