"""The partial file of a download (``NAME.mp4.TAG.part``) and its note (``….part.json``:
the URL path, the size and the validators of the answer it was started from).

A resume continues the part only when the answer proves it is the rest of the very same
file (:func:`check_resume`); anything else raises :class:`Restart` and the download
starts over from zero, never appending one file to another.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import httpx

from vidwatch.core.downloads.sniff import EXCERPT_BYTES, HEAD_BYTES, excerpt, head_problem
from vidwatch.core.store.atomic import atomic_write

__all__ = [
    "Restart",
    "check_resume",
    "discard",
    "head_problem_of",
    "header_int",
    "meta_path",
    "range_start_total",
    "range_total",
    "read_meta",
    "size_of",
    "video_problem",
    "write_meta",
]


class Restart(Exception):
    """The answer to a resume is not the rest of the same file: start over from zero."""


def check_resume(response: httpx.Response, offset: int, meta: dict[str, object]) -> None:
    """Raise :class:`Restart` unless this 206 continues the very file the part holds."""
    start, total = range_start_total(response.headers.get("content-range"))
    if start != offset:
        raise Restart(f"asked from byte {offset:,}, the host answered from {start}")
    if total is None:
        raise Restart("the answer does not say the file's size")
    known = meta.get("total")
    if known is not None and known != total:
        raise Restart(f"the file's size changed from {known} to {total:,} bytes")
    for header, key in (("etag", "etag"), ("last-modified", "last_modified")):
        then, now = meta.get(key), response.headers.get(header)
        if then == now:
            continue
        if key == "last_modified" and now is None and meta.get("etag"):
            continue  # a 206 may leave Last-Modified out when its ETag matched (RFC 9110)
        raise Restart(f"the file changed ({header} {then!r} then, {now!r} now)")


def head_problem_of(part: Path, suffix: str) -> str | None:
    with part.open("rb") as handle:
        return head_problem(handle.read(HEAD_BYTES), suffix)


def video_problem(part: Path, suffix: str) -> str | None:
    """The last check before a file is committed: ``None`` when it starts like a video,
    else one sentence saying what it is instead."""
    with part.open("rb") as handle:
        start = handle.read(EXCERPT_BYTES)
    what = head_problem(start[:HEAD_BYTES], suffix)
    if what is None:
        return None
    quoted = excerpt(start)
    return f"the server sent {what}, not a video" + (f": {quoted}" if quoted else "")


def meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def discard(part: Path) -> None:
    """Remove a partial file and its note."""
    for path in (part, meta_path(part)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read_meta(path: Path) -> dict[str, object] | None:
    """What the partial file is a part of (written when it was started)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_meta(path: Path, meta: dict[str, object]) -> None:
    atomic_write(path, json.dumps(meta).encode("utf-8"))


def size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def header_int(value: str | None) -> int | None:
    value = value.strip() if value else value
    return int(value) if value and value.isascii() and value.isdigit() else None


def range_total(header: str | None) -> int | None:
    if not header or "/" not in header:
        return None
    return header_int(header.rsplit("/", 1)[1].strip())


def range_start_total(header: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/200`` -> (100, 200)."""
    if not header or not header.startswith("bytes "):
        return None, None
    spans, _, total = header[6:].partition("/")
    start = header_int(spans.split("-", 1)[0].strip())
    return start, header_int(total.strip())
