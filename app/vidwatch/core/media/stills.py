"""Stills as files: ``NAME.jpg`` beside a downloaded ``NAME.mp4``, or where
``vidwatch thumb`` is told.

A still is made the way the dashboard makes one (:class:`~vidwatch.core.media.previews.Previews`:
the cache, the server's own still, the downloaded file, the link by ranges) and written
atomically. A file of that name that vidwatch did not write as a still (anything but a
JPEG) is never replaced.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from vidwatch.core.media.previews import Preview, Previews
from vidwatch.core.model.records import TaskRecord
from vidwatch.core.store.atomic import atomic_write

__all__ = ["JPEG", "beside", "write_still"]

JPEG: Final = b"\xff\xd8\xff"


def beside(video: Path) -> Path:
    """Where a downloaded video's still goes: ``NAME.jpg`` beside ``NAME.mp4``."""
    return video.with_suffix(".jpg")


def _write(target: Path, data: bytes) -> str | None:
    try:
        with target.open("rb") as handle:
            if not handle.read(3).startswith(JPEG):
                return f"{target.name} exists and is not a still: left as it is"
    except FileNotFoundError:
        pass
    except OSError as exc:
        return f"{target} cannot be read ({exc.strerror or exc})"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)
    except OSError as exc:
        return f"{target} cannot be written ({exc.strerror or exc})"
    return None


async def write_still(
    previews: Previews, record: TaskRecord, target: Path
) -> tuple[Preview, str | None]:
    """Make ``record``'s still and write it to ``target``; returns the preview and why
    nothing was written (None: written)."""
    preview = await previews.get(record)
    if preview.still is None:
        return preview, preview.why or "no still could be made"
    return preview, await asyncio.to_thread(_write, target, preview.still)
