"""``make bench``: CPU per poll, measured against its anchors in one run.

The simulator runs in a separate process so only the client's CPU is counted
(``time.process_time`` covers every thread of this process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import httpx

from app.core.api import QueryClient
from app.core.models import Task, TaskRecord, utcnow
from app.core.poller import Poller, PollerEvent
from app.core.scheduler import Policy

QUERY = "/v1/video/query"
GOAL_MS = 0.8  # issue 2: one poll, end to end, at most 0.8 ms of CPU


@dataclass(frozen=True)
class Simulated:
    process: subprocess.Popen[str]
    base_url: str
    key: str
    ids: list[str]


def start_simulator(jobs: int, seed: int = 1) -> Simulated:
    """Run ``vidwatch simulate`` and read its base URL, key and task IDs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "simulate", "--jobs", str(jobs), "--seed", str(seed)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    base_url = key = ""
    ids: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(ids) < jobs:
        line = process.stdout.readline()
        if not line:
            break
        word = line.strip()
        if word.startswith("http://"):
            base_url = word.split()[-1]
        elif "http://" in word:
            base_url = word[word.index("http://") :].split()[0]
        elif word.lower().startswith(("key", "api key", "api_key")):
            key = word.split()[-1]
        elif ":" in word and " " not in word:
            ids.append(word)
    if not (base_url and key and ids):
        process.kill()
        raise SystemExit(f"could not start the simulator (got {base_url!r}, {len(ids)} ids)")
    return Simulated(process, base_url, key, ids)


async def cpu_per_call(fn: Callable[[str], Awaitable[None]], ids: list[str], total: int) -> float:
    """CPU milliseconds per call, ``total`` calls with 8 in flight."""
    for task_id in ids[:50]:
        await fn(task_id)  # warm up connections and caches
    semaphore = asyncio.Semaphore(8)

    async def one(index: int) -> None:
        async with semaphore:
            await fn(ids[index % len(ids)])

    start = time.process_time()
    await asyncio.gather(*(one(i) for i in range(total)))
    return (time.process_time() - start) / total * 1000


async def raw_aiohttp(sim: Simulated, total: int) -> float:
    headers = {"Authorization": f"Bearer {sim.key}", "Accept": "application/json"}
    async with aiohttp.ClientSession(base_url=sim.base_url, headers=headers) as session:

        async def get(task_id: str) -> None:
            async with session.get(QUERY, params={"id": task_id}) as response:
                json.loads(await response.read())

        return await cpu_per_call(get, sim.ids, total)


async def httpx_default(sim: Simulated, total: int) -> float:
    headers = {"Authorization": f"Bearer {sim.key}", "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=sim.base_url, headers=headers) as client:

        async def get(task_id: str) -> None:
            response = await client.get(QUERY, params={"id": task_id})
            json.loads(response.content)

        return await cpu_per_call(get, sim.ids, total)


async def vidwatch_client(sim: Simulated, total: int) -> float:
    async with QueryClient(sim.base_url, sim.key) as client:

        async def get(task_id: str) -> None:
            await client.query(task_id)

        return await cpu_per_call(get, sim.ids, total)


async def vidwatch_end_to_end(sim: Simulated, total: int) -> float:
    """The real poller: scheduling, request, parse, model update, listener."""
    policy = Policy(
        min_interval=0.001, max_interval=0.001, concurrency=8, max_requests_per_second=1e6
    )
    now = utcnow()
    records = {i: TaskRecord(Task(i, now)) for i in sim.ids}
    async with QueryClient(sim.base_url, sim.key, connections=8) as client:
        poller = Poller(client, policy, records)
        seen = 0

        def listener(event: PollerEvent) -> None:
            nonlocal seen
            seen += 1

        poller.subscribe(listener)
        await poller.run(until=lambda: poller.requests_total >= 50)  # warm up
        await poller.aclose()
        start_requests = poller.requests_total
        start = time.process_time()
        await poller.run(until=lambda: poller.requests_total - start_requests >= total)
        await poller.aclose()
        spent = time.process_time() - start
        return spent / (poller.requests_total - start_requests) * 1000


def row(name: str, value: str, anchor: str, ratio: str, goal: str, verdict: str) -> str:
    return f"| {name} | {value} | {anchor} | {ratio} | {goal} | {verdict} |"


async def run(total: int, jobs: int) -> int:
    sim = start_simulator(jobs)
    try:
        results = {
            "raw aiohttp": await raw_aiohttp(sim, total),
            "httpx default transport": await httpx_default(sim, total),
            "vidwatch QueryClient": await vidwatch_client(sim, total),
            "vidwatch poll end to end": await vidwatch_end_to_end(sim, total),
        }
    finally:
        sim.process.terminate()
        sim.process.wait(5)
    raw = results["raw aiohttp"]
    print(f"CPU per poll over loopback, {total} requests each, 8 in flight, one run:\n")
    print("| measure | CPU ms/poll | anchor (raw aiohttp) | ratio | goal | pass |")
    print("|---|---|---|---|---|---|")
    failed = False
    for name, value in results.items():
        goal = verdict = "–"
        if name == "vidwatch poll end to end":
            goal = f"≤ {GOAL_MS} ms"
            ok = value <= GOAL_MS
            verdict = "yes" if ok else "NO"
            failed = not ok
        print(row(name, f"{value:.3f}", f"{raw:.3f}", f"{value / raw:.1f}×", goal, verdict))
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=500)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.requests, args.jobs)))


if __name__ == "__main__":
    main()
