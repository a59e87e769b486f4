"""Export a list of tasks as CSV, JSON or Markdown (``vidwatch export``, ``e`` in the dashboard).

Server text is data, and an export is often opened in a spreadsheet: a cell that starts
with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) would run as a formula, so
such cells get a leading apostrophe in CSV. Markdown cells have pipes and newlines
escaped so a prompt cannot break the table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from app.core.models import TaskRecord

__all__ = ["FORMATS", "export", "record_json"]

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


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _csv_safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA) else text


def _md_safe(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "\\`")


def export(records: Iterable[TaskRecord], fmt: str) -> str:
    """The tasks in ``fmt`` (``csv``, ``json`` or ``md``)."""
    rows = [record_json(r) for r in records]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_csv_safe(_cell(row[c])) for c in COLUMNS])
        return out.getvalue()
    if fmt == "md":
        shown = ("id", "label", "state", "status", "video_url", "saved_to", "status_update_time")
        lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
        for row in rows:
            lines.append("| " + " | ".join(_md_safe(_cell(row[c])) for c in shown) + " |")
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
