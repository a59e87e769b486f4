"""Download finished videos: resumable, size-checked, atomic, and never with the API key.

* The video host gets no ``Authorization`` header: the client here is a separate one
  that never had the key (video URLs are signed links on a CDN).
* Bytes go to ``<name>.part``; an interrupted download resumes with an HTTP ``Range``
  request; the size is checked against ``Content-Length`` / ``Content-Range``; the file
  is fsynced and renamed into place, so a finished name is always a whole video.
* A signed URL that expired (401/403/410 from the CDN) is refreshed once by polling the
  task again (``refresh``), then retried.
* File names come from the label or the ID, made safe on every common filesystem.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx

from app import __version__
from app.core.clipboard import safe_url
from app.core.models import TaskRecord

__all__ = ["DownloadResult", "Downloader", "safe_filename"]

VIDEO_SUFFIXES: Final = (".mp4", ".mov", ".webm", ".mkv", ".m4v", ".avi", ".gif")
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{n}{i}" for n in ("COM", "LPT") for i in range(1, 10)}
MAX_NAME_BYTES: Final = 150
EXPIRED: Final = (401, 403, 410)

Progress = Callable[[str, int, int | None], None]  # task id, bytes so far, total if known
Refresh = Callable[[str], Awaitable[str | None]]  # task id -> a fresh URL, or None


@dataclass(frozen=True, slots=True)
class DownloadResult:
    task_id: str
    ok: bool
    path: Path | None
    size: int
    message: str  # one sentence, for a toast or a line on stderr
    skipped: bool = False  # the video was already on disk


def safe_filename(record: TaskRecord) -> str:
    """``cow take 2 [ffea938d].mp4`` or ``grok_eee6faa8-….mp4``: safe on Windows, macOS
    and Linux (no separators, no reserved names, no trailing dots, at most 150 bytes)."""
    label = record.task.label.strip()
    tag = re.sub(r"[^0-9A-Za-z]", "", record.result.server_id or record.id)[-8:]
    base = f"{label} [{tag}]" if label else record.id
    base = unicodedata.normalize("NFC", base)
    base = _UNSAFE.sub("_", base)
    base = " ".join(base.split()).strip(" .")
    if not base or base.split(".")[0].upper() in _RESERVED:
        base = f"_{base}" if base else "video"
    while len(base.encode("utf-8")) > MAX_NAME_BYTES:
        base = base[:-1]
    base = base.rstrip(" .")
    suffix = Path(urlsplit(record.result.video_url or "").path).suffix.lower()
    return base + (suffix if suffix in VIDEO_SUFFIXES else ".mp4")


class _Failed(Exception):
    """A download failed for a reason worth one sentence."""


class Downloader:
    """Downloads into ``folder``, at most ``parallel`` at once."""

    def __init__(
        self,
        folder: Path,
        *,
        parallel: int = 3,
        timeout: float = 60.0,
        refresh: Refresh | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.folder = Path(folder).expanduser()
        self.refresh = refresh
        self._slots = asyncio.Semaphore(max(parallel, 1))
        self._client = httpx.AsyncClient(
            follow_redirects=True,  # CDNs redirect; no credential travels with these requests
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            headers={"User-Agent": f"vidwatch/{__version__}"},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Downloader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def download_all(
        self, records: Iterable[TaskRecord], progress: Progress | None = None
    ) -> list[DownloadResult]:
        return list(await asyncio.gather(*(self.download(r, progress) for r in records)))

    async def download(
        self, record: TaskRecord, progress: Progress | None = None
    ) -> DownloadResult:
        """Never raises (cancellation aside)."""
        async with self._slots:
            try:
                return await self._download(record, progress)
            except _Failed as exc:
                return DownloadResult(record.id, False, None, 0, str(exc))
            except httpx.TimeoutException:
                return DownloadResult(record.id, False, None, 0, "the video host timed out")
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
                return DownloadResult(record.id, False, None, 0, f"network error ({reason})")
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                return DownloadResult(record.id, False, None, 0, f"cannot write the file: {reason}")

    async def _download(self, record: TaskRecord, progress: Progress | None) -> DownloadResult:
        url = record.result.video_url
        if not url:
            raise _Failed("no video URL yet")
        problem = safe_url(url)
        if problem:
            raise _Failed(f"refused the URL: {problem}")
        await asyncio.to_thread(self.folder.mkdir, parents=True, exist_ok=True)
        final = self.folder / safe_filename(record)
        size = await asyncio.to_thread(_size_of, final)
        if size is not None:
            return DownloadResult(record.id, True, final, size, "already on disk", skipped=True)
        part = final.with_name(final.name + ".part")
        refreshed = False
        while True:
            try:
                size = await self._fetch(record.id, url, part, progress)
                break
            except _Expired:
                if refreshed or self.refresh is None:
                    raise _Failed("the video link has expired (HTTP 403)") from None
                fresh = await self.refresh(record.id)
                if not fresh or safe_url(fresh):
                    raise _Failed("the video link has expired and no new one came") from None
                url, refreshed = fresh, True
        await asyncio.to_thread(_commit, part, final)
        return DownloadResult(record.id, True, final, size, f"saved to {final}")

    async def _fetch(self, task_id: str, url: str, part: Path, progress: Progress | None) -> int:
        offset = await asyncio.to_thread(_size_of, part) or 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        async with self._client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status in EXPIRED:
                raise _Expired
            total: int | None
            if status == 416 and offset:  # nothing after our offset: complete, or stale
                total = _range_total(response.headers.get("content-range"))
                if total == offset:
                    return offset
                await asyncio.to_thread(part.unlink)
                return await self._fetch(task_id, url, part, progress)
            if status == 206 and offset:
                start, total = _range_start_total(response.headers.get("content-range"))
                if start != offset:
                    raise _Failed("the video host resumed at the wrong place")
                mode = "ab"
            elif status == 200:
                offset, mode = 0, "wb"  # no resume: start over
                total = _int(response.headers.get("content-length"))
            else:
                raise _Failed(f"the video host answered HTTP {status}")
            if total is None and offset == 0:
                total = _int(response.headers.get("content-length"))
            done = offset
            out = await asyncio.to_thread(open, part, mode)  # file work off the event loop
            try:
                async for chunk in response.aiter_bytes():  # as it arrives: resumable
                    await asyncio.to_thread(out.write, chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(task_id, done, total)
            finally:
                await asyncio.to_thread(out.close)
            if total is not None and done != total:
                raise _Failed(f"got {done:,} of {total:,} bytes; run the download again to resume")
            return done


class _Expired(Exception):
    pass


def _commit(part: Path, final: Path) -> None:
    """fsync the finished file, rename it into place, fsync the folder."""
    fd = os.open(part, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(part, final)
    with contextlib.suppress(OSError):
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _range_total(header: str | None) -> int | None:
    if not header or "/" not in header:
        return None
    return _int(header.rsplit("/", 1)[1].strip())


def _range_start_total(header: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/200`` -> (100, 200)."""
    if not header or not header.startswith("bytes "):
        return None, None
    spans, _, total = header[6:].partition("/")
    start = _int(spans.split("-", 1)[0].strip())
    return start, _int(total.strip())
