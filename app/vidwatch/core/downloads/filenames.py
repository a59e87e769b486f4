"""File names for downloaded videos: safe on Windows, macOS and Linux, and telling."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from vidwatch.core.model.records import TaskRecord
from vidwatch.core.text.sanitize import clean_line

__all__ = ["VIDEO_SUFFIXES", "numbered", "safe_filename", "task_tag"]

VIDEO_SUFFIXES: Final = (".mp4", ".mov", ".webm", ".mkv", ".m4v", ".avi", ".gif")
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{n}{i}" for n in ("COM", "LPT") for i in (*"123456789", "¹", "²", "³")
}
MAX_NAME_BYTES: Final = 150


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


def task_tag(task_id: str) -> str:
    """A short tag of ``task_id`` for the names of its partial file and lock."""
    return hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
