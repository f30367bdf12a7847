"""`radrl serve` throughput and latency against in-process batched scoring, then a memory soak.

    python bench/reward_server.py [--recipe deer_tfidf] [--soak 600] [--out runs/bench-serve.json]

Workload: IU X-Ray reports (../shared/data) as predictions against other studies' reports as
references, each made unique (a study number appended), so every arm labels fresh text and no
arm rides another's labeler cache. Three processes, so nothing shares a GIL: this one (the
in-process baseline, measured between the arms while the server idles), the server (`radrl serve`, its own
process), and the clients (one asyncio process with N concurrent aiohttp sessions).

* in-process: RewardScorer.components + totals on batches of 64 rows, what an engine's batch
  reward call costs when the rewards run inside it; measured (best of 2, fresh rows, server idle)
  before and after every arm, and each arm's ratio is to the mean of its two neighbours: this
  machine's speed drifts by 1.5x within minutes.
* server: 1, 8 and 64 concurrent clients, each sending one sample per request, and the same
  sending batches of 32; rewards/s, p50 and p99 request latency, and the ratio of rewards/s to
  the in-process figure; then 64 single-sample clients that each open a session (and a
  connection) per request, as OpenRLHF's HTTP reward client does. Target: 64 single-sample
  clients >= 50 % of in-process, pooled and per-request. The server scores in its own worker
  process (``radrl serve``'s default, ``--score-in process``).
* soak (--soak S): 64 single-sample clients for S seconds, cycling over 250,000 unique rows
  (more than the labeler cache's 200,000 texts); the server's RSS every 10 s. The caches are
  bounded, so RSS must level off once they are full: the second half must not grow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _shared import IU_MESH

ROOT = Path(__file__).resolve().parents[1]


def workload(n: int, tag: str, seed: int = 0) -> list[dict]:
    """``n`` unique (prediction, reference) rows; ``tag`` keeps each arm's texts its own."""
    if IU_MESH.exists():
        studies = [json.loads(line) for line in IU_MESH.read_text().splitlines()]
        texts = [f"{s.get('findings') or ''} {s.get('impression') or ''}".strip() for s in studies]
        texts = [t for t in texts if t]
    else:  # a fresh clone without ../shared: a few hand-written reports
        texts = ["Small left pleural effusion. Heart size is normal.", "Cardiomegaly with mild pulmonary edema.",
                 "The lungs are clear. No pneumothorax.", "Right lower lobe consolidation, likely pneumonia."]
    rng = random.Random(seed)
    return [{"prediction": f"{rng.choice(texts)} Study {tag}-{i}.", "reference": f"{rng.choice(texts)} Ref {tag}-{i}."}
            for i in range(n)]


def in_process(scorer, n: int, tag: str, batch: int = 64) -> float:
    """Rewards/s of ``scorer`` on ``n`` fresh rows, 64 a call."""
    rows = workload(n, tag)
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        scorer.totals(scorer.components(rows[i: i + batch]), 0)
    return n / (time.perf_counter() - t0)


def best_in_process(scorer, n: int, tag: str, repeats: int = 2) -> float:
    return max(in_process(scorer, n, f"{tag}{r}") for r in range(repeats))


# ---- the client process ---------------------------------------------------------------------

async def _clients(url: str, clients: int, size: int, rows: list[dict], duration: float | None,
                   fresh: bool = False) -> dict:
    """``clients`` concurrent clients on one pooled aiohttp session (aiohttp is what OpenRLHF's
    reward client uses; httpx spent 6 ms of CPU a request here and capped the clients, not the
    server, at 180/s), or with ``fresh`` a session and connection per request, as OpenRLHF's
    ``_fetch_rewards_via_http`` opens one for each call."""
    import aiohttp

    from radrl.integrations.backends import request_body

    latencies: list[float] = []
    bodies = [json.dumps(request_body(rows[i: i + size])) for i in range(0, len(rows), size)]
    sizes = [len(rows[i: i + size]) for i in range(0, len(rows), size)]
    cursor = done_rows = 0
    until = time.monotonic() + duration if duration else None  # from here: the bodies are built

    async def post(session, body):
        async with session.post(f"{url}/v1/rewards", data=body, headers={"content-type": "application/json"}) as r:
            r.raise_for_status()
            await r.read()

    async def worker(session):
        nonlocal cursor, done_rows
        while True:
            if (until is None and cursor >= len(bodies)) or (until is not None and time.monotonic() > until):
                return
            i = cursor % len(bodies)
            cursor += 1
            t0 = time.perf_counter()
            if fresh:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as own:
                    await post(own, bodies[i])
            else:
                await post(session, bodies[i])
            latencies.append(time.perf_counter() - t0)
            done_rows += sizes[i]

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(clients)))
        seconds = time.perf_counter() - t0
    latencies.sort()
    return {"rows": done_rows, "seconds": seconds, "rewards_per_s": done_rows / seconds,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def client_main(args) -> int:
    rows = workload(args.rows, args.tag)
    print(json.dumps(asyncio.run(_clients(args.client, args.clients, args.size, rows, args.duration,
                                          fresh=args.fresh))))
    return 0


def run_clients(url: str, clients: int, size: int, rows: int, tag: str, duration: float | None = None,
                fresh: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--client", url, "--clients", str(clients), "--size", str(size),
           "--rows", str(rows), "--tag", tag] + (["--duration", str(duration)] if duration else []) + (
               ["--fresh"] if fresh else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- the server -----------------------------------------------------------------------------

def start_server(recipe: str, port: int, options: list[str] = ()) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "radrl.cli", "serve", "--recipe", recipe, "--port", str(port),
                             "--log-level", "warning", *options], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"radrl serve did not start: {proc.stderr.read().decode()[-2000:]}")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def soak(url: str, pid: int, seconds: float) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--client", url, "--clients", "64", "--size", "1",
                             "--rows", "250000", "--tag", "soak", "--duration", str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    samples = []
    t0 = time.monotonic()
    while proc.poll() is None:
        samples.append((round(time.monotonic() - t0), rss_mb(pid)))
        time.sleep(10)
    result = json.loads(proc.stdout.read().strip().splitlines()[-1])
    rss = [r for _, r in samples]
    half = len(rss) // 2
    return {**result, "rss_mb": samples, "rss_first_mb": rss[0], "rss_last_mb": rss[-1], "rss_max_mb": max(rss),
            "rss_growth_second_half_mb": rss[-1] - rss[half] if half else 0.0}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="deer_tfidf")
    p.add_argument("--rows", type=int, default=3200, help="rows per arm")
    p.add_argument("--soak", type=float, default=0, help="seconds of soak after the arms (0: none)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--out", default="runs/bench-serve.json")
    p.add_argument("--max-wait-ms", type=float, default=None,
                   help="radrl serve's --max-wait-ms (default: its own default)")
    p.add_argument("--client", help=argparse.SUPPRESS)
    p.add_argument("--clients", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--tag", default="x", help=argparse.SUPPRESS)
    p.add_argument("--duration", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        return client_main(args)

    from radrl.recipe import load_recipe
    from radrl.rewards.offline import RewardScorer

    scorer = RewardScorer(load_recipe(args.recipe))
    scorer.components(workload(64, "warm"))  # imports, first-call costs
    server = start_server(args.recipe, args.port,
                          [] if args.max_wait_ms is None else ["--max-wait-ms", f"{args.max_wait_ms:g}"])
    url = f"http://127.0.0.1:{args.port}"
    results = {"recipe": args.recipe, "max_wait_ms": args.max_wait_ms, "arms": []}
    try:
        run_clients(url, 8, 1, 256, "warm")
        # each arm between two in-process measurements (best of 2, fresh rows): this machine's speed
        # drifts by 1.5x within minutes, so an arm is compared with the baseline of its own minutes
        arms, baselines = [], [best_in_process(scorer, args.rows, "b0", 2)]
        plan = [(c, s, False) for s in (1, 32) for c in (1, 8, 64)] + [(64, 1, True)]
        for clients, size, fresh in plan:
            rows = args.rows if size == 32 or clients > 1 else args.rows // 4
            r = run_clients(url, clients, size, rows, f"c{clients}s{size}{'f' * fresh}", fresh=fresh)
            baselines.append(best_in_process(scorer, args.rows, f"b{len(baselines)}", 2))
            r.update(clients=clients, size=size, fresh=fresh, in_process=(baselines[-2] + baselines[-1]) / 2)
            r["ratio"] = r["rewards_per_s"] / r["in_process"]
            arms.append(r)
        results.update(in_process_rewards_per_s=baselines)
        print(f"in-process batched (64 rows a call), between the arms: "
              f"{', '.join(f'{b:,.0f}' for b in baselines)} rewards/s  [{args.recipe}, {os.cpu_count()} CPUs]")
        print(f"{'clients':>7s} {'rows/req':>8s} {'session':>11s} {'rewards/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s} "
              f"{'in-proc':>8s} {'ratio':>6s}")
        for r in arms:
            results["arms"].append(r)
            print(f"{r['clients']:7d} {r['size']:8d} {'per request' if r['fresh'] else 'pooled':>11s} "
                  f"{r['rewards_per_s']:10,.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['in_process']:8,.0f} "
                  f"{r['ratio']:6.2f}")
        for fresh in (False, True):
            target = next(a for a in arms if a["clients"] == 64 and a["size"] == 1 and a["fresh"] == fresh)
            print(f"target: 64 single-sample clients ({'a session per request' if fresh else 'pooled'}) at >= 50 % "
                  f"of in-process: {target['ratio']:.0%} ({'met' if target['ratio'] >= 0.5 else 'NOT met'})")
        if args.soak:
            s = soak(url, server.pid, args.soak)
            results["soak"] = s
            print(f"soak {args.soak:.0f} s, 64 clients: {s['rows']:,} rewards ({s['rewards_per_s']:,.0f}/s, p99 "
                  f"{s['p99_ms']:.1f} ms); server RSS {s['rss_first_mb']:.0f} MB at start, max {s['rss_max_mb']:.0f} MB, "
                  f"{s['rss_last_mb']:.0f} MB at the end; growth over the second half {s['rss_growth_second_half_mb']:+.1f} MB")
    finally:
        server.terminate()
        server.wait(30)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
