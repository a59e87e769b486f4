"""How much a download may write: at most ``max_download_mb``, and never so much that the
disk is left with less than a margin free.

The margin is the larger of 256 MiB and 5 % of the video. A download whose size is
known is refused before a byte is written when it does not fit beside the downloads
already under way (what they still have to write is counted as taken); every batch
written is checked again, so a download of no stated size, or a disk that others fill
meanwhile, stops before the disk is full. A write that fails for want of room (ENOSPC,
a quota, a file too big for the file system) is told in a sentence.

The free space comes from a function (``shutil.disk_usage`` by default): tests pass a
pretend disk and never fill a real one.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FREE_SHARE",
    "MB",
    "MIN_FREE",
    "NO_ROOM",
    "DiskBudget",
    "FreeSpace",
    "disk_free",
    "margin",
    "mb_text",
]

MB: Final = 1024 * 1024  # what max_download_mb counts
DEFAULT_MAX_BYTES: Final = 4096 * MB
MIN_FREE: Final = 256 * MB  # always left free on the disk: the margin is the larger of
FREE_SHARE: Final = 0.05  # this and 5 % of the video

FreeSpace = Callable[[Path], int]  # folder -> bytes free there

# A write refused for want of room: what to say ({folder} is the download folder).
NO_ROOM: Final = {
    errno.ENOSPC: "the disk is full ({folder}); the download was stopped and its partial "
    "file removed",
    errno.EDQUOT: "the disk quota is used up ({folder}); the download was stopped and its "
    "partial file removed",
    errno.EFBIG: "the file system of {folder} cannot hold a file this big; the download "
    "was stopped and its partial file removed",
}


def disk_free(folder: Path) -> int:
    """Bytes an unprivileged user may still write in ``folder``'s filesystem."""
    return shutil.disk_usage(folder).free


def margin(size: int) -> int:
    """What stays free on the disk after a video of ``size`` bytes is saved."""
    return max(MIN_FREE, int(size * FREE_SHARE))


def mb_text(size: int) -> str:
    """``10,240 MB``, ``1.5 MB``."""
    return f"{size / MB:,.0f} MB" if size >= 10 * MB else f"{size / MB:,.1f} MB"


class DiskBudget:
    """The bytes the downloads into ``folder`` may still write. Each problem is one
    sentence; ``None`` means go on."""

    def __init__(self, folder: Path, max_bytes: int, free_space: FreeSpace) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.free_space = free_space
        self.owed: dict[str, int] = {}  # task id -> bytes still to come, downloads under way

    def free(self) -> int | None:
        try:
            return self.free_space(self.folder)
        except OSError:
            return None  # no answer: the write itself will tell (ENOSPC)

    def others(self, task_id: str) -> int:
        """What the other downloads under way still have to write."""
        return sum(n for t, n in self.owed.items() if t != task_id)

    def start(self, task_id: str, total: int, remaining: int) -> str | None:
        """Before a byte is written of a video of ``total`` bytes, ``remaining`` to come."""
        if total > self.max_bytes:
            return (
                f"the video is {mb_text(total)}, over max_download_mb "
                f"({mb_text(self.max_bytes)}); raise it in the config file to download this one"
            )
        free = self.free()
        others = self.others(task_id)
        keep = margin(total)
        if free is not None and free - others < remaining + keep:
            room = max(free - others, 0)
            return (
                f"not enough free space in {self.folder}: the video needs "
                f"{mb_text(remaining)}, {mb_text(room)} is free (vidwatch leaves "
                f"{mb_text(keep)} free)"
            )
        self.owed[task_id] = remaining
        return None

    def grown(self, done: int, total: int | None) -> str | None:
        """While receiving: ``done`` bytes so far, of ``total`` announced."""
        if total is not None and done > total:
            return (
                f"the video host sent more than the {total:,} bytes it announced; "
                "the download was stopped"
            )
        if done > self.max_bytes:
            return (
                f"the download passed max_download_mb ({mb_text(self.max_bytes)}) and was stopped"
            )
        return None

    def write(self, size: int, still_to_come: int) -> str | None:
        """Before ``size`` more bytes are written, with ``still_to_come`` after them (this
        download's and the others'). Called in a worker thread."""
        free = self.free()
        if free is not None and free - size - still_to_come < MIN_FREE:
            return (
                f"the disk is nearly full ({mb_text(max(free, 0))} free in {self.folder}); "
                "the download was stopped and its partial file removed"
            )
        return None
