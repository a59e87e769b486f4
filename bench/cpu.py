"""CPU per poll, measured against raw aiohttp in one run.

The simulator runs in a separate process (``vidwatch simulate``), so only the client's
CPU is counted; ``time.process_time`` covers every thread of this process.

- raw aiohttp: a session, the same GET, ``json.loads`` of the body — the floor;
- httpx with its default transport: a bare client, the same GET and ``json.loads``;
- vidwatch engine: the real Poller and the QueryClient the dashboard makes
  (``client_for``: httpx on the production transport), schedule, request, parse, model
  update;
- the same engine with httpx's default transport instead: the transport choice, alone;
- vidwatch dashboard: all of the above plus the table and header updates, the app
  headless, its client made by the app itself (the same ``client_for``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
from vidwatch.core.clients import client_for
from vidwatch.core.config import Config, Paths
from vidwatch.core.model.records import Task, utcnow
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.poller import Poller
from vidwatch.core.session import Session
from vidwatch.core.store.task_file import TaskStore
from vidwatch.ui.app import DashboardOptions, VidwatchApp

QUERY = "/v1/video/query"
# Every task is due all the time: the pipeline never waits, as in the raw loop.
POLICY = Policy(min_interval=0.001, max_interval=0.002, concurrency=8, max_requests_per_second=1e6)


@dataclass(frozen=True)
class Simulated:
    process: subprocess.Popen[str]
    base_url: str
    key: str
    ids: list[str]


@dataclass(frozen=True)
class Figures:
    raw_aiohttp: float  # CPU ms per poll
    httpx_default: float
    engine: float
    engine_httpx_default: float  # the same engine on httpx's default transport
    dashboard: float


def start_simulator(jobs: int, seed: int = 1) -> Simulated:
    """Run ``vidwatch simulate`` (jobs an hour long: every poll finds them running)."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "vidwatch", "simulate",
            "--jobs", str(jobs), "--seed", str(seed), "--speed", "0.01",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    base_url = key = ""
    ids: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(ids) < jobs:
        line = process.stdout.readline()
        if not line:
            break
        word = line.strip()
        if word.startswith("vidwatch simulator listening on "):
            base_url = word.split()[-1]
        elif word.startswith("api key"):
            key = word.split()[-1]
        elif ":" in word and " " not in word and not word.startswith("export"):
            ids.append(word)
    if not (base_url and key and len(ids) == jobs):
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


async def engine(sim: Simulated, total: int, *, httpx_transport: bool = False) -> float:
    """The real poller and the dashboard's client: scheduling, request, parse, model
    update, a listener. ``httpx_transport``: httpx's default transport under it."""
    config = Config(base_url=sim.base_url, api_key=sim.key, policy=POLICY)
    transport = None  # the production transport, chosen by vidwatch.core.gateway.http
    if httpx_transport:
        limits = httpx.Limits(max_connections=POLICY.concurrency)
        transport = httpx.AsyncHTTPTransport(limits=limits)
    folder = Path(tempfile.mkdtemp(prefix="vidwatch-bench-"))  # nothing is saved in it
    async with client_for(config, transport=transport) as client:
        poller = Poller(client, POLICY)
        Session(TaskStore(folder / "tasks.toml"), poller).add(sim.ids)  # their one owner
        seen = 0

        def listener(event: object) -> None:
            nonlocal seen
            seen += 1

        poller.subscribe(listener)
        await poller.run(until=lambda: poller.requests_total >= 200)  # warm up
        await poller.aclose()
        first = poller.requests_total
        start = time.process_time()
        await poller.run(until=lambda: poller.requests_total - first >= total)
        await poller.aclose()
        return (time.process_time() - start) / (poller.requests_total - first) * 1000


async def dashboard(sim: Simulated, total: int) -> float:
    """The whole dashboard, headless: every answer reaches the table and the header."""
    folder = Path(tempfile.mkdtemp(prefix="vidwatch-bench-"))
    tasks = folder / "tasks.toml"
    TaskStore(tasks).add([Task(i, utcnow()) for i in sim.ids])
    config = Config(base_url=sim.base_url, api_key=sim.key, policy=POLICY)
    app = VidwatchApp(DashboardOptions(Paths(folder / "c.toml", tasks, folder), config))
    async with app.run_test(size=(160, 45)):
        poller = app.poller
        await _requests(poller, 500)  # warm up
        first = poller.requests_total
        start = time.process_time()
        await _requests(poller, first + total)
        spent = time.process_time() - start
        return spent / (poller.requests_total - first) * 1000


async def _requests(poller: Poller, count: int) -> None:
    """Until the poller has sent ``count`` requests in all."""
    reached = asyncio.Event()

    def check(event: object) -> None:
        if poller.requests_total >= count:
            reached.set()

    unsubscribe = poller.subscribe(check)
    try:
        await reached.wait()
    finally:
        unsubscribe()


async def measure_async(total: int, jobs: int) -> Figures:
    sim = start_simulator(jobs)
    try:
        return Figures(
            raw_aiohttp=await raw_aiohttp(sim, total),
            httpx_default=await httpx_default(sim, total),
            engine=await engine(sim, total),
            engine_httpx_default=await engine(sim, total // 2, httpx_transport=True),
            dashboard=await dashboard(sim, total),
        )
    finally:
        sim.process.terminate()
        sim.process.wait(5)


def measure(total: int = 4000, jobs: int = 1000) -> Figures:
    return asyncio.run(measure_async(total, jobs))


if __name__ == "__main__":
    print(measure())
