"""The recipe's rewards in a scoring process of their own.

Python runs one thread at a time per process, so a server that labels reports in a thread of its
own process takes turns with its HTTP loop: with 64 single-sample clients the loop held the
interpreter about a third of the time, and the labeler waited. :class:`ScoringProcess` builds the
recipe's :class:`~radrl.rewards.offline.RewardScorer` in one worker process (``spawn``: safe with
CUDA) and scores every batch there, while the server's process only parses, batches and answers.
The server holds no labeler of its own: it learns the reward names, weights and schedules from the
worker, and sums the components with them by ``RewardScorer.totals`` itself.

``radrl serve --score-in thread`` keeps the old layout (one process, the scorer in a thread).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from types import SimpleNamespace

from radrl.rewards.offline import RewardScorer

_SCORER = None  # the worker process's RewardScorer


def _start(recipe, server_pid: int) -> dict:
    """In the worker: build the scorer; what the server needs to know of it."""
    global _SCORER
    threading.Thread(target=_exit_with, args=(server_pid,), daemon=True, name="radrl-watch-server").start()
    _SCORER = RewardScorer(recipe)
    return {"pid": os.getpid(), "names": _SCORER.names, "weights": list(_SCORER.rewards.weights),
            "schedules": list(_SCORER.rewards.schedules)}


def _exit_with(server_pid: int) -> None:
    """In the worker: exit once the server is gone (killed, so that it could not shut us down)."""
    while os.getppid() == server_pid:
        time.sleep(1.0)
    os._exit(0)


def score_components(rows: Sequence[dict]) -> list[dict]:
    """In the worker: each reward's value on each row (``RewardScorer.components``)."""
    return _SCORER.components(rows)


class ScoringProcess:
    """A :class:`~radrl.rewards.offline.RewardScorer` stand-in whose ``components`` run in a
    worker process (pass :attr:`executor` to the batcher). Errors building the scorer (a missing
    labeler file, a bad recipe) are raised here, as building it in-process would."""

    components = staticmethod(score_components)

    def __init__(self, recipe):
        self.recipe = recipe
        self.executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        try:
            info = self.executor.submit(_start, recipe, os.getpid()).result()
        except BaseException:
            self.executor.shutdown(wait=False, cancel_futures=True)
            raise
        self.pid: int = info["pid"]  # the worker process
        self.names: list[str] = info["names"]
        self.rewards = SimpleNamespace(weights=info["weights"], schedules=info["schedules"])

    # the weights at a step and the weighted sums, as RewardScorer computes them from the same fields
    weights_at = RewardScorer.weights_at
    totals = RewardScorer.totals

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


__all__ = ["ScoringProcess", "score_components"]
