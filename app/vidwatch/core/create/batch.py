"""Batch files: many jobs from one JSONL or CSV file, each row with a stable identity.

Formats
    **JSONL** (``.jsonl``, ``.ndjson``, ``.json``, or a file whose first character is
    ``{``): one JSON object per line. Blank lines and lines starting with ``#`` are
    skipped. **CSV** (anything else; ``.tsv`` is tab-separated; a header without commas
    but with ``;`` or tabs uses those): a header row, then one row per job; empty cells
    are "not given"; cells of extra columns are typed like ``--param`` values
    (``true`` → boolean, ``15`` → number, ``[…]`` → JSON list, else text).

Columns / keys
    ``prompt`` (required), ``model`` (else the default model), ``label``, ``images`` (a
    list of URLs, or URLs separated by spaces), and any other key or column, which goes
    into the body as it is (known fields of known models are checked).

Identity
    A row's identity is a hash of its content *as written* (prompt with line ends and
    surrounding space normalised, model or none, images, fields; not the label) and its
    position **among identical rows**: the second copy of the same row is another job.
    The absolute line number is deliberately not part of it: inserting or deleting a
    line above must not turn every row below into a "new" one and pay for it again.
    Because the content is taken as written, not as resolved, a new default model or a
    new vidwatch version never changes an identity either. Editing a row gives it a new
    identity: it is then a new job.

Hostile input
    A file that does not *read* cleanly is refused as a whole, naming its lines, before
    anything is sent: where the file's own structure is broken, which rows it holds is
    a guess (a CSV quote left open swallows every row after it into one prompt; a
    prompt broken over two lines is two jobs). So: a JSONL line that is not one JSON
    object (or names a key twice); a CSV quote never closed, or text after a closing
    quote; a CSV row with more or fewer cells than the header names (extra cells that
    are empty are fine); a row that repeats the header (two files joined); bytes that
    are not UTF-8, a NUL byte, a UTF-16 file; over :data:`MAX_BYTES` or
    :data:`MAX_ROWS`. Line ends may be ``\n``, ``\r\n`` or a bare ``\r`` (old Mac
    files), mixed; a byte-order mark at the start of a line is dropped (joined files).
    A row that reads cleanly but says something wrong (no prompt, a bad field or
    model) gets its own error and never stops the others. Nothing here raises. Values
    echoed in messages are one line, printable and short.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from vidwatch.core.create.catalogue import JsonValue
from vidwatch.core.create.requests import (
    DEFAULT_MODEL,
    CreateError,
    CreateRequest,
    normalise_prompt,
    parse_value,
    prepare,
)
from vidwatch.core.text.sanitize import clean_line
from vidwatch.core.text.wording import plural

__all__ = ["MAX_BYTES", "MAX_ROWS", "Batch", "BatchRow", "parse_batch", "read_batch"]

MAX_BYTES: Final = 16 * 1024 * 1024
MAX_ROWS: Final = 10_000
MAX_LABEL: Final = 200
Format = Literal["jsonl", "csv"]
_KNOWN = ("prompt", "model", "label", "images")
_URL_SPLIT = re.compile(r"\s+|,\s*(?=https?://)")
MAX_LINES_SHOWN: Final = 5  # a refused file names this many bad lines, then counts the rest
_BOM: Final = b"\xef\xbb\xbf"
_OTHER_BOMS: Final = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_LINE_END: Final = re.compile(rb"\r\n|\r|\n")
_LINE_END_TEXT: Final = re.compile(r"\r\n|\r|\n")
_LINE_BOM: Final = re.compile(r"(?<=[\r\n])\ufeff")


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One row: ``number`` counts data rows from 1; ``line`` is where it starts in the file.

    Exactly one of ``request`` and ``error`` is set.
    """

    number: int
    line: int
    identity: str
    label: str = ""
    request: CreateRequest | None = None
    notes: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.request is not None


@dataclass(frozen=True, slots=True)
class Batch:
    """A parsed file. ``error`` set: the file as a whole is refused (send nothing)."""

    source: str  # the resolved path (or a name), for messages and the manifest
    format: Format
    rows: tuple[BatchRow, ...] = ()
    error: str | None = None
    digest: str = ""  # sha256 of the file's bytes

    @property
    def sendable(self) -> tuple[BatchRow, ...]:
        return () if self.error else tuple(row for row in self.rows if row.ok)

    @property
    def invalid(self) -> tuple[BatchRow, ...]:
        return tuple(row for row in self.rows if not row.ok)


@dataclass(frozen=True, slots=True)
class _Raw:
    line: int
    values: Mapping[str, JsonValue] | None  # None: unreadable (error says why)
    error: str = ""
    text: str = ""  # the raw line, for the identity of an unreadable row


def read_batch(
    path: Path, *, default_model: str = DEFAULT_MODEL, fmt: Format | None = None
) -> Batch:
    """Read and parse ``path``; an unreadable file is a :class:`Batch` with ``error``."""
    source = str(path.expanduser().resolve())
    kind: Format = fmt or _format_of(path.name, b"")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return Batch(source, kind, error=f"cannot read {source}: {exc.strerror or exc}")
    return parse_batch(data, source=source, default_model=default_model, fmt=fmt)


def parse_batch(
    data: bytes,
    *,
    source: str = "",
    default_model: str = DEFAULT_MODEL,
    fmt: Format | None = None,
) -> Batch:
    """Parse a batch file's bytes. Never raises."""
    kind = fmt or _format_of(source, data)
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_BYTES:
        mib = MAX_BYTES // (1024 * 1024)
        return Batch(source, kind, error=f"the file is over {mib} MiB: split it", digest=digest)
    try:
        _check_text(data)
        raws = list(_jsonl(data) if kind == "jsonl" else _csv(data, source))
    except _FileError as exc:
        return Batch(source, kind, error=str(exc), digest=digest)
    except _TooMany:
        too_many = f"more than {MAX_ROWS:,} rows: split the file"
        return Batch(source, kind, error=too_many, digest=digest)
    rows = _finish(raws, default_model)
    unread = [raw for raw in raws if raw.values is None]
    return Batch(source, kind, tuple(rows), _unread_text(unread) if unread else None, digest)


def _unread_text(unread: list[_Raw]) -> str:
    """``line 4: not JSON (…); also lines 7, 9``: the first in full, then where the others are."""
    first, rest = unread[0], [raw.line for raw in unread[1:]]
    text = f"line {first.line}: {first.error}"
    if rest:
        shown = ", ".join(str(line) for line in rest[:MAX_LINES_SHOWN])
        more = f" and {len(rest) - MAX_LINES_SHOWN:,} more" if len(rest) > MAX_LINES_SHOWN else ""
        text += f"; also line{'s' if len(rest) > 1 else ''} {shown}{more}"
    return text


class _FileError(Exception):
    """The whole file is unusable; ``str()`` says why."""


class _TooMany(Exception):
    pass


def _format_of(name: str, data: bytes) -> Format:
    suffix = Path(name).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "jsonl" if head == b"{" else "csv"


def _count(raws: int) -> None:
    if raws > MAX_ROWS:
        raise _TooMany


def _line_at(data: bytes, index: int) -> int:
    """The line (from 1) that byte ``index`` is on; any of the three line ends counts."""
    return len(_LINE_END.findall(data, 0, index)) + 1


def _check_text(data: bytes) -> None:
    """Files that are not UTF-8 text at all: say what they are."""
    for bom, what in _OTHER_BOMS:
        if data.startswith(bom):
            raise _FileError(f"the file is {what} text: save it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _FileError(
            f"line {_line_at(data, nul)}: a NUL byte; this is not a text file, or it is "
            "UTF-16 (save it as UTF-8)"
        )


def _jsonl(data: bytes) -> Iterator[_Raw]:
    count = 0
    for number, raw_line in enumerate(data.splitlines(), start=1):  # \n, \r\n or \r
        stripped = raw_line.removeprefix(_BOM).strip()  # a BOM starts joined files' lines
        if not stripped or stripped.startswith(b"#"):
            continue
        count += 1
        _count(count)
        try:
            text = stripped.decode("utf-8")
        except UnicodeDecodeError:
            yield _Raw(
                number, None, "not UTF-8 text (save the file as UTF-8)", stripped.hex()[:512]
            )
            continue
        try:
            value = json.loads(text, object_pairs_hook=_unique_keys)
        except RecursionError:
            yield _Raw(number, None, "not JSON (nested too deeply)", text)
            continue
        except _RepeatedKey as exc:
            yield _Raw(number, None, f"the key {_shown(str(exc))} is given twice", text)
            continue
        except ValueError as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "a number too long"
            yield _Raw(number, None, f"not JSON ({why})", text)
            continue
        if not isinstance(value, dict):
            what = "a list" if isinstance(value, list) else type(value).__name__
            yield _Raw(number, None, f"each line must be a JSON object, not {what}", text)
            continue
        yield _Raw(number, value)


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    """``{"prompt": "a", "prompt": "b"}`` is not one row: JSON would keep the last quietly."""
    found: dict[str, JsonValue] = {}
    for key, value in pairs:
        if key in found:
            raise _RepeatedKey(key)
        found[key] = value
    return found


def _csv(data: bytes, source: str) -> Iterator[_Raw]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = _line_at(data, exc.start)
        raise _FileError(f"line {line}: not UTF-8 text (save the file as UTF-8)") from None
    text = _LINE_BOM.sub("", text)  # a BOM at the start of a line: files joined
    header_line = _LINE_END_TEXT.split(text, maxsplit=1)[0]
    delimiter = "\t" if source.lower().endswith(".tsv") else ","
    if "," not in header_line:
        delimiter = "\t" if "\t" in header_line else ";" if ";" in header_line else delimiter
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _FileError(f"line 1: the header cannot be read ({exc})") from None
    if header is None:
        return
    names = [_column(name) for name in header]
    if "prompt" not in names:
        raise _FileError("the header has no prompt column (the first line names the columns)")
    if any(not name for name in names):
        raise _FileError(f"column {names.index('') + 1} of the header has no name")
    repeated = [name for name, n in Counter(names).items() if n > 1]
    if repeated:
        raise _FileError(f"the header names {_shown(repeated[0])} twice")
    count, end = 0, reader.line_num
    while True:
        start = end + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:  # the rest of the file cannot be read: stop here
            yield _Raw(start, None, _csv_error(str(exc), start, reader.line_num), f"line {start}")
            return
        end = reader.line_num
        if cells is None:
            return
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        _count(count)
        while len(cells) > len(names) and not cells[-1].strip():
            cells.pop()  # empty cells past the last column say nothing
        if len(cells) != len(names):
            why = _cells_error(len(cells), len(names), delimiter)
            yield _Raw(start, None, why, delimiter.join(cells))
            continue
        if [_column(cell) for cell in cells] == names:
            yield _Raw(start, None, "the header again (two files joined?)", delimiter.join(cells))
            continue
        values: dict[str, JsonValue] = {}
        for name, cell in zip(names, cells, strict=True):
            if not cell.strip():
                continue  # empty: not given
            values[name] = cell if name in _KNOWN else parse_value(cell)
        yield _Raw(start, values)


def _csv_error(message: str, start: int, noticed: int) -> str:
    if "unexpected end of data" in message:
        return "a quote opens a cell here and is never closed (a missing closing quote?)"
    if "expected after" in message:
        where = f" on line {noticed}" if noticed != start else ""
        return (
            f"text after a closing quote{where} (a missing closing quote? a quote inside "
            'a quoted cell is written twice: "")'
        )
    return f"not CSV ({message})"


def _cells_error(cells: int, columns: int, delimiter: str) -> str:
    sep = {"\t": "tab", ",": "comma"}.get(delimiter, repr(delimiter))
    if cells > columns:
        return (
            f"{cells} cells but the header names {columns} columns (a {sep} inside a cell "
            'needs quotes: "a, b")'
        )
    return (
        f"{plural(cells, 'cell')} but the header names {columns} columns "
        f"(a prompt broken over two lines? an empty cell still needs its {sep})"
    )


def _column(name: str) -> str:
    stripped = name.strip()
    return stripped.lower() if stripped.lower() in _KNOWN else stripped


def _finish(raws: list[_Raw], default_model: str) -> list[BatchRow]:
    seen: Counter[str] = Counter()
    rows = []
    for number, raw in enumerate(raws, start=1):
        content = _content(raw)
        seen[content] += 1
        key = f"{content}\n#{seen[content]}".encode("utf-8", "surrogatepass")
        identity = hashlib.sha256(key).hexdigest()[:32]
        if raw.values is None:
            rows.append(BatchRow(number, raw.line, identity, error=raw.error))
            continue
        rows.append(_row(number, raw.line, identity, raw.values, default_model))
    return rows


def _content(raw: _Raw) -> str:
    """The row as written, in one canonical text (see "Identity" above)."""
    if raw.values is None:
        return "unreadable:" + raw.text.strip()
    values = dict(raw.values)
    values.pop("label", None)
    prompt = values.get("prompt")
    if isinstance(prompt, str):
        values["prompt"] = normalise_prompt(prompt)
    images = values.get("images")
    if isinstance(images, str):
        values["images"] = _split_urls(images)
    if values.get("model") in ("", None):
        values.pop("model", None)
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _split_urls(text: str) -> list[JsonValue]:
    return [part for part in _URL_SPLIT.split(text.strip()) if part]


def _row(
    number: int, line: int, identity: str, values: Mapping[str, JsonValue], default_model: str
) -> BatchRow:
    def bad(why: str, label: str = "") -> BatchRow:
        return BatchRow(number, line, identity, label, error=why)

    label_value = values.get("label")
    if label_value is not None and not isinstance(label_value, str | int | float):
        return bad(f"label must be text, not {_shown(label_value)}")
    label = clean_line(str(label_value), MAX_LABEL) if label_value is not None else ""
    if "prompt" not in values or values["prompt"] in ("", None):
        return bad("no prompt", label)
    model = values.get("model")
    if model in ("", None):
        model = default_model
    if not isinstance(model, str):
        return bad(f"model must be text, not {_shown(model)}", label)
    images = values.get("images")
    if isinstance(images, str):
        images = _split_urls(images)
    if images is None:
        images = []
    if not isinstance(images, list):
        return bad(f"images must be a list of URLs, not {_shown(images)}", label)
    fields = [(key, value) for key, value in values.items() if key not in _KNOWN]
    try:
        prepared = prepare(model, values["prompt"], images, fields)
    except CreateError as exc:
        return bad(str(exc), label)
    return BatchRow(number, line, identity, label, prepared.request, prepared.notes)


def _shown(value: object, limit: int = 40) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
