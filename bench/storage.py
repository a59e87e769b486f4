"""Saving and loading 10,000 tasks: load time, and how long a save holds up the event loop.

The loop runs a 1 ms ticker while the dashboard's real save path runs (snapshot on the
loop, merge and write in a thread, adopt on the loop); the longest gap between ticks
is how long the UI could not answer a key.

Anchors, measured in the same run: the standard library's ``tomllib`` parsing the same
file (for the load), and each save's own duration (for the stall): the save does its work
in a thread, and the share of it the event loop still waits for is what the UI feels.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from vidwatch.core.model.records import utcnow
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.poller import Poller
from vidwatch.core.session import Session
from vidwatch.core.store.task_file import TaskStore

from bench.fixtures import records


@dataclass(frozen=True)
class Figures:
    load: float  # seconds, 10,000 tasks from a cold store
    tomllib_load: float  # seconds for tomllib to read and parse the same file
    size_mb: float
    save: float  # seconds a save takes (in its thread)
    save_block: float  # longest event-loop stall during saves
    save_block_ratio: float  # the worst stall's share of the save it happened in
    reload: float  # seconds the save after another process rewrote the file takes
    reload_block: float  # ... and the longest stall during it


async def _stall_during(work: asyncio.Future[object] | asyncio.Task[object]) -> float:
    stalls: list[float] = []

    async def ticker() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - start - 0.001)

    tick = asyncio.create_task(ticker())
    await work
    tick.cancel()
    return max(stalls, default=0.0)


async def saving(path: Path) -> tuple[float, float, float, float, float]:
    session = Session(TaskStore(path), Poller(None, Policy()))
    session.load()
    gc.collect()  # as the dashboard does once its list is loaded
    gc.freeze()
    durations: list[float] = []
    worst = worst_ratio = 0.0
    for round_ in range(5):
        now = utcnow()
        for task_id, record in list(session.records.items()):  # every task has news
            changed = replace(record.result, checked_at=now, progress=float(round_))
            session.store_result(task_id, changed)
        session.mark_dirty()
        start = time.perf_counter()
        stall = await _stall_during(asyncio.ensure_future(session.save_async()))
        durations.append(time.perf_counter() - start)
        worst = max(worst, stall)
        worst_ratio = max(worst_ratio, stall / durations[-1])
    # Another process rewrites the file: the next save must read it again.
    TaskStore(path).add([])  # no-op
    other = TaskStore(path)
    other.replace_all(list(other.load().records.values()))
    session.mark_dirty()
    start = time.perf_counter()
    reload_block = await _stall_during(asyncio.ensure_future(session.save_async()))
    reload = time.perf_counter() - start
    return statistics.median(durations), worst, worst_ratio, reload, reload_block


def measure(count: int = 10_000) -> Figures:
    path = Path(tempfile.mkdtemp(prefix="vidwatch-bench-")) / "tasks.toml"
    TaskStore(path).replace_all(records(count))
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        loaded = TaskStore(path).load()
        loads.append(time.perf_counter() - start)
        assert len(loaded.records) == count
    anchors = []
    for _ in range(3):
        start = time.perf_counter()
        with path.open("rb") as file:
            parsed = tomllib.load(file)
        anchors.append(time.perf_counter() - start)
        assert parsed
    save, block, block_ratio, reload, reload_block = asyncio.run(saving(path))
    return Figures(
        load=min(loads),
        tomllib_load=min(anchors),
        size_mb=path.stat().st_size / 1e6,
        save=save,
        save_block=block,
        save_block_ratio=block_ratio,
        reload=reload,
        reload_block=reload_block,
    )


if __name__ == "__main__":
    print(measure())
