"""Gather concurrent requests into one labeler batch.

Engines such as verl and OpenRLHF call a reward once per sample, from many workers at once.
Scored one by one, each request would pay the labeler's per-call cost; gathered, 64 concurrent
single-sample requests cost about what one batch of 64 costs. The first request of a batch waits
at most ``max_wait_s`` for others (``radrl serve``'s default is 0: a batch takes the requests that
queued while the batches in flight were scored, which under load is most of them; a wait would only
add latency, and it cost 64 single-sample clients a fifth of their throughput); a batch holds at
most ``max_batch`` rows (a larger request is scored alone). Scoring runs in one worker thread,
so the server keeps answering (``/health``, new requests, which form the next batch) while a
batch is scored. ``radrl serve`` scores in a
process of its own instead (``worker.py``), so that labelling and the HTTP loop do not take turns
on one interpreter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

logger = logging.getLogger("radrl.serve")

ScoreFn = Callable[[Sequence[dict]], list]


class Batcher:
    IN_FLIGHT = 2  # batches handed to the executor at once (its one worker scores them in turn)

    def __init__(self, score: ScoreFn, max_batch: int = 256, max_wait_s: float = 0.0,
                 executor: Executor | None = None):
        """``executor``: where ``score`` runs (one worker thread when None; a process pool, as
        ``worker.ScoringProcess`` gives, needs a picklable ``score``)."""
        self.score, self.max_batch, self.max_wait_s = score, max_batch, max_wait_s
        self.batches = self.rows = 0
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="radrl-reward")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True, cancel_futures=True)  # a scoring process exits with the server

    async def submit(self, rows: Sequence[dict]) -> list:
        """The scorer's output for ``rows``, scored in a batch with whatever else is waiting."""
        return await self.enqueue(rows)

    def enqueue(self, rows: Sequence[dict]) -> asyncio.Future:
        """A future of the scorer's output for ``rows``; cancel it and the rows are dropped unscored
        (unless their batch is already being scored)."""
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((list(rows), future))
        return future

    async def _gather(self) -> list[tuple[list, asyncio.Future]]:
        first = await self._queue.get()
        while first[1].cancelled():  # its client went away while it waited: dropped unscored
            first = await self._queue.get()
        items = [first]
        n = len(first[0])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        while n < self.max_batch:
            if self._queue.empty():
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    break
            else:
                item = self._queue.get_nowait()
            if item[1].cancelled():
                continue
            if n + len(item[0]) > self.max_batch:  # it starts the next batch
                self._queue.put_nowait(item)
                break
            items.append(item)
            n += len(item[0])
        return items

    async def _run(self) -> None:
        """Gather a batch, hand it to the executor, gather the next while it is scored: up to
        ``IN_FLIGHT`` batches at once, so that a scoring process is never idle while the server
        parses and answers (with one batch at a time, 64 clients moved in lockstep and the three
        processes took turns, at 1.2 of 2 cores)."""
        slots = asyncio.Semaphore(self.IN_FLIGHT)
        running: set[asyncio.Task] = set()
        try:
            while True:
                items = await self._gather()
                await slots.acquire()
                items = [(rows, fut) for rows, fut in items if not fut.cancelled()]  # its client went away
                if not any(rows for rows, _ in items):
                    slots.release()
                    continue
                task = asyncio.create_task(self._score_batch(items))
                running.add(task)
                task.add_done_callback(lambda t: (running.discard(t), slots.release()))
        finally:
            for task in running:
                task.cancel()

    async def _score_batch(self, items) -> None:
        loop = asyncio.get_running_loop()
        rows = [r for batch, _ in items for r in batch]
        try:
            scored = await loop.run_in_executor(self._executor, self.score, rows)
        except Exception as err:  # noqa: BLE001 - one request must not take the others down
            logger.warning("a batch of %d rows failed (%s); scoring its %d requests one by one",
                           len(rows), type(err).__name__, len(items))
            await self._one_by_one(items)
            return
        self.batches += 1
        self.rows += len(rows)
        at = 0
        for batch, future in items:
            if not future.done():
                future.set_result(scored[at: at + len(batch)])
            at += len(batch)

    async def _one_by_one(self, items) -> None:
        loop = asyncio.get_running_loop()
        for batch, future in items:
            try:
                result = await loop.run_in_executor(self._executor, self.score, batch)
            except Exception as err:  # noqa: BLE001
                if not future.done():
                    future.set_exception(err)
            else:
                if not future.done():
                    future.set_result(result)
