"""Never pay twice: the journal of a batch, a crash-safe record of every send.

Where
    One journal per batch file *and task list*, in the record of sends that belongs to
    the user (:mod:`vidwatch.core.create.ledger`, ``<sent>/journals/``):
    ``<file name>-<hash of the task list's and the file's resolved paths>.jsonl`` (0600,
    the folder 0700). It is keyed by the file's *path*, not its content, because the
    content is expected to change (a refused row fixed, rows added) while the rows that
    already have jobs must still be known. Rows inside are keyed by their identity
    (content and position among identical rows, see :mod:`vidwatch.core.create.batch`), so an
    edited row is a new row and an unchanged one keeps its history. Whether the same
    *request* was sent from anywhere else (a copy, a hard link, another task list, a
    single create) is the ledger's question, asked under its one lock before each send.

    Journals written by older versions sit beside the task list
    (``<tasks folder>/manifests/``); a journal not yet in the record starts from the
    old one (:meth:`ManifestDir.open`), so nothing recorded there is forgotten.

Format
    JSON Lines, append-only. The first line describes the batch (``kind: batch``); then
    one record per event, each written with a single ``write`` and ``fsync``ed before
    vidwatch goes on::

        intent     written (and fsynced) BEFORE the request is sent; carries the body,
                   the request's key and the send's ID in the ledger
        created    the task ID the gateway answered with
        refused    a definite 4xx for this row (status, code, message)
        not_sent   nothing can have reached the server (connection failed; 429, 503,
                   no balance…): sent again automatically
        uncertain  the request may have gone out but the answer was lost (or held an
                   ID that cannot be used: kept raw as ``answered``): never sent again
                   automatically
        done       the user resolved an uncertain row (found it in the provider's
                   console, or does not want it)
        listed     the row's job is in the task list (written after the list was
                   saved): a created job not yet listed is added on the next run
        state      a row's whole entry (what compaction writes)

    The latest record of a row wins. An ``intent`` with nothing after it (vidwatch was
    killed while sending) counts as uncertain. A last line without its newline is a
    write that never completed: its fsync never returned, so what would have followed
    (the send) never happened, and it is ignored (and cut off when the journal is next
    opened for writing). A damaged line elsewhere makes the row it names uncertain;
    one that names no row blocks the batch until the user looks at it.

Compaction
    A journal opened for writing that has grown past :data:`COMPACT_AT` is rewritten
    with one ``state`` record per row (the journal of single creates keeps only rows
    still unresolved or unlisted: every send stays in the ledger), so what a create
    reads does not grow with history. The new file is written beside, fsynced and
    locked, then renamed over the old one: a crash at any point leaves the old journal
    or the new one, both complete.

    The API key is never written here: bodies never carry it.

Only one process writes a journal at a time (an exclusive ``flock`` on the journal
itself; a process that locked a journal just replaced by compaction sees it and locks
the new one).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vidwatch.core.create.verdict import RowState, Verdict, judge, judge_error
from vidwatch.core.model.ids import escaped
from vidwatch.core.model.records import utcnow, validate_task_id
from vidwatch.core.store.atomic import fsync_dir
from vidwatch.core.store.lock import LockBusy, folder_problem, open_locked, try_lock
from vidwatch.core.text.sanitize import clean_line

if TYPE_CHECKING:  # reading a journal needs no batch file's parsing
    from vidwatch.core.create.batch import BatchRow

__all__ = [
    "COMPACT_AT",
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
COMPACT_AT: Final = 128 * 1024  # bytes: a journal past this is compacted when opened to write
MAX_ANSWERED: Final = 1024  # characters kept of an unusable ID the gateway answered with
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
    key: str = ""  # the request's key in the ledger (its body record)
    send: str = ""  # the latest send's ID in the ledger
    answered: str = ""  # uncertain: an ID the gateway answered with that cannot be used (raw)
    prompt: str = ""  # the start of the prompt, for messages

    @property
    def unlisted_job(self) -> str | None:
        """The row's job, when it was never put in the task list (vidwatch stopped
        between the answer and the list)."""
        if self.state in (RowState.CREATED, RowState.DONE) and self.task_id and not self.listed:
            return self.task_id
        return None

    @property
    def resolved(self) -> bool:
        """Nothing left to do or to tell about this row (its job listed, or none made)."""
        if self.state in (RowState.REFUSED, RowState.NOT_SENT):
            return True
        return self.state in (RowState.CREATED, RowState.DONE) and self.unlisted_job is None


def _now() -> str:
    return utcnow().isoformat(timespec="milliseconds")


def _apply(entries: dict[str, RowEntry], record: Mapping[str, Any]) -> None:
    """Fold one record into the entries: the one reducer for loading and writing."""
    row = record["row"]
    kind = record["kind"]
    old = entries.get(row) or RowEntry(row, RowState.SENDING)
    at = str(record.get("at", ""))
    if kind == "state":
        entries[row] = _entry_of(row, record)
        return
    if kind == "intent":
        body = record.get("body")
        prompt = body.get("prompt") if isinstance(body, Mapping) else None
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
            key=_str(record.get("key")),
            send=_str(record.get("send")),
            answered="",
            prompt=clean_line(prompt, 80) if isinstance(prompt, str) else old.prompt,
        )
        return
    if kind == "created":
        raw = record.get("task_id")
        if not isinstance(raw, str) or validate_task_id(raw) is not None:
            # Older versions took IDs the task file cannot hold (then set the task aside
            # as unreadable): the job may exist, under an ID no list shows. Uncertain.
            answered = raw[:MAX_ANSWERED] if isinstance(raw, str) else ""
            why = f"the gateway answered with an ID vidwatch cannot use: {escaped(answered)}"
            entries[row] = replace(
                old,
                state=RowState.UNCERTAIN,
                code="unusable_id",
                message=why,
                at=at,
                answered=answered,
                replaces=None,
                listed=False,
            )
            return
        task_id = _str(raw)
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
            answered="",
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
    kept = record.get("answered")
    entries[row] = replace(
        old,
        state=state,
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        code=_str(record.get("code")),
        message=_str(record.get("message")),
        at=at,
        answered=kept[:MAX_ANSWERED] if isinstance(kept, str) else "",
    )


_ENTRY_FIELDS: Final = tuple(f.name for f in fields(RowEntry) if f.name != "row")


def _state_record(entry: RowEntry) -> dict[str, Any]:
    """A row's whole entry as one ``state`` record (compaction)."""
    record: dict[str, Any] = {"kind": "state", "row": entry.row}
    for name in _ENTRY_FIELDS:
        value = getattr(entry, name)
        record[name] = list(value) if isinstance(value, tuple) else value
    return record


def _entry_of(row: str, record: Mapping[str, Any]) -> RowEntry:
    status = record.get("status")
    previous = record.get("previous")
    task_id = record.get("task_id")
    replaces = record.get("replaces")
    answered = record.get("answered")
    return RowEntry(
        row,
        RowState(str(record.get("state"))),  # ValueError: a damaged line
        number=_int(record.get("number")),
        line=_int(record.get("line")),
        label=_str(record.get("label")),
        model=_str(record.get("model")),
        task_id=_str(task_id) or None if isinstance(task_id, str) else None,
        previous=tuple(_str(p) for p in previous if isinstance(p, str))
        if isinstance(previous, list)
        else (),
        replaces=_str(replaces) or None if isinstance(replaces, str) else None,
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        code=_str(record.get("code")),
        message=_str(record.get("message")),
        sends=_int(record.get("sends")),
        at=_str(record.get("at")),
        listed=record.get("listed") is True,
        key=_str(record.get("key")),
        send=_str(record.get("send")),
        answered=answered[:MAX_ANSWERED] if isinstance(answered, str) else "",
        prompt=_str(record.get("prompt")),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: object) -> str:
    return clean_line(value, 1000) if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class _Loaded:
    source: str
    tasks_file: str
    entries: dict[str, RowEntry]
    blocked: str | None
    notices: tuple[str, ...]
    size: int  # bytes of complete lines (where a torn tail starts)


def _load(data: bytes, where: Path) -> _Loaded:
    entries: dict[str, RowEntry] = {}
    notices: list[str] = []
    blocked: str | None = None
    source = tasks_file = ""
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
                tasks_file = _str(record.get("tasks_file"))
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
    return _Loaded(source, tasks_file, entries, blocked, tuple(notices), complete)


class Manifest:
    """A batch's journal: its rows' entries, and (when opened) the way to add records.

    :meth:`read` gives a read-only view (dry runs, listings). :meth:`open` takes the
    lock, cuts a torn last line, compacts a long journal, and allows ``record_*``; use
    it as a context manager.
    """

    def __init__(
        self, path: Path, source: str, loaded: _Loaded, fd: int | None, tasks_file: str = ""
    ) -> None:
        self.path = path
        self.source = loaded.source or source
        self.tasks_file = loaded.tasks_file or tasks_file
        self.entries: dict[str, RowEntry] = loaded.entries
        self.blocked = loaded.blocked
        self.notices = loaded.notices
        self._fd = fd
        self.bytes_read = loaded.size

    @property
    def single(self) -> bool:
        """The journal of single creates (not of a batch file)."""
        return self.source == CREATE_JOURNAL

    # ------------------------------------------------------------------ opening

    @classmethod
    def read(cls, path: Path, source: str = "", tasks_file: str = "") -> Manifest:
        """The manifest as it is on disk (empty when there is none). Writes nothing."""
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_MANIFEST_BYTES + 1)
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise ManifestError(f"cannot read the manifest {path}: {exc.strerror}") from None
        return cls(path, source, _checked_load(data, path), None, tasks_file)

    @classmethod
    def open(cls, path: Path, source: str, tasks_file: str = "", *, start: bytes = b"") -> Manifest:
        """Open for writing: lock, load, cut a torn tail, write the header if new (or
        ``start``, the records of an older journal, when there is none yet), compact."""
        problem = folder_problem(path.parent, 0o700)
        if problem is not None:
            raise ManifestError(f"cannot keep the journal of sends in {path.parent}: {problem}")
        fd = _open_locked(path)  # compacted meanwhile: the new file's lock
        try:
            data = _read_fd(fd)
            loaded = _checked_load(data, path)
            if loaded.size < len(data):
                os.ftruncate(fd, loaded.size)
                os.fsync(fd)
            manifest = cls(path, source, loaded, fd, tasks_file)
            if loaded.size == 0:
                imported = _checked_load(start, path) if start else None
                if imported is not None:
                    manifest.entries = imported.entries
                    manifest.blocked = imported.blocked
                manifest._rewrite()
            elif loaded.size > COMPACT_AT:
                manifest.compact()
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

    # ------------------------------------------------------------------ compaction

    def compact(self) -> None:
        """Rewrite the journal as one ``state`` record per row still worth keeping (the
        single creates' journal drops rows with nothing left to do: the ledger keeps
        every send). Only when that at least halves it (a batch of many rows stays as
        long as its rows need)."""
        keep = [e for e in self.entries.values() if not (self.single and e.resolved)]
        lines = self._lines(keep)
        if self.single or sum(len(line) for line in lines) * 2 <= self.bytes_read:
            self.entries = {e.row: e for e in keep}
            self._rewrite(lines)

    def _lines(self, entries: list[RowEntry] | None = None) -> list[bytes]:
        if entries is None:
            entries = list(self.entries.values())
        header = {"kind": "batch", "source": self.source, "tasks_file": self.tasks_file}
        records = [{**header, "version": VERSION}, *(_state_record(e) for e in entries)]
        return [_encode(record) for record in records]

    def _rewrite(self, lines: list[bytes] | None = None) -> None:
        """Replace the journal with ``lines`` (default: the header and every entry):
        written beside, fsynced and locked, then renamed over it."""
        assert self._fd is not None
        data = b"".join(self._lines() if lines is None else lines)
        temp = self.path.with_name(self.path.name + ".compacting")
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            if not try_lock(fd):  # ours before anyone can see it
                raise ManifestBusy(f"another vidwatch is compacting the manifest {self.path}")
            _write_all(fd, data)
            os.fsync(fd)
            os.replace(temp, self.path)
            fsync_dir(self.path.parent)
        except BaseException:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd = fd
        self.bytes_read = len(data)

    # ------------------------------------------------------------------ records

    def record_intent(
        self,
        row: BatchRow,
        replaces: str | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        key: str = "",
        send: str = "",
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
                "key": key,
                "send": send,
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
        if verdict.answered:
            record["answered"] = verdict.answered[:MAX_ANSWERED]
        return self._record(record)

    def settle_stopped(self) -> None:
        """Sends of this journal (held here, so no other process is sending them) that
        were out when vidwatch stopped: uncertain from now on."""
        for row_id, entry in list(self.entries.items()):
            if entry.state is RowState.SENDING:
                why = "vidwatch was stopped while sending it"
                self.record_verdict(row_id, Verdict(RowState.UNCERTAIN, "interrupted", why))

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
        try:
            _write_all(self._fd, _encode(record))
            os.fsync(self._fd)
        except OSError as exc:
            raise ManifestError(f"cannot write the manifest {self.path}: {exc.strerror}") from None


def _encode(record: Mapping[str, Any]) -> bytes:
    line = json.dumps({"v": VERSION, **record}, ensure_ascii=False, separators=(",", ":"))
    return (line + "\n").encode("utf-8", "replace")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _open_locked(path: Path) -> int:
    try:
        return open_locked(path, flags=os.O_APPEND)
    except LockBusy:
        raise ManifestBusy(
            f"another vidwatch is sending this batch (manifest {path}); wait for it to finish"
        ) from None
    except OSError as exc:
        raise ManifestError(f"cannot open the manifest {path}: {exc.strerror}") from None


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


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class ManifestDir:
    """A folder of journals: the ledger's (``<sent>/journals``, one journal per task list
    and batch file), or the old one beside a task list (``<tasks folder>/manifests``,
    one per batch file), which is only read (:attr:`legacy`)."""

    def __init__(
        self, folder: Path, tasks_file: str = "", legacy: ManifestDir | None = None
    ) -> None:
        self.folder = folder
        self.tasks_file = tasks_file
        self.legacy = legacy

    @classmethod
    def beside(cls, tasks_file: Path) -> ManifestDir:
        """The folder older versions kept beside the task list."""
        return cls(tasks_file.parent / "manifests")

    def path_for(self, source: str) -> Path:
        """The journal of the batch file at ``source`` (a resolved path)."""
        key = f"{self.tasks_file}\n{source}" if self.tasks_file else source
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source).name)[:60] or "batch"
        return self.folder / f"{stem}-{_digest(key)}.jsonl"

    def read(self, source: str) -> Manifest:
        path = self.path_for(source)
        if self.legacy is not None and not path.exists():
            older = self.legacy.path_for(source)
            if older.exists():
                return Manifest.read(older, source, self.tasks_file)
        return Manifest.read(path, source, self.tasks_file)

    def open(self, source: str) -> Manifest:
        path = self.path_for(source)
        start = b""
        if self.legacy is not None and not path.exists():
            start = self.legacy.read_bytes(source)
        return Manifest.open(path, source, self.tasks_file, start=start)

    def read_bytes(self, source: str) -> bytes:
        """The journal's bytes as they are (b"" when there is none or it cannot be read)."""
        try:
            with self.path_for(source).open("rb") as handle:
                return handle.read(MAX_MANIFEST_BYTES + 1)
        except OSError:
            return b""

    def journals(self, pattern: str = "*.jsonl") -> list[Path]:
        try:
            return sorted(self.folder.glob(pattern))
        except OSError:
            return []

    def single_creates(self) -> list[Path]:
        """Every journal of single creates in the folder (one per task list)."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", CREATE_JOURNAL)
        return self.journals(f"{stem}-*.jsonl")
