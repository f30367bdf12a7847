"""Coordination between the processes of one ``accelerate launch`` (or ``torchrun``) without
collectives: long one-off work (building the synthetic benchmark, choosing the RL subset) must
never run while other ranks sit in a barrier, where NCCL's timeout (30 min by default) kills
the job. Ranks here meet through files instead: one writes, the others poll for it.

Rank and world size come from the launcher's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``), so nothing here initialises a process group.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


NODE_LOCAL_ENV = "RADRL_NODE_LOCAL_RUN"
"""Set (to 1) when every node of a launch has its own run folder (``rl.save_on_each_node: true``,
the setting transformers and accelerate use for the same case): :func:`run_stage` then runs on each
node's local rank 0, and each node writes its own folder. Unset: one folder every node sees, one
writer for the whole job (global rank 0)."""


def node_local() -> bool:
    return os.environ.get(NODE_LOCAL_ENV, "0") == "1"


@contextlib.contextmanager
def node_local_folder(enabled: bool):
    """Within the block, :func:`node_local` is ``enabled`` (a run whose recipe sets
    ``rl.save_on_each_node``); the setting before it comes back after."""
    saved = os.environ.get(NODE_LOCAL_ENV)
    os.environ[NODE_LOCAL_ENV] = "1" if enabled else "0"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(NODE_LOCAL_ENV, None)
        else:
            os.environ[NODE_LOCAL_ENV] = saved


def local_world_size() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size())))


def is_main() -> bool:
    """Whether this process writes the run folder: global rank 0 of the job, or, when each node has
    its own folder (:func:`node_local`), each node's local rank 0."""
    return (local_rank() if node_local() else rank()) == 0


def folder_ranks() -> tuple[int, int]:
    """(this process's rank, the number of processes) among those sharing its run folder."""
    return (local_rank(), local_world_size()) if node_local() else (rank(), world_size())


def local_device() -> str:
    """This process's accelerator: ``cuda:LOCAL_RANK`` when CUDA is there, else ``cpu``."""
    import torch

    return f"cuda:{local_rank()}" if torch.cuda.is_available() else "cpu"


def wait_for(ready: Callable[[], bool], what: str, poll: float = 2.0, timeout: float | None = None) -> None:
    """Block until ``ready()`` (a file another rank writes) holds. Prints what it waits for once
    a minute. Without a timeout it waits as long as the writer works; if the writer dies, the
    launcher stops this process too."""
    start = last = time.monotonic()
    while not ready():
        now = time.monotonic()
        if timeout is not None and now - start > timeout:
            raise TimeoutError(f"rank {rank()}: {what} not ready after {timeout:.0f} s")
        if now - last >= 60:
            print(f"rank {rank()}: waiting for {what} ({now - start:.0f} s)", file=sys.stderr)
            last = now
        time.sleep(poll)


def shutdown_process_group() -> None:
    """Destroy torch.distributed's process group, if this process opened one, while Python is
    still fully alive. Left to interpreter teardown, gloo's worker threads can still hold work
    that touches Python objects, and the process dies with SIGABRT ("terminate called without an
    active exception") after a run that had finished well; the launcher then reports the run as
    failed. PyTorch asks every script to call this at its end (torch.distributed docs, "Shutdown").
    Local: no collective, so it cannot hang when another rank has already gone. A script that holds
    an ``Accelerator`` can call its ``end_training()`` instead; the CLI has none at this level, and
    building accelerate's state here would open a group in a command that never needed one.

    ``destroy_process_group`` only drops torch.distributed's own references: a DDP model still
    holds the group (its reducer does), and a finished ``Trainer`` often sits in a reference cycle
    that only the cycle collector frees. Then the group, its gloo threads with it, would still die
    at teardown. So the collector runs first, and the group goes with the last model that held it,
    while Python is alive. Callers drop their own references (``del trainer``) before calling."""
    if "torch.distributed" not in sys.modules:  # never imported torch: nothing to close, stay light
        return
    import gc

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        gc.collect()  # free unreachable trainers and DDP wrappers, and so their hold on the group
        dist.destroy_process_group()


LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE",
                    "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID", "ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED")


@contextlib.contextmanager
def alone():
    """Run a block as a one-process job inside a launched run (rank 0's stages): the launcher's
    variables are hidden, so a ``Trainer`` built inside (the labeler's) does not wait for the other
    ranks to join a process group; accelerate's cached state is dropped before and after, so the
    RL trainer later joins the real group."""
    saved = {k: os.environ.pop(k) for k in LAUNCH_VARIABLES if k in os.environ}
    _reset_accelerate()
    try:
        yield
    finally:
        _reset_accelerate()
        os.environ.update(saved)


def _reset_accelerate() -> None:
    if "accelerate" not in sys.modules:
        return
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
