"""A look at a finished job: its still and facts, the cheapest way, never an exception."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest
from vidwatch.core.media.cache import StillCache
from vidwatch.core.media.decoder import Decoders
from vidwatch.core.media.previews import Previews, _Slots
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult, VideoFacts, utcnow
from vidwatch.simulator.videos import padded, still_jpeg, video_file

from tests.support.video_host import VideoHost

MB = 1024 * 1024
URL = "https://cdn.example/v/abc.mp4?sig=1"
THUMB = "https://cdn.example/v/abc.jpg"


def finished(
    url: str | None = URL, thumb: str | None = None, saved: str | None = None
) -> TaskRecord:
    result = TaskResult(
        State.SUCCEEDED, "completed", video_url=url, thumbnail_url=thumb, checked_at=utcnow()
    )
    return TaskRecord(Task("grok:abc", utcnow(), saved_to=saved), result)


def previews(host: VideoHost, folder: Path, **kwargs: object) -> Previews:
    kept = StillCache(folder, 16 * MB, free_space=lambda _: 10**12)
    return Previews(kept, transport=host.transport(), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ten_mb() -> bytes:
    return padded(video_file("previews", "16:9", 6.0, True), 10 * MB)


@pytest.mark.e2e
async def test_a_still_of_a_10_mb_video_reads_a_few_blocks_and_is_kept(
    ten_mb: bytes, tmp_path: Path
) -> None:
    host = VideoHost(ten_mb)
    looks = previews(host, tmp_path)
    try:
        preview = await looks.get(finished())
    finally:
        await looks.aclose()
    assert preview.why is None, preview.why
    assert preview.still is not None
    assert preview.still.startswith(b"\xff\xd8\xff")
    assert preview.facts is not None
    assert preview.facts.duration == pytest.approx(6.0, abs=0.3)
    assert preview.facts == VideoFacts(
        256, 144, preview.facts.duration, 8.0, "h264", "aac", 10 * MB
    )
    assert preview.source == "link"
    assert host.sent == preview.read <= 3 * MB
    assert not any("authorization" in h for h in host.headers)
    # a restart: the disk has it; neither the host nor a decoder is asked again
    never = Decoders([sys.executable, "-c", "raise SystemExit(3)"], keep_spare=False)
    again = previews(host, tmp_path, decoders=never)
    kept = await again.get(finished())
    await again.aclose()
    assert (kept.still, kept.facts, kept.source) == (preview.still, preview.facts, "cache")
    assert never.started == 0
    assert host.sent == preview.read


@pytest.mark.e2e
async def test_the_servers_own_still_is_used_and_the_facts_still_read(
    ten_mb: bytes, tmp_path: Path
) -> None:
    host = VideoHost(ten_mb, thumbnail=still_jpeg("previews"))
    looks = previews(host, tmp_path)
    preview = await looks.get(finished(thumb=THUMB))
    await looks.aclose()
    assert preview.source == "thumbnail"
    assert preview.still is not None
    assert preview.facts is not None
    assert preview.facts.width == 256


@pytest.mark.e2e
async def test_a_downloaded_file_is_read_instead_of_the_host(ten_mb: bytes, tmp_path: Path) -> None:
    saved = tmp_path / "cow.mp4"
    saved.write_bytes(ten_mb)
    host = VideoHost(ten_mb)
    looks = previews(host, tmp_path / "cache")
    preview = await looks.get(finished(saved=str(saved)), strip=True)
    await looks.aclose()
    assert preview.source == "file"
    assert preview.strip is not None
    assert host.headers == []


@pytest.mark.e2e
async def test_hostile_videos_give_a_reason_never_an_exception(
    ten_mb: bytes, tmp_path: Path
) -> None:
    crash = Decoders(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"],
        keep_spare=False,
    )
    cases = {
        "crashed on it": previews(VideoHost(ten_mb), tmp_path / "a", decoders=crash),
        "over max_download_mb": previews(
            VideoHost(ten_mb, declared_size=80_000 * MB), tmp_path / "b", max_bytes=4096 * MB
        ),
        "not a video": previews(
            VideoHost(b"<html>sign in</html>" * 100, content_type="text/html"), tmp_path / "c"
        ),
        "expired": previews(VideoHost(ten_mb, status=403), tmp_path / "d"),
    }
    for words, looks in cases.items():
        preview = await looks.get(finished())
        await looks.aclose()
        assert preview.still is None
        assert words in (preview.why or ""), (words, preview.why)


async def test_a_job_without_a_video_says_why_without_asking_anyone(tmp_path: Path) -> None:
    host = VideoHost(b"")
    looks = previews(host, tmp_path)
    running = TaskRecord(Task("grok:abc", utcnow()), TaskResult(State.RUNNING, "processing"))
    assert (await looks.get(running)).why == "the job has not finished yet"
    await looks.aclose()
    assert host.headers == []


async def test_the_newest_waiter_gets_the_next_turn() -> None:
    slots = _Slots(1)
    order: list[int] = []
    gate = asyncio.Event()

    async def look(n: int) -> None:
        async with slots.turn():
            order.append(n)
            if n == 0:
                await gate.wait()

    first = asyncio.create_task(look(0))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(look(n)) for n in (1, 2, 3)]
    await asyncio.sleep(0)
    waiting[1].cancel()  # a selection no longer wanted
    gate.set()
    await asyncio.gather(first, *waiting, return_exceptions=True)
    assert order == [0, 3, 1]


async def test_a_fault_of_the_stack_itself_costs_the_still_never_an_exception(
    tmp_path: Path,
) -> None:
    """An error that is no HTTP, file or value error (a transport's own bug) is still a
    reason: the pane says it instead of "Loading the still…" for ever."""

    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("the transport broke")

    kept = StillCache(tmp_path, 16 * MB, free_space=lambda _: 10**12)
    looks = Previews(kept, transport=httpx.MockTransport(broken))
    preview = await looks.get(finished())
    await looks.aclose()
    assert preview.still is None
    assert preview.why == "the still could not be made (RuntimeError: the transport broke)"
