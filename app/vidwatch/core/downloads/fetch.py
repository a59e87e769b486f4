"""Download finished videos: resumable, size-checked, atomic, and never with the API key.

* The video host gets no ``Authorization`` header: the client here is a separate one
  that never had the key (video URLs are signed links on a CDN).
* Bytes go to ``<name>.part`` exactly as sent (never decoded); an interrupted download
  resumes with an HTTP ``Range`` request, only when the answer proves it continues the
  same file (the ``ETag``/``Last-Modified`` of the first answer, the requested start,
  the same total, the same URL path); anything else starts over from zero, never
  appends. The file is fsynced and renamed into place, so a finished name is always a
  whole video.
* Sizes are bounded: a download that will not fit on the disk (with a margin kept
  free) or is over ``max_download_mb`` is refused before a byte is written; one that
  grows past its ``Content-Length``, past the cap or past the free space is stopped;
  a full disk (ENOSPC) stops it too. Each removes the partial file and its note.
* Only a video is committed: the ``Content-Type`` and the first bytes are checked
  (:mod:`vidwatch.core.downloads.sniff`), and a web page, JSON or anything else is refused with
  what it was instead.
* Beside each video goes its sidecar, ``NAME.json`` (:mod:`vidwatch.core.downloads.sidecar`).
* A signed URL that expired (401/403/410 from the CDN) is refreshed once by polling the
  task again (``refresh``), then retried.
* File names come from the label or the ID, made safe on every common filesystem, and
  never shared: a name another task's video (or sidecar) already has gets `` (2)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import urlsplit

import httpx

from vidwatch.core.downloads.diskspace import (
    DEFAULT_MAX_BYTES,
    MB,
    MIN_FREE,
    NO_ROOM,
    DiskBudget,
    FreeSpace,
    disk_free,
)
from vidwatch.core.downloads.filenames import numbered, safe_filename, task_tag
from vidwatch.core.downloads.partfile import (
    Restart,
    check_resume,
    discard,
    head_problem_of,
    header_int,
    meta_path,
    range_total,
    read_meta,
    size_of,
    video_problem,
    write_meta,
)
from vidwatch.core.downloads.sidecar import sidecar_note, sidecar_owner, sidecar_path
from vidwatch.core.downloads.sniff import HEAD_BYTES, head_problem, refusal, type_problem
from vidwatch.core.gateway.http import RefusedHop, new_client
from vidwatch.core.model.records import TaskRecord
from vidwatch.core.store.atomic import fsync_dir
from vidwatch.core.store.lock import LockBusy, lock_file
from vidwatch.core.text.urls import url_problem

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MB",
    "MIN_FREE",
    "DownloadResult",
    "Downloader",
    "disk_free",
    "safe_filename",
]

EXPIRED: Final = (401, 403, 410)
WRITE_BATCH: Final = 256 * 1024

log = logging.getLogger("vidwatch.downloads")

Progress = Callable[[str, int, int | None], None]  # task id, bytes so far, total if known
Refresh = Callable[[str], Awaitable[str | None]]  # task id -> a fresh URL, or None


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadResult:
    """How one download ended; made by :meth:`saved`, :meth:`on_disk` or :meth:`failed`."""

    task_id: str
    ok: bool
    path: Path | None
    size: int
    message: str  # one sentence, for a toast or a line on stderr
    skipped: bool = False  # the video was already on disk

    @classmethod
    def saved(cls, task_id: str, path: Path, size: int, message: str) -> DownloadResult:
        """Downloaded into ``path`` (``size`` bytes)."""
        return cls(task_id=task_id, ok=True, path=path, size=size, message=message)

    @classmethod
    def on_disk(cls, task_id: str, path: Path, size: int, message: str) -> DownloadResult:
        """Not downloaded again: the task's video is already at ``path``."""
        return cls(task_id=task_id, ok=True, path=path, size=size, message=message, skipped=True)

    @classmethod
    def failed(cls, task_id: str, message: str) -> DownloadResult:
        """Not downloaded; ``message`` says why."""
        return cls(task_id=task_id, ok=False, path=None, size=0, message=message)


class _Failed(Exception):
    """A download failed for a reason worth one sentence."""


class _Discard(_Failed):
    """A download that must not be kept, not even to resume: the partial file and its
    note are removed (too big, no room, not a video)."""


class Downloader:
    """Downloads into ``folder``, at most ``parallel`` at once, none over ``max_bytes``.
    ``free_space`` tells the bytes free in a folder (tests pass a pretend disk)."""

    def __init__(
        self,
        folder: Path,
        *,
        parallel: int = 3,
        timeout: float = 60.0,
        refresh: Refresh | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        free_space: FreeSpace = disk_free,
    ) -> None:
        self.folder = Path(folder).expanduser()
        self.refresh = refresh
        self.budget = DiskBudget(self.folder, max_bytes, free_space)
        self._slots = asyncio.Semaphore(max(parallel, 1))
        self._claimed: dict[str, str] = {}  # casefolded file stem -> task id, this run
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
                return DownloadResult.failed(record.id, str(exc))
            except httpx.TimeoutException:
                return DownloadResult.failed(record.id, "the video host timed out")
            except RefusedHop as exc:
                return DownloadResult.failed(record.id, str(exc))
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
                return DownloadResult.failed(record.id, f"network error ({reason})")
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                return DownloadResult.failed(record.id, f"cannot write the file: {reason}")
            except (httpx.InvalidURL, ValueError, ArithmeticError) as exc:
                # a URL httpx cannot use (bad port, bad IDNA), a header that does not parse
                message = f"unusable link or answer ({type(exc).__name__})"
                return DownloadResult.failed(record.id, message)
            except Exception as exc:  # one odd video must not stop the others
                log.exception("download of %s failed", record.id)
                reason = type(exc).__name__
                return DownloadResult.failed(record.id, f"failed ({reason}); see the log")
            finally:
                self.budget.owed.pop(record.id, None)

    async def _download(self, record: TaskRecord, progress: Progress | None) -> DownloadResult:
        url = record.result.video_url
        if not url:
            raise _Failed("no video URL yet")
        problem = url_problem(url)
        if problem:
            raise _Failed(f"refused the URL: {problem}")
        saved = record.task.saved_to
        if saved:  # this task's own file, from an earlier download
            size = await asyncio.to_thread(size_of, Path(saved))
            if size:
                path = Path(saved)
                note = await asyncio.to_thread(sidecar_note, record, path, size)
                message = "already on disk" + note
                return DownloadResult.on_disk(record.id, path, size, message)
        await asyncio.to_thread(self.folder.mkdir, parents=True, exist_ok=True)
        with _exclusive(self.folder / f".{task_tag(record.id)}.vidwatch-download"):
            return await self._download_locked(record, url, progress)

    async def _download_locked(
        self, record: TaskRecord, url: str, progress: Progress | None
    ) -> DownloadResult:
        """Under this task's download lock: no other download of it (here, or in another
        vidwatch: D twice, or the dashboard and the CLI) writes the same part file."""
        final = await asyncio.to_thread(self._claim, record.id, safe_filename(record))
        part = final.with_name(f"{final.name}.{task_tag(record.id)}.part")
        refreshed = False
        try:
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
            problem = await asyncio.to_thread(video_problem, part, final.suffix)
            if problem is not None:
                raise _Discard(problem)
        except _Discard:
            await asyncio.to_thread(discard, part)
            raise
        except OSError as exc:
            if exc.errno not in NO_ROOM:
                raise
            await asyncio.to_thread(discard, part)
            raise _Failed(NO_ROOM[exc.errno].format(folder=self.folder)) from None
        await asyncio.to_thread(_commit, part, final)
        note = await asyncio.to_thread(sidecar_note, record, final, size)
        return DownloadResult.saved(record.id, final, size, f"saved to {final}{note}")

    def _claim(self, task_id: str, name: str) -> Path:
        """A file name for this task's video that no other video has: not on disk (a file
        there belongs to another task, or to the user) and not taken in this run; nor
        its sidecar's name, unless that sidecar is this task's own."""
        with self._claim_lock:
            return self._claim_locked(task_id, name)

    def _claim_locked(self, task_id: str, name: str) -> Path:
        for n in range(1, 10_000):
            candidate = self.folder / (name if n == 1 else numbered(name, n))
            key = candidate.stem.casefold()  # macOS and Windows ignore case
            owner = self._claimed.get(key)
            if owner == task_id:
                return candidate
            if (
                owner is None
                and not candidate.exists()
                and sidecar_owner(sidecar_path(candidate)) in (None, task_id)
            ):
                self._claimed[key] = task_id
                return candidate
        raise _Failed("no free file name left for this video")

    async def _fetch(self, task_id: str, url: str, part: Path, progress: Progress | None) -> int:
        """The video in ``part``, resumed if it can be; started over, once, when the
        answer to a resume is not the rest of the same file."""
        try:
            return await self._fetch_once(task_id, url, part, progress)
        except Restart as why:
            log.info("download of %s starts over: %s", task_id, why)
        await asyncio.to_thread(discard, part)
        try:
            return await self._fetch_once(task_id, url, part, progress)
        except Restart as why:  # no range was asked: an answer that cannot be used
            raise _Failed(f"the video host sent an unusable answer ({why})") from None

    async def _fetch_once(
        self, task_id: str, url: str, part: Path, progress: Progress | None
    ) -> int:
        meta_file = meta_path(part)
        suffix = _video_suffix(part)
        offset = await asyncio.to_thread(size_of, part) or 0
        meta = await asyncio.to_thread(read_meta, meta_file) if offset else None
        path = urlsplit(url).path
        if offset and (meta is None or meta.get("path") != path):
            offset = 0  # not known to be this video: start over
        if offset and await asyncio.to_thread(head_problem_of, part, suffix) is not None:
            offset = 0  # the part does not start like a video: never continue it
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
                total = range_total(response.headers.get("content-range"))
                if total == offset and meta is not None and meta.get("total") == total:
                    return offset
                raise Restart("nothing after the part kept, and it is not the whole file")
            if status == 206 and offset:
                assert meta is not None
                check_resume(response, offset, meta)
                total = range_total(response.headers.get("content-range"))
                mode = "ab"
            elif status == 200:
                offset, mode = 0, "wb"  # no resume: start over
                total = header_int(response.headers.get("content-length"))
            else:
                raise _Failed(f"the video host answered HTTP {status}")
            what = type_problem(response.headers.get("content-type"), suffix)
            if what is not None:
                encoding = response.headers.get("content-encoding")
                raise _Discard(await refusal(what, response.aiter_raw(), encoding))
            if total is not None:
                refused = self.budget.start(task_id, total, total - offset)
                if refused is not None:
                    raise _Discard(refused)
            if mode == "wb":
                record = {
                    "task": task_id,
                    "path": path,
                    "total": total,
                    "etag": response.headers.get("etag"),
                    "last_modified": response.headers.get("last-modified"),
                }
                await asyncio.to_thread(write_meta, meta_file, record)
            return await self._receive(task_id, response, part, mode, offset, total, progress)

    async def _receive(
        self,
        task_id: str,
        response: httpx.Response,
        part: Path,
        mode: str,
        offset: int,
        total: int | None,
        progress: Progress | None,
    ) -> int:
        """Stream the body into ``part``, bounded by ``total``, the cap and the disk."""
        suffix = _video_suffix(part)
        done = offset
        checked = offset > 0  # a resumed part's start was checked before asking
        out = await asyncio.to_thread(open, part, mode)  # file work off the event loop
        pending = bytearray()  # written in batches: one thread hop per WRITE_BATCH
        keep = True  # what arrived is kept (a later run resumes after it), unless refused
        try:
            # The bytes as sent, never decoded: a host that compresses anyway gets its
            # bytes written as they are (the lengths and ranges count those).
            chunks = response.aiter_raw()
            async for chunk in chunks:
                pending += chunk
                done += len(chunk)
                if not checked and len(pending) >= HEAD_BYTES:
                    checked = True
                    what = head_problem(bytes(pending[:HEAD_BYTES]), suffix)
                    if what is not None:
                        encoding = response.headers.get("content-encoding")
                        raise _Discard(await refusal(what, chunks, encoding, bytes(pending)))
                grown = self.budget.grown(done, total)
                if grown is not None:
                    raise _Discard(grown)
                if len(pending) >= WRITE_BATCH:
                    await self._write(task_id, out, pending, total, done)
                    pending.clear()
                if progress is not None:
                    progress(task_id, done, total)
        except (_Failed, OSError):
            keep = False
            raise
        finally:
            try:
                if pending and keep:
                    await self._write(task_id, out, pending, total, done)
            finally:
                await asyncio.to_thread(out.close)
        if total is not None and done != total:
            raise _Failed(f"got {done:,} of {total:,} bytes; run the download again to resume")
        if done == 0:
            raise _Failed("the video host sent an empty file")
        return done

    async def _write(
        self, task_id: str, out: IO[Any], data: bytearray, total: int | None, done: int
    ) -> None:
        """Write a batch, unless the disk would be left with less than its margin."""
        remaining = total - done if total is not None else 0
        self.budget.owed[task_id] = remaining
        to_come = remaining + self.budget.others(task_id)
        await asyncio.to_thread(self._write_checked, out, bytes(data), to_come)

    def _write_checked(self, out: IO[Any], data: bytes, still_to_come: int) -> None:
        refused = self.budget.write(len(data), still_to_come)
        if refused is not None:
            raise _Discard(refused)
        _write_chunk(out, data)


def _video_suffix(part: Path) -> str:
    """``.mp4`` for ``clip [ab12].mp4.0123456789.part``."""
    return Path(part.name.removesuffix(".part").rsplit(".", 1)[0]).suffix


def _write_chunk(out: IO[Any], data: bytes) -> None:
    out.write(data)
    out.flush()  # a full disk is found here, not at close


class _Expired(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold ``lock_path`` (flock, never waiting) or fail: another download has it. The
    lock file is removed when done; it names nothing but the task's tag."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(lock_file(lock_path))
        except LockBusy:
            raise _Failed(
                "this video is already being downloaded (here or by another vidwatch)"
            ) from None
        except OSError as exc:
            raise _Failed(f"cannot write to the folder: {exc.strerror or exc}") from None
        yield


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
        os.unlink(meta_path(part))
    fsync_dir(final.parent)
