"""``radrl.cli`` with accelerate's FSDP and DeepSpeed paths enabled on CPU processes: tests only.

accelerate turns both on for accelerators only, so a ``fsdp.yaml`` or ``zero3.yaml`` launch on
CPUs trains as plain DDP (radrl warns so). torch's ``fully_shard`` works on CPU with gloo, and
DeepSpeed has a CPU accelerator (``DS_ACCELERATOR=cpu``). Two steps are missing, and this shim
adds them before it runs ``radrl.cli`` with the command line it was given:

* FSDP: in ``AcceleratorState.__init__`` the branch that sets ``DistributedType.FSDP`` lists
  MULTI_GPU, MULTI_NPU, ... but not MULTI_CPU. When an FSDP plugin is given on MULTI_CPU, the
  state's ``distributed_type`` becomes FSDP and the plugin is kept.
* DeepSpeed (with ``rl.use_cpu=false``: accelerate's DeepSpeed branch needs ``cpu`` off): with no
  CUDA, ``PartialState._prepare_backend`` finds no backend, so the state counts one process while
  DeepSpeed's group has two. It gets gloo and MULTI_CPU instead, and accelerate's own DeepSpeed
  branch runs from there.

Everything after that (radrl's trainer, TRL's ``prepare_fsdp`` / ``prepare_deepspeed`` for the
reference model, the gathers at save, resume) is radrl's, transformers', accelerate's and
DeepSpeed's own code, unchanged. The shim lives in ``tests/`` and is never imported by the
package. Launch it where you would launch ``-m radrl.cli``::

    accelerate launch --config_file fsdp.yaml --num_processes 2 --mixed_precision no \\
        tests/scripts/shard_on_cpu.py train --recipe deer_tfidf --tiny -o runs/x
    DS_ACCELERATOR=cpu accelerate launch --config_file zero3.yaml --num_processes 2 --mixed_precision no \\
        tests/scripts/shard_on_cpu.py train --recipe deer_tfidf --tiny -o runs/y rl.use_cpu=false

With ``RADRL_SHARD_REPORT=DIR`` set, every rank writes ``DIR/rank-R-step-S.json`` after each
optimizer step: each parameter's kind (DTensor, ZeRO-3 partition, whole tensor), its local and
full element counts, and the bytes this rank holds in weights, gradients and optimizer state
(what ``radrl plan`` estimates).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def enable_fsdp_on_cpu() -> None:
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__
    if getattr(original, "_radrl_fsdp_cpu", False):
        return

    def init(self, *args, fsdp_plugin=None, **kwargs):
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin
            PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    init._radrl_fsdp_cpu = True
    AcceleratorState.__init__ = init


def enable_deepspeed_on_cpu() -> None:
    """DeepSpeed (``DS_ACCELERATOR=cpu``): with no CUDA and ``use_cpu`` off, accelerate's
    ``_prepare_backend`` finds no backend, so its state says one process while DeepSpeed's group
    has two; given gloo and MULTI_CPU instead, its own DeepSpeed branch runs unchanged."""
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType

    original = PartialState._prepare_backend
    if getattr(original, "_radrl_ds_cpu", False):
        return

    def prepare(self, cpu=False, sagemaker_dp=False, backend=None):
        backend_found, kind = original(self, cpu, sagemaker_dp, backend)
        if backend_found is None and os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true":
            return "gloo", DistributedType.MULTI_CPU
        return backend_found, kind

    prepare._radrl_ds_cpu = True
    PartialState._prepare_backend = prepare


def _local(t):
    """This rank's piece of a parameter: FSDP2's DTensor shard, ZeRO-3's partition, or all of it."""
    if hasattr(t, "to_local"):
        return t.to_local()
    return getattr(t, "ds_tensor", t)


def _kind(p) -> str:
    return "DTensor" if hasattr(p, "to_local") else "ZeRO-3" if hasattr(p, "ds_tensor") else "Tensor"


def _full_numel(p) -> int:
    return getattr(p, "ds_numel", None) or p.numel()


def shard_report(model, optimizer, rank: int, step: int) -> dict:
    params = []
    for name, p in model.named_parameters():
        params.append({"name": name, "type": _kind(p), "local_numel": _local(p).numel(), "full_numel": _full_numel(p),
                       "shape": list(getattr(p, "ds_shape", p.shape)),
                       "trainable": p.requires_grad,
                       "placements": [str(x) for x in getattr(p, "placements", ())]})
    weights = sum(_local(p).numel() * _local(p).element_size() for p in model.parameters())
    optim = sum(_local(v).numel() * _local(v).element_size() for state in optimizer.state.values()
                for v in state.values() if hasattr(v, "numel") and getattr(v, "dim", lambda: 0)() > 0)
    return {"rank": rank, "step": step, "model_class": type(model).__name__, "params": params,
            "weight_bytes": weights, "optimizer_bytes": optim}


def add_shard_report(folder: Path) -> None:
    """Every trainer that ``radrl train`` builds gets a callback writing the report above."""
    from transformers import TrainerCallback

    import radrl.training.rl as rl

    class ShardReport(TrainerCallback):
        def __init__(self):
            self.trainer = None

        def on_optimizer_step(self, args, state, control, **kwargs):  # gradients are still there
            trainer = self.trainer
            report = shard_report(trainer.model, trainer.optimizer, trainer.accelerator.process_index,
                                  state.global_step + 1)
            report["grad_bytes"] = sum(_local(p.grad).numel() * _local(p.grad).element_size()
                                       for p in trainer.model.parameters() if p.grad is not None)
            ref = trainer.ref_model if trainer.ref_model is not None else getattr(trainer, "_frozen_ref", None)
            if ref is not None:  # OraPO's frozen reference (TRL's prepare_fsdp under FSDP)
                report["reference"] = {"model_class": type(ref).__name__,
                                       "n_sharded": sum(_kind(p) != "Tensor" for p in ref.parameters()),
                                       "n_params": sum(1 for _ in ref.parameters()),
                                       "local_numel": sum(_local(p).numel() for p in ref.parameters()),
                                       "full_numel": sum(_full_numel(p) for p in ref.parameters())}
            path = folder / f"rank-{report['rank']}-step-{report['step']}.json"
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report))

    build = rl.build_trainer

    def build_with_report(*args, **kwargs):
        trainer = build(*args, **kwargs)
        callback = ShardReport()
        callback.trainer = trainer
        trainer.add_callback(callback)
        return trainer

    rl.build_trainer = build_with_report


if __name__ == "__main__":
    enable_fsdp_on_cpu()
    enable_deepspeed_on_cpu()
    if os.environ.get("RADRL_SHARD_REPORT"):
        add_shard_report(Path(os.environ["RADRL_SHARD_REPORT"]))
    from radrl.cli import main

    sys.exit(main(sys.argv[1:]))
