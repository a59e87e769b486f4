"""Stills: the first look at a finished job whose 10 MB faststart MP4 sits on a host
throttled to 10 MB/s (loopback), counted from selecting it (the dashboard waits for the
cursor to rest, ``SETTLE``, before it asks), and a second look after a restart (the disk
cache).

Anchors, measured in the same run: fetching 3 MB (the goal's read budget) from the same
throttled host with a plain ranged GET, and reading the cached JPEG file.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiohttp import web
from vidwatch.core.media.cache import StillCache
from vidwatch.core.media.decoder import Decoders
from vidwatch.core.media.previews import Previews
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult, utcnow
from vidwatch.simulator.videos import padded, video_file
from vidwatch.ui.widgets.still import SETTLE

MB = 1024 * 1024
RATE = 10 * MB  # bytes a second
CHUNK = 64 * 1024
ROUNDS = 5


@dataclass(frozen=True)
class Figures:
    first: float  # median seconds to a still, a fresh cache each round
    read: int  # bytes of the video read for it (the most in any round)
    anchor_fetch: float  # seconds to fetch 3 MB from the same host
    cached: float  # median seconds to a still from the disk cache, after a restart
    anchor_cached: float  # seconds to read the cached JPEG file


def _host(video: bytes) -> web.Application:
    async def serve(request: web.Request) -> web.StreamResponse:
        first, last = 0, len(video) - 1
        asked = request.headers.get("Range")
        if asked:
            a, _, b = asked.removeprefix("bytes=").partition("-")
            first, last = int(a), min(int(b or last), len(video) - 1)
        response = web.StreamResponse(status=206 if asked else 200)
        response.content_type = "video/mp4"
        response.content_length = last - first + 1
        if asked:
            response.headers["Content-Range"] = f"bytes {first}-{last}/{len(video)}"
        await response.prepare(request)
        for start in range(first, last + 1, CHUNK):
            piece = video[start : min(start + CHUNK, last + 1)]
            await response.write(piece)
            await asyncio.sleep(len(piece) / RATE)
        return response

    app = web.Application()
    app.router.add_get("/{name}", serve)
    return app


def _record(url: str, n: int) -> TaskRecord:
    result = TaskResult(State.SUCCEEDED, "completed", video_url=url, checked_at=utcnow())
    return TaskRecord(Task(f"grok:bench-{n}", utcnow()), result)


async def _measure() -> Figures:
    video = padded(video_file("bench", "16:9", 10.0, True), 10 * MB)
    runner = web.AppRunner(_host(video))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/video.mp4"
    firsts: list[float] = []
    cached: list[float] = []
    read = 0
    try:
        async with httpx.AsyncClient() as plain:
            start = time.perf_counter()
            got = await plain.get(url, headers={"Range": f"bytes=0-{3 * MB - 1}"})
            anchor_fetch = time.perf_counter() - start
            assert len(got.content) == 3 * MB
        with tempfile.TemporaryDirectory() as folder:
            for n in range(ROUNDS):
                cache = StillCache(Path(folder) / str(n), 64 * MB)
                previews = Previews(cache, decoders=Decoders())
                previews.decoders.warm()  # as the dashboard does when it starts
                await asyncio.sleep(1.0)  # the spare decoder is up
                start = time.perf_counter()
                # as the dashboard asks: once the cursor has rested on the job
                preview = await previews.get(_record(url, n), settle=SETTLE)
                firsts.append(time.perf_counter() - start)
                assert preview.still is not None, preview.why
                read = max(read, preview.read)
                await previews.aclose()
                again = Previews(StillCache(Path(folder) / str(n), 64 * MB))  # a restart
                start = time.perf_counter()
                kept = await again.get(_record(url, n))
                cached.append(time.perf_counter() - start)
                assert kept.source == "cache"
                await again.aclose()
            jpeg = next((Path(folder) / "0").glob("*.jpg"))
            start = time.perf_counter()
            jpeg.read_bytes()
            anchor_cached = time.perf_counter() - start
    finally:
        await runner.cleanup()
    firsts.sort()
    cached.sort()
    return Figures(
        firsts[len(firsts) // 2], read, anchor_fetch, cached[len(cached) // 2], anchor_cached
    )


def measure() -> Figures:
    return asyncio.run(_measure())
