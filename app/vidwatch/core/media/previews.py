"""A still of every finished job, what its video really is, and a filmstrip of it.

:meth:`Previews.get` answers with a :class:`Preview`, made the cheapest way there is:

1. kept: in memory (this run) or on disk (:class:`~vidwatch.core.media.cache.StillCache`);
2. the server's own still (grok's ``thumbnail_url``), re-encoded by the decoder, while the
   decoder reads the video's facts from its first bytes;
3. a frame of the video: from the downloaded file when there is one, else from its host
   by ranges (:class:`~vidwatch.core.media.source.RemoteVideo`: a few megabytes).

Decoding happens in a decoder process of its own (:mod:`~vidwatch.core.media.decoder`),
at most ``parallel`` at a time; when more are wanted, the one asked for last goes first
(the user's latest selection). Cancelling a ``get`` (a preview no longer wanted) stops its
reads and kills its decoder. A preview that failed says why in one sentence, and is not
tried again for a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import httpx

from vidwatch.core.downloads.diskspace import DEFAULT_MAX_BYTES
from vidwatch.core.gateway.http import describe_error
from vidwatch.core.media.cache import StillCache
from vidwatch.core.media.decoder import DecodeFailed, Decoders, ReadFailed
from vidwatch.core.media.source import (
    Expired,
    RemoteVideo,
    container_format,
    fetch_thumbnail,
    local_video,
    preview_client,
)
from vidwatch.core.model import fields
from vidwatch.core.model.records import State, TaskRecord, VideoFacts
from vidwatch.core.model.wording import no_video_reason
from vidwatch.core.text.urls import url_problem

__all__ = [
    "STILL_BOX",
    "STILL_BUDGET",
    "STRIP_BOX",
    "Preview",
    "Previews",
    "Refresh",
    "usable_file",
    "why_none",
]

STILL_BOX: Final = 640  # a still fits in 640×640 pixels
STRIP_BOX: Final = 256  # each frame of a filmstrip in 256×256
STILL_BUDGET: Final = 32 * 1024 * 1024  # of a video's bytes read for a still, at most
FAILED_FOR: Final = 60.0  # seconds a failed preview is not tried again
REMEMBERED: Final = 48  # previews kept in memory

log = logging.getLogger("vidwatch.media")

Refresh = Callable[[str], Awaitable[str | None]]  # task id -> a fresh video URL, or None


@dataclass(frozen=True, slots=True)
class Preview:
    """What a look at a finished job found. ``still`` (and ``strip``, when asked for) are
    JPEG bytes made by vidwatch's decoder; ``why`` says why there is no still (or no
    filmstrip); ``note`` says what else went wrong (not kept on disk, no facts)."""

    task_id: str
    still: bytes | None = None
    strip: bytes | None = None
    facts: VideoFacts | None = None
    why: str | None = None
    note: str | None = None
    source: str = ""  # cache, thumbnail, file, link
    read: int = 0  # bytes of the video read from its host


def usable_file(record: TaskRecord) -> Path | None:
    """The downloaded video, when it is still there."""
    saved = record.task.saved_to
    if not saved:
        return None
    path = Path(saved)
    return path if path.is_file() else None


def why_none(record: TaskRecord) -> str | None:
    """Why this job has no still to look at (not finished, no video), or None."""
    state = record.result.state
    if state is State.FAILED:
        return "the job failed"
    if state is not State.SUCCEEDED:
        return "the job has not finished yet"
    url = record.result.video_url
    if (url and url_problem(url) is None) or record.task.saved_to:
        return None
    return no_video_reason(record)


class _Slots:
    """At most ``size`` holders at once; the newest waiter is served first."""

    def __init__(self, size: int) -> None:
        self.free = max(size, 1)
        self._waiting: list[asyncio.Future[None]] = []

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self.free > 0 and not self._waiting:
            self.free -= 1
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    self._release()  # handed a turn just as it was cancelled: pass it on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiting:
            waiter = self._waiting.pop()  # the newest
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class Previews:
    """Stills, facts and filmstrips of finished jobs (see the module)."""

    def __init__(
        self,
        cache: StillCache | None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        decoders: Decoders | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        parallel: int = 2,
        refresh: Refresh | None = None,
        timeout: float = 30.0,
        decode_timeout: float = 20.0,
        strip_timeout: float = 120.0,
    ) -> None:
        self.cache = cache
        self.max_bytes = max_bytes
        self.decoders = decoders or Decoders()
        self.transport = transport
        self.refresh = refresh
        self.timeout = timeout
        self.decode_timeout = decode_timeout
        self.strip_timeout = strip_timeout
        self.parallel = parallel
        self._slots = _Slots(parallel)
        self._client: httpx.AsyncClient | None = None
        self._memory: OrderedDict[str, Preview] = OrderedDict()
        self._failed: dict[tuple[str, bool], tuple[float, Preview]] = {}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = preview_client(
                timeout=self.timeout, connections=self.parallel * 2, transport=self.transport
            )
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        await self.decoders.aclose()

    # ------------------------------------------------------------------ asking

    def remembered(self, record: TaskRecord, *, strip: bool = False) -> Preview | None:
        """A preview made or read in this run (no disk, no waiting): what a key press can
        show at once."""
        preview = self._memory.get(record.id)
        if preview is None or (strip and preview.strip is None):
            return None
        self._memory.move_to_end(record.id)
        return preview

    def forget(self, task_id: str) -> None:
        """Make the next look at this job start afresh (its file or link changed)."""
        self._memory.pop(task_id, None)
        for wanted in (False, True):
            self._failed.pop((task_id, wanted), None)

    async def get(self, record: TaskRecord, *, strip: bool = False, settle: float = 0.0) -> Preview:
        """The preview of ``record``: its still and facts, and with ``strip`` its
        filmstrip. Never raises (cancellation aside): what went wrong is in ``why``.
        A preview that must be made (nothing kept) waits ``settle`` seconds first: a
        cursor sweeping over the list cancels it before any host or decoder is asked."""
        why = why_none(record)
        if why is not None:
            return Preview(record.id, why=why)
        remembered = self.remembered(record, strip=strip)
        if remembered is not None:
            return remembered
        kept = await asyncio.to_thread(self._kept, record, strip)
        if kept is not None:
            return self._remember(kept)
        failed = self._failed.get((record.id, strip))
        if failed is not None and time.monotonic() - failed[0] < FAILED_FOR:
            return failed[1]
        if settle > 0:
            await asyncio.sleep(settle)
        async with self._slots.turn():
            try:
                preview = await self._make(record, strip)
            except (httpx.HTTPError, OSError, ValueError) as exc:
                preview = Preview(record.id, why=f"the video could not be read ({_said(exc)})")
            except Exception as exc:  # a fault of its own costs this still, never the caller
                log.exception("the still of %s failed", record.id)
                preview = Preview(record.id, why=f"the still could not be made ({_said(exc)})")
        if preview.still is None or (strip and preview.strip is None):
            self._failed[(record.id, strip)] = (time.monotonic(), preview)
        if preview.still is not None:
            self._remember(preview)
        return preview

    def _remember(self, preview: Preview) -> Preview:
        self._memory[preview.task_id] = preview
        self._memory.move_to_end(preview.task_id)
        while len(self._memory) > REMEMBERED:
            self._memory.popitem(last=False)
        return preview

    def _kept(self, record: TaskRecord, strip: bool) -> Preview | None:
        """From the disk cache (blocking)."""
        if self.cache is None:
            return None
        still = self.cache.get(record.id)
        if still is None:
            return None
        strip_data = self.cache.get(record.id, "strip")
        if strip and strip_data is None:
            return None
        facts = self.cache.facts(record.id) or record.task.video
        return Preview(record.id, still, strip_data, facts, source="cache")

    # ------------------------------------------------------------------ making

    async def _make(self, record: TaskRecord, strip: bool) -> Preview:
        job: dict[str, Any] = {
            "box": STILL_BOX,
            "strip_box": STRIP_BOX,
            "still": True,
            "strip": strip,
        }
        thumbnail = b""
        thumb_url = record.result.thumbnail_url
        if thumb_url and url_problem(thumb_url) is None:
            try:
                thumbnail = await fetch_thumbnail(self.client, thumb_url)
            except (ReadFailed, httpx.HTTPError) as exc:
                log.info("thumbnail of %s not used: %s", record.id, _said(exc))
        job["thumbnail"] = bool(thumbnail)
        remote: RemoteVideo | None = None
        try:
            problem, remote = await self._open_video(record, job, strip)
            if problem is not None:
                if not thumbnail or strip:
                    return Preview(record.id, why=problem, read=remote.fetched if remote else 0)
                job["source"] = "none"  # the server's still only; the video says nothing
            timeout = self.strip_timeout if strip else self.decode_timeout
            reads = _reads(remote) if remote is not None and job["source"] == "remote" else None
            try:
                decoded = await self.decoders.run(job, thumbnail, reads, timeout=timeout)
            except DecodeFailed as exc:
                if not thumbnail or strip or job["source"] == "none":
                    return Preview(record.id, why=str(exc), read=_read(remote))
                problem = str(exc)  # the server's still, alone
                job["source"] = "none"
                decoded = await self.decoders.run(job, thumbnail, None, timeout=timeout)
        except DecodeFailed as exc:
            return Preview(record.id, why=str(exc), read=_read(remote))
        finally:
            if remote is not None:
                await remote.aclose()
        facts = fields.from_file(decoded.facts, VideoFacts) if decoded.facts else None
        facts = facts or record.task.video
        source = "thumbnail" if thumbnail else ("file" if job["source"] == "file" else "link")
        preview = Preview(
            record.id,
            decoded.still or None,
            decoded.strip or None,
            facts,
            why=None if decoded.still else "the decoder made no picture",
            note=f"what the video is could not be read: {problem}" if problem else None,
            source=source,
            read=_read(remote),
        )
        if self.cache is not None and preview.still is not None:
            kept = self.cache
            not_kept = await asyncio.to_thread(
                kept.put,
                record.id,
                still=decoded.still,
                strip=decoded.strip,
                facts=facts if decoded.facts else None,
            )
            if not_kept is not None:
                preview = replace(preview, note=f"not kept on disk: {not_kept}")
        return preview

    async def _open_video(
        self, record: TaskRecord, job: dict[str, Any], strip: bool
    ) -> tuple[str | None, RemoteVideo | None]:
        """Where the decoder reads the video: the downloaded file, else the link. Returns
        why it cannot (or None) and the remote video it reads (to close)."""
        path = usable_file(record)
        if path is not None:
            try:
                size, head = await asyncio.to_thread(local_video, path)
            except OSError as exc:
                return f"the downloaded file cannot be read ({exc.strerror or exc})", None
            fmt = container_format(head)
            if fmt is None:
                return "the downloaded file is not a video", None
            job.update(source="file", path=str(path), format=fmt, size=size)
            return None, None
        url = record.result.video_url
        if not url:
            return no_video_reason(record), None
        budget = self.max_bytes if strip else min(self.max_bytes, STILL_BUDGET)
        remote = RemoteVideo(self.client, url, max_bytes=self.max_bytes, budget=budget)
        try:
            await remote.open()
        except Expired as expired:
            fresh = await self.refresh(record.id) if self.refresh is not None else None
            if not fresh or url_problem(fresh) is not None:
                return str(expired), remote
            await remote.aclose()
            remote = RemoteVideo(self.client, fresh, max_bytes=self.max_bytes, budget=budget)
            try:
                await remote.open()
            except ReadFailed as exc:
                return str(exc), remote
        except ReadFailed as exc:
            return str(exc), remote
        except httpx.HTTPError as exc:
            return f"the video host could not be reached ({_said(exc)})", remote
        fmt = container_format(remote.head)
        if fmt is None:  # open() checked the first bytes; this is the same rule
            return "the server sent something that is not a video", remote
        job.update(source="remote", size=remote.size, format=fmt)
        return None, remote


def _reads(remote: RemoteVideo) -> Callable[[int, int], Awaitable[bytes]]:
    async def read(offset: int, length: int) -> bytes:
        try:
            return await remote.read(offset, length)
        except httpx.HTTPError as exc:
            raise ReadFailed(f"the video host could not be reached ({_said(exc)})") from None

    return read


def _read(remote: RemoteVideo | None) -> int:
    return remote.fetched if remote is not None else 0


def _said(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "it timed out"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return describe_error(exc)
