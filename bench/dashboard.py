"""The dashboard at 10,000 tasks, headless (``App.run_test``), against the stock DataTable.

Each figure in a fresh process, after all imports: launch to first rows painted, key
presses answered while 500 updates a second stream in, sort and filter, memory. Each timed
figure has an anchor measured in the same run: the stock DataTable launching, sorting and
showing the matching rows of the same 10,000 tasks, and a bare Textual app answering keys
with nothing streaming in.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static
from vidwatch.core.changes import Change
from vidwatch.core.config import Config, Paths
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import Ok, Outcome
from vidwatch.core.media.settings import PreviewSettings
from vidwatch.core.model.records import State, TaskResult, utcnow
from vidwatch.core.polling.budget import Policy
from vidwatch.core.store.task_file import TaskStore
from vidwatch.ui.app import DashboardOptions, VidwatchApp
from vidwatch.ui.widgets.rows import SortKey
from vidwatch.ui.widgets.task_table import TaskTable

from bench.fixtures import records

SIZE = (160, 45)


@dataclass(frozen=True)
class Figures:
    launch: float  # seconds to first rows painted
    datatable_launch: float
    key_p95: float  # seconds, key press to repaint, while updates stream in
    key_median: float
    bare_key_p95: float  # a bare Textual app, nothing streaming in
    bare_key_median: float
    stills_key_p95: float  # key press to repaint while stills load (no polling)
    stills_key_median: float
    stills_drawn: int  # stills drawn during those presses
    stills_begun: int  # stills begun then (a host asked for the video), most cancelled
    updates_per_second: float
    sort: float
    filter: float
    datatable_sort: float  # the stock DataTable sorting the same rows
    datatable_filter: float  # ... clearing and adding the matching rows
    rss_mb: float


def task_file(count: int) -> Path:
    path = Path(tempfile.mkdtemp(prefix="vidwatch-bench-")) / "tasks.toml"
    TaskStore(path).replace_all(records(count))
    return path


class Streaming:
    """A client that answers at once with a new progress figure: every poll is an update.

    Jobs stay queued, so the scheduler asks again every 1-2 s: 3,000 unfinished tasks
    want far more than the 500 requests a second the budget allows, and get exactly that.
    """

    def __init__(self) -> None:
        self.rng = random.Random(3)
        self.answers = 0

    async def query(self, task_id: str) -> Outcome:
        self.answers += 1
        progress = float(self.rng.randrange(100))
        return Ok(TaskResult(State.QUEUED, "pending", progress=progress, checked_at=utcnow()))

    async def aclose(self) -> None:
        return None


def make_app(
    path: Path, *, key: str | None, client: Streaming | None, budget: float
) -> VidwatchApp:
    policy = Policy(
        min_interval=1.0, max_interval=2.0, concurrency=16, max_requests_per_second=budget
    )
    config = Config(base_url="https://gw.example", api_key=key, policy=policy)
    paths = Paths(path.parent / "config.toml", path, path.parent)

    def factory(config: Config) -> QueryClient:
        assert client is not None
        return client  # type: ignore[return-value]

    return VidwatchApp(DashboardOptions(paths, config), client_factory=factory)


class Painted:
    """When the next frame after a change reached the (headless) screen."""

    def __init__(self) -> None:
        self.at = 0.0
        self.event = asyncio.Event()

    def mark(self) -> None:
        self.at = time.perf_counter()
        self.event.set()

    async def wait(self) -> float:
        await self.event.wait()
        return self.at


async def after_paint(app: App[Any]) -> float:
    painted = Painted()
    app.screen.call_after_refresh(painted.mark)
    return await painted.wait()


async def launch(path: Path) -> float:
    """Seconds from starting the app to the first rows on screen (no network)."""
    app = make_app(path, key=None, client=None, budget=10)
    painted = Painted()
    apply = app.main.apply_changes

    def timed_apply(changes: Sequence[Change]) -> None:  # the first one shows the list
        apply(changes)
        app.screen.call_after_refresh(painted.mark)

    app.main.apply_changes = timed_apply  # type: ignore[method-assign]
    start = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        done = await painted.wait()
        assert app.main.table.row_count == 10_000
        await pilot.pause()
    return done - start


class Stock(App[None]):
    def __init__(self, rows: Sequence[tuple[str, ...]]) -> None:
        super().__init__()
        self.rows = rows
        self.painted = Painted()

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("task", "state", "age", "updated", "checked", "next", "prompt")
        table.add_rows(self.rows)
        self.call_after_refresh(self.painted.mark)


def stock_rows(count: int) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for record in records(count):
        r = record.result
        rows.append(
            (record.id, r.state.value, "5m", "4m", "10s", "in 3s", (r.enhanced_prompt or "")[:60])
        )
    return rows


async def datatable_launch(count: int) -> float:
    app = Stock(stock_rows(count))
    start = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        done = await app.painted.wait()
        await pilot.pause()
    return done - start


def timed_cursor(table: TaskTable, latencies: list[float]) -> list[float]:
    """Time each cursor move of ``table`` from the last time put in the list returned
    (a key's sending) to the frame that shows it, into ``latencies``."""
    original = table.action_cursor
    sent: list[float] = []

    def timed(delta: int) -> None:
        original(delta)
        table.call_after_refresh(lambda: latencies.append(time.perf_counter() - sent[-1]))

    table.action_cursor = timed  # type: ignore[method-assign]
    return sent


async def keys_under_load(path: Path, presses: int = 300) -> tuple[float, float, float]:
    """(p95, median) seconds from a key press to its repaint, and updates/s meanwhile."""
    client = Streaming()
    app = make_app(path, key="sk-bench", client=client, budget=500)
    latencies: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        table = app.main.query_one(TaskTable)
        await asyncio.sleep(2.0)  # polling reaches its pace
        sent = timed_cursor(table, latencies)
        first = client.answers
        started = time.perf_counter()
        for n in range(presses):
            sent.append(time.perf_counter())
            app.post_message(events.Key("down" if n % 2 == 0 else "up", None))
            await asyncio.sleep(random.uniform(0.03, 0.07))
        rate = (client.answers - first) / (time.perf_counter() - started)
        await pilot.pause()
    latencies.sort()
    return latencies[int(0.95 * len(latencies))], statistics.median(latencies), rate


def press_gap(n: int, rng: random.Random) -> float:
    """Seconds after key press ``n``: 30–70 ms, as keys held or tapped; every eighth
    press the cursor rests past the still view's settle delay, so a still is begun (and
    cancelled by the next press, or drawn)."""
    from vidwatch.ui.widgets.still import SETTLE

    if n % 8 == 7:
        return SETTLE + rng.uniform(0.05, 0.25)
    return rng.uniform(0.03, 0.07)


class Paced(httpx.AsyncByteStream):
    """A body sent in 64 KB pieces at ``rate`` bytes a second."""

    def __init__(self, data: bytes, rate: int) -> None:
        self.data = data
        self.rate = rate

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), 64 * 1024):
            piece = self.data[start : start + 64 * 1024]
            await asyncio.sleep(len(piece) / self.rate)
            yield piece


class VideoHost:
    """Every video URL answered, by ranges, with one 10 MB faststart MP4 at 10 MB/s (the
    still rows' host, in process: httpx's MockTransport)."""

    RATE = 10 * 1024 * 1024

    def __init__(self) -> None:
        from vidwatch.simulator.videos import padded, video_file

        self.video = padded(video_file("bench", "16:9", 10.0, True), 10 * 1024 * 1024)
        self.asked = 0  # requests for a video

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked += 1
        size = len(self.video)
        asked = request.headers.get("Range", "bytes=0-").removeprefix("bytes=")
        first, _, last = asked.partition("-")
        start, end = int(first), min(int(last or size - 1), size - 1)
        headers = {
            "Content-Type": "video/mp4",
            "Content-Length": str(end - start + 1),
            "Content-Range": f"bytes {start}-{end}/{size}",
        }
        return httpx.Response(
            206, headers=headers, stream=Paced(self.video[start : end + 1], self.RATE)
        )


async def keys_while_stills_load(path: Path, presses: int = 300) -> tuple[float, float, int, int]:
    """(p95, median) seconds from a key press to its repaint while the cursor sweeps over
    finished jobs whose stills load (each a 10 MB video on a host at 10 MB/s: a still
    begun where the cursor rests, cancelled when it moves on) or, for six seen before,
    are drawn from memory; how many stills were drawn meanwhile, and how many requests
    the host had for videos (stills begun)."""
    os.environ["XDG_CACHE_HOME"] = str(path.parent / "cache")  # never the user's cache
    policy = Policy(min_interval=1.0, max_interval=2.0, concurrency=16)
    config = Config(
        base_url="https://gw.example", policy=policy, preview=PreviewSettings("halfblock")
    )
    paths = Paths(path.parent / "config.toml", path, path.parent)
    host = VideoHost()
    app = VidwatchApp(
        DashboardOptions(paths, config), downloader_transport=httpx.MockTransport(host.handle)
    )
    latencies: list[float] = []
    drawn = 0
    async with app.run_test(size=SIZE) as pilot:
        table = app.main.query_one(TaskTable)
        still = app.main.still
        await pilot.pause(0.5)
        seen = 0
        while seen < 6:  # six stills made first: coming back to them draws from memory
            await pilot.press("down")
            await pilot.pause()
            if still.display:
                for _ in range(400):  # 20 s at most
                    if still.shown is not None:
                        break
                    await pilot.pause(0.05)
                seen += 1
        await pilot.press("home")
        await pilot.pause(0.5)
        original_show = still._show

        def counted_show(*args: Any) -> None:
            nonlocal drawn
            drawn += 1
            original_show(*args)

        still._show = counted_show  # type: ignore[method-assign,assignment]
        sent = timed_cursor(table, latencies)
        asked_before = host.asked
        rng = random.Random(7)
        for n in range(presses):
            sent.append(time.perf_counter())
            # down 48, back 16: over jobs not seen yet, and back over some that were
            app.post_message(events.Key("down" if n % 64 < 48 else "up", None))
            await asyncio.sleep(press_gap(n, rng))
        await pilot.pause()
        begun = host.asked - asked_before
    latencies.sort()
    p95, median = latencies[int(0.95 * len(latencies))], statistics.median(latencies)
    return p95, median, drawn, begun


class Bare(App[None]):
    """The anchor for key presses: a bare Textual app, nothing streaming in. A key
    rewrites one full-screen widget, so every press repaints as much as a cursor move."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies: list[float] = []
        self.sent = 0.0
        self.presses = 0

    def compose(self) -> ComposeResult:
        yield Static()

    def on_key(self, event: events.Key) -> None:
        self.presses += 1
        line = f"{event.key} {self.presses} " * 12
        self.query_one(Static).update("\n".join(line for _ in range(SIZE[1])))
        self.call_after_refresh(lambda: self.latencies.append(time.perf_counter() - self.sent))


async def bare_keys(presses: int = 300) -> tuple[float, float]:
    """(p95, median) seconds from a key press to its repaint in a bare app, timed as above."""
    app = Bare()
    rng = random.Random(7)  # the presses of the stills row, at the same moments
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for n in range(presses):
            app.sent = time.perf_counter()
            app.post_message(events.Key("down" if n % 2 == 0 else "up", None))
            await asyncio.sleep(press_gap(n, rng))
        await pilot.pause()
    latencies = sorted(app.latencies)
    return latencies[int(0.95 * len(latencies))], statistics.median(latencies)


async def sort_and_filter(path: Path) -> tuple[float, float]:
    app = make_app(path, key=None, client=None, budget=10)
    async with app.run_test(size=SIZE) as pilot:
        table = app.main.query_one(TaskTable)
        await pilot.pause(0.5)
        assert table.row_count == 10_000
        sorts = []
        for key in (SortKey.STATE, SortKey.UPDATED, SortKey.ADDED, SortKey.STATE):
            start = time.perf_counter()
            table.set_sort(key)
            sorts.append(await after_paint(app) - start)
        filters = []
        for text in ("f", "fa", "fai", "fail", "failed", "", "cow", "batch 7", ""):
            start = time.perf_counter()
            table.set_filter(text)
            filters.append(await after_paint(app) - start)
    return max(sorts), max(filters)


async def datatable_sort_and_filter(count: int) -> tuple[float, float]:
    """The anchors for sort and filter: the stock DataTable sorting the same rows by a
    column, and showing the rows that match (it has no filter: clear, add the matches)."""
    rows = stock_rows(count)
    app = Stock(rows)
    async with app.run_test(size=SIZE) as pilot:
        await app.painted.wait()
        await pilot.pause(0.5)
        table = app.query_one(DataTable)
        task, state, *_ = table.columns
        sorts = []
        for column in (state, task, state, task):
            start = time.perf_counter()
            table.sort(column)
            sorts.append(await after_paint(app) - start)
        filters = []
        for text in ("f", "fa", "fai", "fail", "failed", "", "cow", "batch 7", ""):
            start = time.perf_counter()
            table.clear()
            table.add_rows(row for row in rows if any(text in cell for cell in row))
            filters.append(await after_paint(app) - start)
    return max(sorts), max(filters)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def memory(path: Path) -> float:
    """Resident memory with 10,000 tasks loaded, polled, saved for a few seconds."""
    client = Streaming()
    app = make_app(path, key="sk-bench", client=client, budget=500)
    async with app.run_test(size=SIZE):
        await asyncio.sleep(4.0)
        return rss_mb()


PARTS: dict[str, Callable[[Path], Coroutine[Any, Any, Any]]] = {
    "launch": lambda path: launch(path),
    "datatable": lambda path: datatable_launch(10_000),
    "keys": lambda path: keys_under_load(path),
    "bare_keys": lambda path: bare_keys(),
    "keys_stills": lambda path: keys_while_stills_load(path),
    "sort_filter": lambda path: sort_and_filter(path),
    "datatable_sort_filter": lambda path: datatable_sort_and_filter(10_000),
    "memory": lambda path: memory(path),
}


def part(name: str, path: Path) -> Any:
    """Run one measurement in a fresh interpreter, as a user's process would be."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.dashboard", name, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(count: int = 10_000) -> Figures:
    path = task_file(count)
    # Interleaved, best of 3 each, so that both see the same machine (the first run also
    # warms the file cache).
    launches, stock = [], []
    for _ in range(3):
        launches.append(part("launch", path))
        stock.append(part("datatable", path))
    key_p95, key_median, rate = part("keys", path)
    bare_p95, bare_median = part("bare_keys", path)
    stills_p95, stills_median, drawn, begun = part("keys_stills", path)
    sort, filter_ = part("sort_filter", path)
    stock_sort, stock_filter = part("datatable_sort_filter", path)
    return Figures(
        launch=min(launches),
        datatable_launch=min(stock),
        key_p95=key_p95,
        key_median=key_median,
        bare_key_p95=bare_p95,
        bare_key_median=bare_median,
        stills_key_p95=stills_p95,
        stills_key_median=stills_median,
        stills_drawn=drawn,
        stills_begun=begun,
        updates_per_second=rate,
        sort=sort,
        filter=filter_,
        datatable_sort=stock_sort,
        datatable_filter=stock_filter,
        rss_mb=part("memory", path),
    )


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(json.dumps(asyncio.run(PARTS[sys.argv[1]](Path(sys.argv[2])))))
    else:
        print(measure())
