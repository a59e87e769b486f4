"""Downloads end to end against the simulator: bytes, resume, expired links, names, no key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from app.core.api import Ok, QueryClient
from app.core.downloads import Downloader, safe_filename
from app.core.models import State, Task, TaskRecord, TaskResult, utcnow
from app.core.simulator import Simulator, video_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(jobs=0, seed=21, video_size=300_000)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def finished(sim: Simulator, label: str = "") -> TaskRecord:
    """A job the simulator has finished, as vidwatch knows it after a poll."""
    job_id = sim.add_job(queue_time=0, duration=0.01, fails=False)
    await asyncio.sleep(0.05)
    async with QueryClient(sim.base_url, sim.api_key) as client:
        outcome = await client.query(job_id)
    assert isinstance(outcome, Ok), outcome
    assert outcome.result.video_url
    return TaskRecord(Task(job_id, utcnow(), label), outcome.result)


async def test_a_video_lands_whole_under_its_label_without_the_key(
    sim: Simulator, tmp_path: Path
) -> None:
    record = await finished(sim, "cow take 2")
    seen: list[tuple[int, int | None]] = []
    async with Downloader(tmp_path) as downloader:
        result = await downloader.download(
            record, lambda i, done, total: seen.append((done, total))
        )
    assert result.ok, result.message
    assert result.path is not None
    assert result.path.name.startswith("cow take 2 [")
    assert result.path.suffix == ".mp4"
    server_id = sim.jobs[record.id].server_id
    assert result.path.read_bytes() == video_bytes(server_id, 300_000)
    assert seen[-1] == (300_000, 300_000)
    assert len(seen) > 1  # progress came in steps
    assert list(tmp_path.glob("*.part")) == []
    assert sim.stats.key_sent_to_video_host == 0
    async with Downloader(tmp_path) as downloader:  # again: nothing to do
        again = await downloader.download(record)
    assert again.skipped
    assert sim.stats.videos == 1


async def test_an_interrupted_download_resumes_where_it_stopped(
    sim: Simulator, tmp_path: Path
) -> None:
    record = await finished(sim)
    sim.cut_video_after = 100_000
    async with Downloader(tmp_path) as downloader:
        first = await downloader.download(record)
    assert not first.ok
    parts = list(tmp_path.glob("*.part"))
    assert len(parts) == 1
    kept = parts[0].stat().st_size
    assert 0 < kept <= 100_000  # what arrived before the cut is kept
    ranges: list[str] = []

    def spy(request: httpx.Request) -> None:
        ranges.append(request.headers.get("range", ""))

    async with Downloader(tmp_path) as downloader:
        downloader._client.event_hooks["request"] = [_async(spy)]
        second = await downloader.download(record)
    assert second.ok, second.message
    assert ranges == [f"bytes={kept}-"]
    assert second.path is not None
    assert second.path.read_bytes() == video_bytes(sim.jobs[record.id].server_id, 300_000)


def _async(fn: Callable[[httpx.Request], None]) -> Callable[[httpx.Request], Awaitable[None]]:
    async def hook(request: httpx.Request) -> None:
        fn(request)

    return hook


async def test_an_expired_link_is_refreshed_by_polling_again(tmp_path: Path) -> None:
    sim = Simulator(jobs=0, seed=22, url_ttl=1)
    await sim.start()
    try:
        record = await finished(sim)
        await asyncio.sleep(2.1)  # the signed link expires
        refreshes: list[str] = []

        async def refresh(task_id: str) -> str | None:
            refreshes.append(task_id)
            async with QueryClient(sim.base_url, sim.api_key) as client:
                outcome = await client.query(task_id)
            return outcome.result.video_url if isinstance(outcome, Ok) else None

        async with Downloader(tmp_path, refresh=refresh) as downloader:
            result = await downloader.download(record)
        assert result.ok, result.message
        assert refreshes == [record.id]
        assert sim.stats.expired_links == 1
        async with Downloader(tmp_path / "other") as downloader:  # nobody to ask again
            failed = await downloader.download(record)
        assert not failed.ok
        assert "expired" in failed.message
    finally:
        await sim.stop()


async def test_a_short_body_is_caught_by_the_size_check(tmp_path: Path) -> None:
    record = TaskRecord(
        Task("grok:1", utcnow()),
        TaskResult(State.SUCCEEDED, "completed", "https://cdn.example/v.mp4"),
    )

    def full_file(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "1000"}, content=b"y" * 10)

    async with Downloader(tmp_path, transport=httpx.MockTransport(full_file)) as downloader:
        result = await downloader.download(record)
    assert not result.ok
    assert "got 10 of 1,000 bytes" in result.message
    assert not (tmp_path / safe_filename(record)).exists()  # never a short file by that name


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "file:///etc/passwd", "-o/tmp/x", "ftp://host/v.mp4"]
)
async def test_only_http_links_are_fetched(tmp_path: Path, url: str) -> None:
    record = TaskRecord(Task("grok:1", utcnow()), TaskResult(State.SUCCEEDED, "completed", url))
    async with Downloader(tmp_path) as downloader:
        result = await downloader.download(record)
    assert not result.ok
    assert "refused" in result.message


@pytest.mark.parametrize(
    ("label", "task_id", "expected"),
    [
        ("cow", "grok:abc-123", "cow [okabc123].mp4"),
        ("", "grok:abc-123", "grok_abc-123.mp4"),
        ("../../etc/passwd", "grok:1", "_.._etc_passwd [grok1].mp4"),
        ('a/b\\c:d*e?f"g<h>i|j', "x:1", "a_b_c_d_e_f_g_h_i_j [x1].mp4"),
        ("CON", "", "_CON.mp4"),
        ("trailing dots...", "v:9", "trailing dots... [v9].mp4"),
    ],
)
def test_file_names_are_safe_everywhere(label: str, task_id: str, expected: str) -> None:
    record = TaskRecord(
        Task(task_id or "CON", utcnow(), label),
        TaskResult(State.SUCCEEDED, "completed", "https://cdn.example/v/x.mp4?sig=1"),
    )
    if not task_id:
        record = TaskRecord(Task("CON", utcnow()), record.result)
    name = safe_filename(record)
    assert name == expected
    assert "/" not in name
    assert "\\" not in name
    assert len(name.encode()) <= 160


def test_long_and_unicode_names_stay_within_limits() -> None:
    record = TaskRecord(
        Task("grok:1", utcnow(), "一只橘猫" * 80),
        TaskResult(State.SUCCEEDED, "completed", "https://cdn.example/v/x.webm"),
    )
    name = safe_filename(record)
    assert name.endswith(".webm")
    assert len(name.encode()) <= 150 + len(".webm")
    name.encode("utf-8")
