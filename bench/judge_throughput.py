"""Judge client throughput and failure behaviour against the loopback chat-completions server.

    python bench/judge_throughput.py [--requests 256] [--latency 0.05]

The server answers each request after ``--latency`` seconds (a stand-in for an LLM's time per
answer). For the throughput figures it runs in its own process, as a real endpoint would (in the
client's process it would share the GIL with it). Measured in one process: wall time of the same batch with 1 and with 32 requests in
flight (ratio = speed-up); then a server that stalls (timeout 1 s, 1 retry) and one that
returns garbage: what the client counts, and that it returns within the timeout budget.
Target (issue 6): 32 concurrent vs 1 as a ratio; no crash and no hang on stalls or garbage.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

from radrl.judges import JudgeClient, JudgeConfig, extract_facts, judge_criticality
from radrl.judges.loopback import LoopbackJudge

REPORT = "Small left pleural effusion. No pneumothorax. Heart size is normal."


def _serve(latency: float, port_queue, stop) -> None:
    with LoopbackJudge(latency=latency) as server:
        port_queue.put(server.base_url)
        stop.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=256)
    p.add_argument("--latency", type=float, default=0.05)
    a = p.parse_args()
    reports = [f"{REPORT} Study {i}." for i in range(a.requests)]
    ctx = mp.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=_serve, args=(a.latency, urls, stop), daemon=True)
    process.start()
    base_url = urls.get(timeout=60)
    try:
        times = {}
        for concurrency in (1, 32):
            client = JudgeClient(JudgeConfig(base_url=base_url, model="loopback", concurrency=concurrency))
            t0 = time.perf_counter()
            answers = judge_criticality(client, reports)
            times[concurrency] = time.perf_counter() - t0
            assert all(x is not None for x in answers)
            print(f"concurrency {concurrency:2d}: {a.requests} requests in {times[concurrency]:6.2f} s "
                  f"({a.requests / times[concurrency]:7.1f} requests/s)")
        print(f"speed-up 32 vs 1: {times[1] / times[32]:.1f}x (server latency {a.latency * 1000:.0f} ms)")
    finally:
        stop.set()
        process.join(timeout=10)

    with LoopbackJudge(mode="stall", stall_seconds=60) as server:
        client = JudgeClient(JudgeConfig(base_url=server.base_url, model="loopback", timeout=1.0, max_retries=1,
                                         backoff=0.1, on_error="fallback"))
        t0 = time.perf_counter()
        answers = judge_criticality(client, reports[:32])
        s = client.stats
        print(f"stalling server, 32 requests, timeout 1 s, 1 retry: returned in {time.perf_counter() - t0:.1f} s, "
              f"{s.timeouts} timeouts, {s.failures} failed requests, {s.fallbacks} offline fallbacks, "
              f"{sum(x is None for x in answers)} unanswered")

    with LoopbackJudge(mode="garbage") as server:
        client = JudgeClient(JudgeConfig(base_url=server.base_url, model="loopback", max_retries=1, backoff=0.01,
                                         on_error="fallback"))
        t0 = time.perf_counter()
        answers = extract_facts(client, reports[:64])
        s = client.stats
        print(f"garbage server, 64 requests: returned in {time.perf_counter() - t0:.1f} s, {s.requests} HTTP "
              f"requests ({s.retries} retries of non-JSON bodies), {s.fallbacks} unparseable answers -> offline "
              f"fallback, {sum(x is None for x in answers)} unanswered")


if __name__ == "__main__":
    main()
