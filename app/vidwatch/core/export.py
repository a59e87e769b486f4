"""Export a list of tasks as CSV, JSON or Markdown (``vidwatch export``, ``e`` in the dashboard).

Server text is data, and an export is often opened in a spreadsheet: a cell that starts
with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) would run as a formula, so
such cells get a leading apostrophe in CSV. Markdown cells are one line with every
character that could make a link, an image, HTML or emphasis escaped, so a label or a
status cannot break the table or inject anything into a rendered page. Escape and
control sequences are removed from CSV and Markdown, and escaped in JSON (``\u001b``),
so an export printed to a terminal is inert.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from vidwatch.core.atomic import atomic_write
from vidwatch.core.models import TaskRecord
from vidwatch.core.sanitize import clean_line, clean_text, strip_fence

__all__ = ["FORMATS", "export", "record_json", "to_json", "write_export"]

FORMATS: Final = ("csv", "json", "md")
COLUMNS: Final = (
    "id",
    "label",
    "state",
    "status",
    "video_url",
    "saved_to",
    "added_at",
    "status_update_time",
    "checked_at",
    "error",
    "fail_reason",
    "enhanced_prompt",
)
_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def record_json(record: TaskRecord) -> dict[str, Any]:
    """One task as plain JSON types (also what ``vidwatch list --json`` prints)."""
    r = record.result
    return {
        "id": record.id,
        "label": record.task.label,
        "added_at": _iso(record.task.added_at),
        "status": r.status,
        "state": r.state.value,
        "video_url": r.video_url,
        "enhanced_prompt": r.enhanced_prompt,
        "status_update_time": _iso(r.status_update_time),
        "checked_at": _iso(r.checked_at),
        "error": r.error,
        "fail_reason": r.fail_reason,
        "server_id": r.server_id,
        "progress": r.progress,
        "saved_to": record.task.saved_to,
        "history": [
            {"state": t.state.value, "status": t.status, "at": _iso(t.at)} for t in r.history
        ],
    }


# Characters that may not reach a terminal raw, even inside a JSON string: C1 controls
# (U+009B is CSI to some terminals), bidi overrides and invisible characters.
_JSON_HIDDEN = re.compile("[\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Markdown punctuation that can start a link, image, HTML, emphasis, code or a cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()<>!|~&#])")


def to_json(data: object) -> str:
    """JSON text that is safe to print: controls and bidi characters as ``\\uXXXX``."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _JSON_HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _csv_safe(text: str) -> str:
    text = clean_text(text, limit=max(len(text), 1))  # newlines stay: CSV quotes them
    return "'" + text if text.startswith(_FORMULA) else text


def _md_safe(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", clean_line(text, limit=max(len(text), 1)))


def _for_people(row: dict[str, Any]) -> dict[str, Any]:
    """Spreadsheet cells show the prompt as the detail pane does: no code fence.
    (JSON keeps the server's text as it came.)"""
    prompt = row["enhanced_prompt"]
    return {**row, "enhanced_prompt": strip_fence(prompt)} if prompt else row


def export(records: Iterable[TaskRecord], fmt: str) -> str:
    """The tasks in ``fmt`` (``csv``, ``json`` or ``md``)."""
    rows = [record_json(r) for r in records]
    if fmt == "json":
        return to_json(rows) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            row = _for_people(row)
            writer.writerow([_csv_safe(_cell(row[c])) for c in COLUMNS])
        return out.getvalue()
    if fmt == "md":
        shown = ("id", "label", "state", "status", "video_url", "saved_to", "status_update_time")
        lines = ["| " + " | ".join((*shown, "why")) + " |", "|" + "---|" * (len(shown) + 1)]
        for row in rows:
            why = row["fail_reason"] or row["error"]  # a failed job's reason, or our error
            cells = [*(_cell(row[c]) for c in shown), _cell(why)]
            lines.append("| " + " | ".join(_md_safe(c) for c in cells) + " |")
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")


def write_export(where: str | Path, text: str) -> Path:
    """Write ``text`` to the file ``where`` atomically (temp file beside it, fsync,
    rename); returns the path. Raises OSError with a readable ``strerror``."""
    path = Path(where).expanduser()
    if not str(where).strip() or not path.name or str(where).endswith(("/", os.sep)):
        raise IsADirectoryError(errno.EISDIR, "that is a folder, not a file name")
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "that is a folder; add a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"))
    return path
