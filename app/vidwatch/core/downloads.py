"""Download finished videos: resumable, size-checked, atomic, and never with the API key.

* The video host gets no ``Authorization`` header: the client here is a separate one
  that never had the key (video URLs are signed links on a CDN).
* Bytes go to ``<name>.part``; an interrupted download resumes with an HTTP ``Range``
  request; the size is checked against ``Content-Length`` / ``Content-Range``; the file
  is fsynced and renamed into place, so a finished name is always a whole video.
* A signed URL that expired (401/403/410 from the CDN) is refreshed once by polling the
  task again (``refresh``), then retried.
* File names come from the label or the ID, made safe on every common filesystem, and
  never shared: a name another task's video already has gets `` (2)``. The partial file
  is named after the task too, and a resume is checked to continue the same video
  (``If-Range`` with the server's validator, the same total size, the same URL path).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx

from vidwatch.core.atomic import fsync_dir
from vidwatch.core.http import new_client
from vidwatch.core.models import TaskRecord
from vidwatch.core.sanitize import clean_line
from vidwatch.core.urls import url_problem

__all__ = ["DownloadResult", "Downloader", "safe_filename"]

VIDEO_SUFFIXES: Final = (".mp4", ".mov", ".webm", ".mkv", ".m4v", ".avi", ".gif")
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{n}{i}" for n in ("COM", "LPT") for i in (*"123456789", "¹", "²", "³")
}
MAX_NAME_BYTES: Final = 150
EXPIRED: Final = (401, 403, 410)
WRITE_BATCH: Final = 256 * 1024

log = logging.getLogger("vidwatch.downloads")

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
    and Linux (no separators, no control or bidi characters, no reserved names, no
    trailing dots, at most 150 bytes; a long label is cut, never the ID tag)."""
    label = _clean_part(record.task.label)
    ident = record.result.server_id or record.id.partition(":")[2] or record.id
    tag = re.sub(r"[^0-9A-Za-z]", "", ident)[-8:]
    if label and tag:
        room = MAX_NAME_BYTES - len(f" [{tag}]")
        base = f"{_cut(label, room).rstrip(' .')} [{tag}]"
    else:
        base = _cut(label or _clean_part(record.id), MAX_NAME_BYTES)
    base = base.strip(" .")
    if not base or base.split(".")[0].strip().upper() in _RESERVED:
        base = f"_{base}" if base else "video"
    suffix = Path(urlsplit(record.result.video_url or "").path).suffix.lower()
    return base + (suffix if suffix in VIDEO_SUFFIXES else ".mp4")


def _clean_part(text: str) -> str:
    text = unicodedata.normalize("NFC", clean_line(text, limit=400))
    return " ".join(_UNSAFE.sub("_", text).split())


def _cut(text: str, limit: int) -> str:
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return text


def numbered(name: str, n: int) -> str:
    """``cow [ab12].mp4`` -> ``cow [ab12] (2).mp4``."""
    stem, dot, suffix = name.rpartition(".")
    return f"{stem} ({n}).{suffix}" if dot else f"{name} ({n})"


def _task_tag(task_id: str) -> str:
    return hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]


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
        self._claimed: dict[str, str] = {}  # casefolded file name -> task id, this run
        self._claim_lock = threading.Lock()  # claims run in worker threads, several at once
        self._client = new_client(
            follow_redirects=True,  # CDNs redirect; no credential travels with these requests
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            # identity: byte counts, Content-Length and ranges all mean the file's bytes
            headers={"Accept-Encoding": "identity"},
            connections=parallel,
            purpose="files",
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
            except (httpx.InvalidURL, ValueError, ArithmeticError) as exc:
                # a URL httpx cannot use (bad port, bad IDNA), a header that does not parse
                message = f"unusable link or answer ({type(exc).__name__})"
                return DownloadResult(record.id, False, None, 0, message)
            except Exception as exc:  # one odd video must not stop the others
                log.exception("download of %s failed", record.id)
                reason = type(exc).__name__
                return DownloadResult(record.id, False, None, 0, f"failed ({reason}); see the log")

    async def _download(self, record: TaskRecord, progress: Progress | None) -> DownloadResult:
        url = record.result.video_url
        if not url:
            raise _Failed("no video URL yet")
        problem = url_problem(url)
        if problem:
            raise _Failed(f"refused the URL: {problem}")
        saved = record.task.saved_to
        if saved:  # this task's own file, from an earlier download
            size = await asyncio.to_thread(_size_of, Path(saved))
            if size:
                path = Path(saved)
                return DownloadResult(record.id, True, path, size, "already on disk", skipped=True)
        await asyncio.to_thread(self.folder.mkdir, parents=True, exist_ok=True)
        with _exclusive(self.folder / f".{_task_tag(record.id)}.vidwatch-download"):
            return await self._download_locked(record, url, progress)

    async def _download_locked(
        self, record: TaskRecord, url: str, progress: Progress | None
    ) -> DownloadResult:
        """Under this task's download lock: no other download of it (here, or in another
        vidwatch: D twice, or the dashboard and the CLI) writes the same part file."""
        final = await asyncio.to_thread(self._claim, record.id, safe_filename(record))
        part = final.with_name(f"{final.name}.{_task_tag(record.id)}.part")
        refreshed = False
        while True:
            try:
                size = await self._fetch(record.id, url, part, progress)
                break
            except _Expired as expired:
                if refreshed or self.refresh is None:
                    status = expired.status
                    raise _Failed(f"the video link has expired (HTTP {status})") from None
                fresh = await self.refresh(record.id)
                if not fresh or url_problem(fresh):
                    raise _Failed("the video link has expired and no new one came") from None
                url, refreshed = fresh, True
        await asyncio.to_thread(_commit, part, final)
        return DownloadResult(record.id, True, final, size, f"saved to {final}")

    def _claim(self, task_id: str, name: str) -> Path:
        """A file name for this task's video that no other video has: not on disk (a file
        there belongs to another task, or to the user) and not taken in this run."""
        with self._claim_lock:
            return self._claim_locked(task_id, name)

    def _claim_locked(self, task_id: str, name: str) -> Path:
        for n in range(1, 10_000):
            candidate = name if n == 1 else numbered(name, n)
            key = candidate.casefold()  # macOS and Windows ignore case
            owner = self._claimed.get(key)
            if owner == task_id:
                return self.folder / candidate
            if owner is None and not (self.folder / candidate).exists():
                self._claimed[key] = task_id
                return self.folder / candidate
        raise _Failed("no free file name left for this video")

    async def _fetch(self, task_id: str, url: str, part: Path, progress: Progress | None) -> int:
        meta_file = part.with_name(part.name + ".json")
        offset = await asyncio.to_thread(_size_of, part) or 0
        meta = await asyncio.to_thread(_read_meta, meta_file) if offset else None
        path = urlsplit(url).path
        if offset and (meta is None or meta.get("path") != path):
            offset = 0  # not known to be this video: start over
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            validator = meta.get("etag") or meta.get("last_modified") if meta else None
            if isinstance(validator, str) and not validator.startswith("W/"):
                headers["If-Range"] = validator  # changed since? then the whole file
        async with self._client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status in EXPIRED:
                raise _Expired(status)
            total: int | None
            if status == 416 and offset:  # nothing after our offset: complete, or stale
                total = _range_total(response.headers.get("content-range"))
                if total == offset and meta is not None and meta.get("total") == total:
                    return offset
                await asyncio.to_thread(part.unlink)
                return await self._fetch(task_id, url, part, progress)
            if status == 206 and offset:
                start, total = _range_start_total(response.headers.get("content-range"))
                if start != offset:
                    raise _Failed("the video host resumed at the wrong place")
                if meta is not None and meta.get("total") not in (None, total):
                    await asyncio.to_thread(part.unlink)  # another video: start over
                    return await self._fetch(task_id, url, part, progress)
                mode = "ab"
            elif status == 200:
                offset, mode = 0, "wb"  # no resume: start over
                total = _int(response.headers.get("content-length"))
            else:
                raise _Failed(f"the video host answered HTTP {status}")
            if total is None and offset == 0:
                total = _int(response.headers.get("content-length"))
            if mode == "wb":
                record = {
                    "task": task_id,
                    "path": path,
                    "total": total,
                    "etag": response.headers.get("etag"),
                    "last_modified": response.headers.get("last-modified"),
                }
                await asyncio.to_thread(_write_meta, meta_file, record)
            done = offset
            out = await asyncio.to_thread(open, part, mode)  # file work off the event loop
            pending = bytearray()  # written in batches: one thread hop per WRITE_BATCH
            try:
                # The bytes as sent, never decoded: a host that compresses anyway gets its
                # bytes written as they are (the lengths and ranges count those).
                async for chunk in response.aiter_raw():
                    pending += chunk
                    done += len(chunk)
                    if len(pending) >= WRITE_BATCH:
                        await asyncio.to_thread(out.write, bytes(pending))
                        pending.clear()
                    if progress is not None:
                        progress(task_id, done, total)
            finally:
                try:
                    if pending:  # what arrived is kept: a later run resumes after it
                        await asyncio.to_thread(out.write, bytes(pending))
                finally:
                    await asyncio.to_thread(out.close)
            if total is not None and done != total:
                raise _Failed(f"got {done:,} of {total:,} bytes; run the download again to resume")
            if done == 0:
                raise _Failed("the video host sent an empty file")
            return done


class _Expired(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _read_meta(path: Path) -> dict[str, object] | None:
    """What the partial file is a part of (written when it was started)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_meta(path: Path, meta: dict[str, object]) -> None:
    path.write_text(json.dumps(meta), encoding="utf-8")


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold ``lock_path`` (flock, never waiting) or fail: another download has it. The
    lock file is removed when done; it names nothing but the task's tag."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _Failed(f"cannot write to the folder: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _Failed(
                "this video is already being downloaded (here or by another vidwatch)"
            ) from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(lock_path)
    finally:
        os.close(fd)  # releases the lock


def _commit(part: Path, final: Path) -> None:
    """fsync the finished file, rename it into place, fsync the folder."""
    fd = os.open(part, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if final.exists():  # appeared while we downloaded: never replace someone's file
        raise _Failed(f"{final.name} appeared while downloading; the video is kept in {part}")
    os.replace(part, final)
    with contextlib.suppress(OSError):
        os.unlink(part.with_name(part.name + ".json"))
    fsync_dir(final.parent)


def _size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _int(value: str | None) -> int | None:
    value = value.strip() if value else value
    return int(value) if value and value.isascii() and value.isdigit() else None


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
