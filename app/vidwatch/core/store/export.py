"""Export a list of tasks as CSV, JSON or Markdown (``vidwatch export``, ``e`` in the dashboard).

Server text is data, and an export is often opened in a spreadsheet: a cell that starts
with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) would run as a formula, so
such cells get a leading apostrophe in CSV. Markdown cells are one line with every
character that could make a link, an image, HTML or emphasis escaped, so a label or a
status cannot break the table or inject anything into a rendered page. Escape and
control sequences are removed from CSV and Markdown, and escaped in JSON (``\u001b``),
so an export printed to a terminal is inert.

Columns and keys come from the task record's one field list (vidwatch.core.model.fields):
JSON has every field; CSV and Markdown have every field but the ones named in
:data:`CSV_EXCLUDED` and :data:`MD_EXCLUDED`, so a new field is exported without
anything to update here. Beside them, CSV and Markdown have what people sort and search
by (:data:`DERIVED`): the model and the prompt, which JSON keeps inside ``request``, and
what the job cost (amount and unit), which JSON keeps inside ``cost``.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from vidwatch.core.model import fields
from vidwatch.core.model.records import Kind, TaskRecord
from vidwatch.core.store.atomic import atomic_write
from vidwatch.core.text.sanitize import clean_line, clean_text, escape_hidden, strip_fence

__all__ = [
    "COLUMNS",
    "CSV_EXCLUDED",
    "DERIVED",
    "FORMATS",
    "MD_COLUMNS",
    "MD_EXCLUDED",
    "export",
    "record_json",
    "to_json",
    "write_export",
]

FORMATS: Final = ("csv", "json", "md")
_ALL_FIELDS: Final = (*fields.TASK_FIELDS, *fields.RESULT_FIELDS)
# Left out of CSV: a list of transitions is not a cell (JSON carries it). The request
# that created a task is one cell of compact JSON.
CSV_EXCLUDED: Final = ("history",)
# Left out of the Markdown table, which is for reading: long or technical fields (the
# answer's extras and thumbnail link, the video's facts too), and the failure reason and
# error, which share the last column ("why").
MD_EXCLUDED: Final = (
    "added_at",
    "enhanced_prompt",
    "server_id",
    "checked_at",
    "error",
    "fail_reason",
    "progress",
    "problem",
    "history",
    "request",
    "video",
    "sent_prompt",
    "thumbnail_url",
    "extras",
    "cost",  # a record of its own: in CSV and JSON
)
# Every field not excluded, in the record's order; long server text last, where a
# spreadsheet column can be as wide as it likes.
# Columns that are no field of their own: the model (the request's, or the ID's model
# part) and the prompt (as written, or as the server echoed it), for a spreadsheet's sort
# and search. CSV has them beside ``request``; Markdown after the label (the prompt cut).
# And what the job cost as a number and its unit (``cost`` is a record of its own), so a
# spreadsheet sums a column and the Markdown table says what each job cost.
DERIVED: Final = ("model", "prompt", "cost_amount", "cost_unit")
_STORED: Final = tuple(
    spec.name
    for spec in sorted(
        _ALL_FIELDS, key=lambda spec: spec.kind in (Kind.TEXT, Kind.REQUEST, Kind.VIDEO)
    )
    if spec.name not in CSV_EXCLUDED
)
_BESIDE: Final = _STORED.index("request")
COLUMNS: Final = (*_STORED[:_BESIDE], *DERIVED, *_STORED[_BESIDE:])
_MD_STORED: Final = tuple(spec.name for spec in _ALL_FIELDS if spec.name not in MD_EXCLUDED)
_MD_AFTER: Final = _MD_STORED.index("label") + 1
MD_COLUMNS: Final = (*_MD_STORED[:_MD_AFTER], *DERIVED, *_MD_STORED[_MD_AFTER:])
MD_PROMPT: Final = 80  # characters of the prompt in a Markdown cell
_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")


def record_json(record: TaskRecord) -> dict[str, Any]:
    """One task as plain JSON types (also what ``vidwatch list --json`` prints): every
    field of the task and of its result. ``state`` is the state users see (``new``
    before the first answer), as everywhere else."""
    row = fields.to_jsonable(record.task)
    row.update(fields.to_jsonable(record.result))
    row["state"] = record.result.shown_state.value
    return row


def _escape(ch: str) -> str:
    """``ch`` as a JSON escape (a pair of surrogates beyond the BMP)."""
    code = ord(ch)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


# Markdown punctuation that can start a link, image, HTML, emphasis, code or a cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()<>!|~&#])")


def to_json(data: object) -> str:
    """JSON text that is safe to print: controls and bidi characters as ``\\uXXXX``."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return escape_hidden(text, _escape)


def _cell(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
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


def _with_derived(record: TaskRecord) -> dict[str, Any]:
    cost = record.task.cost
    return {
        **record_json(record),
        "model": record.model,
        "prompt": record.prompt,
        "cost_amount": f"{cost.amount:f}" if cost is not None else "",
        "cost_unit": cost.unit if cost is not None else "",
    }


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def export(records: Iterable[TaskRecord], fmt: str) -> str:
    """The tasks in ``fmt`` (``csv``, ``json`` or ``md``)."""
    if fmt == "json":
        return to_json([record_json(r) for r in records]) + "\n"
    rows = [_with_derived(r) for r in records]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            row = _for_people(row)
            writer.writerow([_csv_safe(_cell(row[c])) for c in COLUMNS])
        return out.getvalue()
    if fmt == "md":
        shown = MD_COLUMNS
        lines = ["| " + " | ".join((*shown, "why")) + " |", "|" + "---|" * (len(shown) + 1)]
        for row in rows:
            why = row["fail_reason"] or row["error"]  # a failed job's reason, or our error
            row["prompt"] = _short(clean_line(row["prompt"], len(row["prompt"]) + 1), MD_PROMPT)
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
