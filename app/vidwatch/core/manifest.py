"""Never pay twice: the manifest of a batch, a crash-safe journal of every send.

Where
    One manifest per batch file, in a ``manifests`` folder beside the task list:
    ``<tasks folder>/manifests/<file name>-<hash of its resolved path>.jsonl`` (0600, the
    folder 0700). It is keyed by the file's *path*, not its content, because the content
    is expected to change (a refused row fixed, rows added) while the rows that already
    have jobs must still be known. Rows inside are keyed by their identity (content and
    position among identical rows, see :mod:`vidwatch.core.batch`), so an edited row is
    a new row and an unchanged one keeps its history. Rows already sent from *another*
    manifest (the file renamed or copied) are found by :meth:`ManifestDir.elsewhere`.

Format
    JSON Lines, append-only. The first line describes the batch (``kind: batch``); then
    one record per event, each written with a single ``write`` and ``fsync``ed before
    vidwatch goes on::

        intent     written (and fsynced) BEFORE the request is sent; carries the body
        created    the task ID the gateway answered with
        refused    a definite 4xx for this row (status, code, message)
        not_sent   nothing can have reached the server (connection failed; 429, 503,
                   no balance…): sent again automatically
        uncertain  the request may have gone out but the answer was lost: never sent
                   again automatically
        done       the user resolved an uncertain row (found it in the provider's
                   console, or does not want it)
        listed     the row's job is in the task list (written after the list was
                   saved): a created job not yet listed is added on the next run

    The latest record of a row wins. An ``intent`` with nothing after it (vidwatch was
    killed while sending) counts as uncertain. A last line without its newline is a
    write that never completed: its fsync never returned, so what would have followed
    (the send) never happened, and it is ignored (and cut off when the journal is next
    opened for writing). A damaged line elsewhere makes the row it names uncertain;
    one that names no row blocks the batch until the user looks at it.

    The API key is never written here: bodies never carry it.

Only one process writes a manifest at a time (an exclusive ``flock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from vidwatch.core.atomic import fsync_dir
from vidwatch.core.batch import BatchRow
from vidwatch.core.models import utcnow
from vidwatch.core.sanitize import clean_line
from vidwatch.core.verdict import RowState, Verdict, judge, judge_error

__all__ = [
    "CREATE_JOURNAL",
    "MAX_MANIFEST_BYTES",
    "Manifest",
    "ManifestBusy",
    "ManifestDir",
    "ManifestError",
    "RowEntry",
    "RowState",
    "Verdict",
    "judge",
    "judge_error",
]

CREATE_JOURNAL: Final = "vidwatch create"  # the journal of single creates (CLI and dashboard)

VERSION: Final = 1
MAX_MANIFEST_BYTES: Final = 256 * 1024 * 1024
_ROW_IN_TEXT = re.compile(rb'"row"\s*:\s*"([0-9a-f]{32})"')


class ManifestError(Exception):
    """The manifest cannot be used; ``str()`` says why and where."""


class ManifestBusy(ManifestError):
    """Another vidwatch is sending this batch right now."""


@dataclass(frozen=True, slots=True)
class RowEntry:
    """What the manifest knows about one row, after its latest record."""

    row: str
    state: RowState
    number: int = 0
    line: int = 0
    label: str = ""
    model: str = ""
    task_id: str | None = None  # the row's job (while retrying a failed one: the old job)
    previous: tuple[str, ...] = ()  # older jobs of this row, replaced by --retry-failed
    replaces: str | None = None  # the failed job the send in progress replaces
    status: int | None = None
    code: str = ""
    message: str = ""
    sends: int = 0  # intents recorded
    at: str = ""  # time of the latest record (UTC, ISO 8601)
    listed: bool = False  # task_id is in the task list (a "listed" record after it)

    @property
    def unlisted_job(self) -> str | None:
        """The row's job, when it was never put in the task list (vidwatch stopped
        between the answer and the list)."""
        if self.state in (RowState.CREATED, RowState.DONE) and self.task_id and not self.listed:
            return self.task_id
        return None


def _now() -> str:
    return utcnow().isoformat(timespec="milliseconds")


def _apply(entries: dict[str, RowEntry], record: Mapping[str, Any]) -> None:
    """Fold one record into the entries: the one reducer for loading and writing."""
    row = record["row"]
    kind = record["kind"]
    old = entries.get(row) or RowEntry(row, RowState.SENDING)
    at = str(record.get("at", ""))
    if kind == "intent":
        entries[row] = replace(
            old,
            state=RowState.SENDING,
            number=_int(record.get("number")),
            line=_int(record.get("line")),
            label=_str(record.get("label")),
            model=_str(record.get("model")),
            replaces=record.get("replaces") if isinstance(record.get("replaces"), str) else None,
            status=None,
            code="",
            message="",
            sends=old.sends + 1,
            at=at,
        )
        return
    if kind == "created":
        task_id = _str(record.get("task_id"))
        previous = old.previous
        if old.task_id and old.task_id != task_id:
            previous = (*previous, old.task_id)
        entries[row] = replace(
            old,
            state=RowState.CREATED,
            task_id=task_id,
            previous=previous,
            replaces=None,
            at=at,
            listed=False,
        )
        return
    if kind == "done":
        found = _str(record.get("task_id")) or old.task_id
        listed = old.listed and found == old.task_id
        entries[row] = replace(
            old, state=RowState.DONE, task_id=found, replaces=None, at=at, listed=listed
        )
        return
    if kind == "listed":
        if old.task_id and _str(record.get("task_id")) in ("", old.task_id):
            entries[row] = replace(old, listed=True)
        return
    state = {
        "refused": RowState.REFUSED,
        "not_sent": RowState.NOT_SENT,
        "uncertain": RowState.UNCERTAIN,
    }.get(kind)
    if state is None:
        raise ValueError(f"unknown record kind {kind!r}")
    status = record.get("status")
    entries[row] = replace(
        old,
        state=state,
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        code=_str(record.get("code")),
        message=_str(record.get("message")),
        at=at,
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: object) -> str:
    return clean_line(value, 1000) if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class _Loaded:
    source: str
    entries: dict[str, RowEntry]
    blocked: str | None
    notices: tuple[str, ...]
    size: int  # bytes of complete lines (where a torn tail starts)


def _load(data: bytes, where: Path) -> _Loaded:
    entries: dict[str, RowEntry] = {}
    notices: list[str] = []
    blocked: str | None = None
    source = ""
    complete = data.rfind(b"\n") + 1
    if complete < len(data):
        notices.append(f"{where}: an unfinished last line was ignored (a write cut short)")
    for number, line in enumerate(data[:complete].split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
                raise ValueError("not a record")
            if record["kind"] == "batch":
                source = _str(record.get("source"))
                continue
            if not isinstance(record.get("row"), str):
                raise ValueError("no row")
            _apply(entries, record)
        except (ValueError, RecursionError, KeyError, TypeError):
            found = _ROW_IN_TEXT.search(line)
            if found is None:
                blocked = blocked or (
                    f"line {number} of the manifest {where} cannot be read and names no row, "
                    "so vidwatch cannot tell what was sent; check it, then remove the line"
                )
                continue
            row = found.group(1).decode()
            damaged = {"kind": "uncertain", "row": row, "code": "damaged"}
            damaged["message"] = f"manifest line {number} is damaged"
            _apply(entries, damaged)
            notices.append(f"{where}: line {number} is damaged; its row counts as uncertain")
    return _Loaded(source, entries, blocked, tuple(notices), complete)


class Manifest:
    """A batch's journal: its rows' entries, and (when opened) the way to add records.

    :meth:`read` gives a read-only view (dry runs, listings). :meth:`open` takes the
    lock, cuts a torn last line, and allows ``record_*``; use it as a context manager.
    """

    def __init__(self, path: Path, source: str, loaded: _Loaded, fd: int | None) -> None:
        self.path = path
        self.source = loaded.source or source
        self.entries: dict[str, RowEntry] = loaded.entries
        self.blocked = loaded.blocked
        self.notices = loaded.notices
        self._fd = fd

    # ------------------------------------------------------------------ opening

    @classmethod
    def read(cls, path: Path, source: str = "") -> Manifest:
        """The manifest as it is on disk (empty when there is none). Writes nothing."""
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_MANIFEST_BYTES + 1)
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise ManifestError(f"cannot read the manifest {path}: {exc.strerror}") from None
        return cls(path, source, _checked_load(data, path), None)

    @classmethod
    def open(cls, path: Path, source: str) -> Manifest:
        """Open for writing: lock, load, cut a torn tail, write the header if new."""
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ManifestError(f"cannot open the manifest {path}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ManifestBusy(
                    f"another vidwatch is sending this batch (manifest {path}); "
                    "wait for it to finish"
                ) from None
            data = _read_fd(fd)
            loaded = _checked_load(data, path)
            if loaded.size < len(data):
                os.ftruncate(fd, loaded.size)
                os.fsync(fd)
            manifest = cls(path, source, loaded, fd)
            if loaded.size == 0:
                manifest._append({"kind": "batch", "source": source, "version": VERSION})
                fsync_dir(path.parent)
        except OSError as exc:
            os.close(fd)
            raise ManifestError(f"cannot use the manifest {path}: {exc.strerror}") from None
        except BaseException:
            os.close(fd)
            raise
        return manifest

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ records

    def record_intent(
        self, row: BatchRow, replaces: str | None = None, *, body: Mapping[str, Any] | None = None
    ) -> RowEntry:
        """Durably note that ``row`` is about to be sent. Call BEFORE sending; if this
        raises, do not send."""
        if row.request is None:
            raise ManifestError(f"row {row.number} has no request to send")
        return self._record(
            {
                "kind": "intent",
                "row": row.identity,
                "number": row.number,
                "line": row.line,
                "label": row.label,
                "model": row.request.model,
                "body": dict(body) if body is not None else row.request.body(),
                "replaces": replaces,
            }
        )

    def record_verdict(self, row_id: str, verdict: Verdict) -> RowEntry:
        """Durably note how a send ended."""
        if verdict.state is RowState.CREATED:
            return self._record({"kind": "created", "row": row_id, "task_id": verdict.task_id})
        if verdict.state not in (RowState.REFUSED, RowState.NOT_SENT, RowState.UNCERTAIN):
            raise ManifestError(f"{verdict.state} is not the result of a send")
        record: dict[str, Any] = {"kind": verdict.state.value, "row": row_id}
        record.update(code=verdict.code, message=verdict.message, status=verdict.status)
        return self._record(record)

    def mark_done(self, row_id: str, task_id: str | None = None) -> RowEntry:
        """The user resolved the row (found its job, or does not want one): never sent
        again unless its job fails and ``--retry-failed`` is asked for."""
        if row_id not in self.entries:
            raise ManifestError("that row was never sent from this batch")
        return self._record({"kind": "done", "row": row_id, "task_id": task_id})

    def mark_listed(self, row_id: str) -> RowEntry:
        """The row's job is now in the task list (call after the list was saved)."""
        entry = self.entries.get(row_id)
        if entry is None or not entry.task_id:
            raise ManifestError("that row has no job to list")
        return self._record({"kind": "listed", "row": row_id, "task_id": entry.task_id})

    def _record(self, record: dict[str, Any]) -> RowEntry:
        record["at"] = _now()
        self._append(record)
        _apply(self.entries, record)
        return self.entries[record["row"]]

    def _append(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            raise ManifestError("the manifest is open for reading only")
        record = {"v": VERSION, **record}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        view = memoryview(line.encode("utf-8", "replace"))
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError as exc:
            raise ManifestError(f"cannot write the manifest {self.path}: {exc.strerror}") from None


def _read_fd(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks, total = [], 0
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_MANIFEST_BYTES:
            break
    return b"".join(chunks)


def _checked_load(data: bytes, path: Path) -> _Loaded:
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"the manifest {path} is over {MAX_MANIFEST_BYTES // (1 << 20)} MiB; "
            "vidwatch will not guess what it holds"
        )
    return _load(data, path)


class ManifestDir:
    """The folder of manifests (``<tasks folder>/manifests``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def beside(cls, tasks_file: Path) -> ManifestDir:
        return cls(tasks_file.parent / "manifests")

    def path_for(self, source: str) -> Path:
        """The manifest of the batch file at ``source`` (a resolved path)."""
        digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source).name)[:60] or "batch"
        return self.folder / f"{stem}-{digest}.jsonl"

    def read(self, source: str) -> Manifest:
        return Manifest.read(self.path_for(source), source)

    def open(self, source: str) -> Manifest:
        return Manifest.open(self.path_for(source), source)

    def elsewhere(self, rows: set[str], source: str) -> dict[str, tuple[str, RowEntry]]:
        """Rows among ``rows`` that may already have a job from another batch file (a
        renamed or copied one): identity → (that file, its entry). Unreadable manifests
        are skipped."""
        found: dict[str, tuple[str, RowEntry]] = {}
        mine = self.path_for(source)
        for path in self._manifests():
            if path == mine or not rows:
                continue
            with contextlib.suppress(ManifestError):
                other = Manifest.read(path)
                for row_id, entry in other.entries.items():
                    if row_id in rows and entry.state.may_have_job and row_id not in found:
                        found[row_id] = (other.source or path.name, entry)
        return found

    def _manifests(self) -> Iterator[Path]:
        try:
            yield from sorted(self.folder.glob("*.jsonl"))
        except OSError:
            return
