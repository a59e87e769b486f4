"""Saving and loading 10,000 tasks: load time, and how long a save holds up the event loop.

The loop runs a 1 ms ticker while the dashboard's real save path runs (snapshot on the
loop, merge and write in a thread, adopt on the loop); the longest gap between ticks
is how long the UI could not answer a key.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from vidwatch.core.budget import Policy
from vidwatch.core.models import utcnow
from vidwatch.core.poller import Poller
from vidwatch.core.session import Session
from vidwatch.core.store import TaskStore

from bench.fixtures import records


@dataclass(frozen=True)
class Figures:
    load: float  # seconds, 10,000 tasks from a cold store
    size_mb: float
    save: float  # seconds a save takes (in its thread)
    save_block: float  # longest event-loop stall during saves
    reload_block: float  # ... during a save after another process rewrote the file


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


async def saving(path: Path) -> tuple[float, float, float]:
    session = Session(TaskStore(path), Poller(None, Policy()))
    session.load()
    gc.collect()  # as the dashboard does once its list is loaded
    gc.freeze()
    durations: list[float] = []
    worst = 0.0
    for round_ in range(5):
        now = utcnow()
        for task_id, record in list(session.records.items()):  # every task has news
            changed = replace(record.result, checked_at=now, progress=float(round_))
            session.store_result(task_id, changed)
        session.mark_dirty()
        start = time.perf_counter()
        worst = max(worst, await _stall_during(asyncio.ensure_future(session.save_async())))
        durations.append(time.perf_counter() - start)
    # Another process rewrites the file: the next save must read it again.
    TaskStore(path).add([])  # no-op
    other = TaskStore(path)
    other.replace_all(list(other.load().records.values()))
    session.mark_dirty()
    reload_block = await _stall_during(asyncio.ensure_future(session.save_async()))
    return statistics.median(durations), worst, reload_block


def measure(count: int = 10_000) -> Figures:
    path = Path(tempfile.mkdtemp(prefix="vidwatch-bench-")) / "tasks.toml"
    TaskStore(path).replace_all(records(count))
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        loaded = TaskStore(path).load()
        loads.append(time.perf_counter() - start)
        assert len(loaded.records) == count
    save, block, reload_block = asyncio.run(saving(path))
    return Figures(min(loads), path.stat().st_size / 1e6, save, block, reload_block)


if __name__ == "__main__":
    print(measure())
