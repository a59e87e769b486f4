"""Stills kept on disk, so a second look is instant and a restart keeps them.

One small JPEG a job (``KEY.jpg``, made from the video or the server's own still), its
filmstrip once the closer look asked for one (``KEY.strip.jpg``), and what the video is
(``KEY.json``: the facts, read with the still). ``KEY`` is a hash of the task ID: no name
from a server reaches the file system. The folder is bounded (``[preview] cache_mb``):
after each write the least recently used files go first (a look touches them), and no
write leaves the disk with less than the downloads' margin free
(:data:`~vidwatch.core.downloads.diskspace.MIN_FREE`); a still that cannot be kept is
still shown. Files are written atomically; a file that is not what it should be (too
big, not a JPEG, not the facts) is ignored and replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Final, Literal

from vidwatch.core.downloads.diskspace import MIN_FREE, FreeSpace, disk_free
from vidwatch.core.model import fields
from vidwatch.core.model.records import VideoFacts
from vidwatch.core.store.atomic import atomic_write

__all__ = ["MAX_ENTRY", "Kept", "StillCache", "cache_key"]

MAX_ENTRY: Final = 4 * 1024 * 1024  # a file bigger than this was not written here
Kept = Literal["still", "strip"]
_SUFFIX: Final[dict[Kept, str]] = {"still": ".jpg", "strip": ".strip.jpg"}


def cache_key(task_id: str) -> str:
    return hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class StillCache:
    """The stills in ``folder``, at most ``max_bytes`` in all (blocking methods: call them
    in a worker thread when they may touch the disk)."""

    def __init__(self, folder: Path, max_bytes: int, free_space: FreeSpace = disk_free) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.free_space = free_space
        self._total: int | None = None  # bytes in the folder, counted once, then kept up

    def _path(self, task_id: str, suffix: str) -> Path:
        return self.folder / f"{cache_key(task_id)}{suffix}"

    def get(self, task_id: str, kind: Kept = "still") -> bytes | None:
        """The kept JPEG (touched: used last), or None."""
        path = self._path(task_id, _SUFFIX[kind])
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_ENTRY + 1)
        except OSError:
            return None
        if len(data) > MAX_ENTRY or not data.startswith(b"\xff\xd8\xff"):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return data

    def facts(self, task_id: str) -> VideoFacts | None:
        """What the video is, as read with its still; None when not kept."""
        try:
            with self._path(task_id, ".json").open("rb") as handle:
                raw = handle.read(64 * 1024)
            data = json.loads(raw)
        except (OSError, ValueError):
            return None
        return fields.from_file(data, VideoFacts) if isinstance(data, dict) else None

    def put(
        self, task_id: str, *, still: bytes = b"", strip: bytes = b"", facts: VideoFacts | None
    ) -> str | None:
        """Keep what a preview made; returns why something was not kept, or None."""
        files: list[tuple[Path, bytes]] = []
        if still:
            files.append((self._path(task_id, _SUFFIX["still"]), still))
        if strip:
            files.append((self._path(task_id, _SUFFIX["strip"]), strip))
        if facts is not None:
            text = json.dumps(fields.to_jsonable(facts)).encode("utf-8")
            files.append((self._path(task_id, ".json"), text))
        size = sum(len(data) for _, data in files)
        if not files:
            return None
        if size > self.max_bytes:
            return "it is bigger than [preview] cache_mb"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            free = self.free_space(self.folder)
        except OSError as exc:
            return f"the cache folder cannot be written ({exc.strerror or exc})"
        if free - size < MIN_FREE:
            return "the disk is nearly full"
        total = self._counted()
        try:
            for path, data in files:
                before = _size(path)
                atomic_write(path, data)
                total += len(data) - before
        except OSError as exc:
            return f"the cache folder cannot be written ({exc.strerror or exc})"
        finally:
            self._total = total
        if total > self.max_bytes:
            self._evict()
        return None

    def _counted(self) -> int:
        if self._total is None:
            self._total = sum(size for _, size, _ in self._entries())
        return self._total

    def _entries(self) -> list[tuple[float, int, Path]]:
        entries: list[tuple[float, int, Path]] = []
        try:
            names = os.scandir(self.folder)
        except OSError:
            return entries
        with names:
            for entry in names:
                if entry.name.startswith("."):
                    continue  # a write under way (atomic_write's temporary file)
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    entries.append((info.st_mtime, info.st_size, Path(entry.path)))
        return entries

    def _evict(self) -> None:
        """The least recently used files go until the folder is within its bound
        (a job's files together: they were written and used together)."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
        self._total = total


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
