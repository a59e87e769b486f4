"""The record of what was sent: the user's, whichever task list, file or process sent it.

A job is paid each time a body reaches the gateway, so the question "was this request
sent before?" must have one answer for the user, not one per task list or batch file:
a copy of a batch file, a hard link to it, the same file under another ``--tasks-file``,
a row edited in a way that changes nothing, and a single ``vidwatch create`` all ask it
here, and the decision to send is taken under one lock.

Where (``vidwatch paths``: ``sent``; in the user's data folder, 0700)::

    lock                       the one lock for the decision to send
    requests/ab/<key>.json     one file per request: its body and every send of it
    ids/cd/<digest>.json       one file per task ID a create answered with: whose it is
    journals/*.jsonl           one journal per task list and batch file (manifest.py)
    imported.json              which journals of older versions were read in

The request's key
    :func:`~vidwatch.core.create.requests.request_key` of the body — normalised: a model's
    default written out or not, ``15`` or ``15.0``, ``[]`` or absent, any key order are
    the same request — then ``-n``, its place among the rows of one batch that send the
    same request: the second copy of a row in one file is a second job, the same row in
    a copy of the file is not. A single create is always ``-1``.

The decision to send (:meth:`Ledger.claim`, under :meth:`Ledger.deciding`)
    The request's file is read. If a send of it may have made a job (being sent,
    created, uncertain, marked done) and it is not the send the user accepted paying
    for again (``accepted``), nothing is sent: :class:`AlreadySent` names it. Else the
    send is noted (fsynced) and, still under the lock, the caller journals its intent;
    only then does the request go out. Two processes, two files, two paths of one file,
    two task lists can never both send the same request unless the user said so.

The answer (:meth:`Ledger.checked`, :meth:`Ledger.note`, under the lock)
    A created ID that the gateway already gave for another request (the ID index), or
    that the task list holds for another request, is not "created": the row is
    uncertain, and the message says why.

Cost
    Each decision reads one small file per request and one per ID, so what a create
    costs does not grow with the number of creates before it.

Older versions
    Their journals beside the task list (``<tasks folder>/manifests/``) are read in once
    (again when one changes): every send they hold is noted here, and a batch's journal
    starts from its old one (:class:`~vidwatch.core.create.journal.ManifestDir`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vidwatch.core.create.journal import (
    CREATE_JOURNAL,
    Manifest,
    ManifestDir,
    ManifestError,
    RowEntry,
)
from vidwatch.core.create.verdict import RowState, Verdict, duplicate, mark_done_advice
from vidwatch.core.model.ids import escaped
from vidwatch.core.model.records import TaskRecord, TaskRequest, utcnow
from vidwatch.core.store.atomic import atomic_write
from vidwatch.core.store.lock import StoreError, folder_problem, is_locked, locked
from vidwatch.core.text.sanitize import clean_line

# A request's key needs the catalogue of models (its defaults): loaded where a key is made,
# not to read the record (``vidwatch list`` asks it for creates whose answer was lost).
if TYPE_CHECKING:
    from vidwatch.core.create.batch import BatchRow
    from vidwatch.core.create.requests import JsonValue

__all__ = [
    "AlreadySent",
    "Earlier",
    "Ledger",
    "LedgerError",
    "Send",
    "Unresolved",
    "key_of",
    "keys_of",
]

VERSION: Final = 1
MAX_RECORD: Final = 1 << 20  # bytes of one request's file (a body is at most ~100 KiB)
MAX_SENDS: Final = 64  # sends kept per request (each one after the first needed a yes)
REF_LENGTH: Final = 8  # hex digits of a single create's reference (--mark-done REF)


class LedgerError(Exception):
    """The record of sends cannot be used; ``str()`` says why and where."""


@dataclass(frozen=True, slots=True)
class Send:
    """One send of a request, as the record knows it."""

    id: str
    at: str  # UTC, ISO 8601
    state: RowState
    journal: str  # the batch file's resolved path, or CREATE_JOURNAL
    tasks_file: str
    row: str  # the row's identity in its journal
    number: int = 0
    label: str = ""
    task_id: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "state": self.state.value,
            "journal": self.journal,
            "tasks_file": self.tasks_file,
            "row": self.row,
            "number": self.number,
            "label": self.label,
            "task_id": self.task_id,
        }

    @classmethod
    def of(cls, data: object) -> Send:
        if not isinstance(data, Mapping):
            raise ValueError("a send is an object")
        number, task_id = data.get("number"), data.get("task_id")
        return cls(
            _text(data.get("id")),
            _text(data.get("at")),
            RowState(str(data.get("state"))),
            _text(data.get("journal")),
            _text(data.get("tasks_file")),
            _text(data.get("row")),
            number if isinstance(number, int) and not isinstance(number, bool) else 0,
            _text(data.get("label")),
            _text(task_id) or None if isinstance(task_id, str) else None,
        )


def _text(value: object) -> str:
    return clean_line(value, 4096) if isinstance(value, str) else ""


def _when(at: str) -> str:
    return f"{at[:16].replace('T', ' ')} UTC" if at else "at an unknown time"


def _where(journal: str, number: int) -> str:
    if journal == CREATE_JOURNAL:
        return "vidwatch create"
    return f"row {number} of {journal}" if number else journal


@dataclass(frozen=True, slots=True)
class Earlier:
    """A send of the same request that may have made a job, or a task of the list that
    was made by the same request (``send`` empty)."""

    send: str
    at: str
    where: str
    state: RowState
    task_id: str | None = None
    tasks_file: str = ""
    other_list: bool = False  # sent for another task list than the one in use
    own: bool = False  # this very row's own earlier send (same journal and row)

    def text(self) -> str:
        """``sent before as grok:… (2025-05-01 12:03 UTC, row 3 of /x/b.jsonl)``."""
        job = f" as {escaped(self.task_id)}" if self.task_id else ""
        if not self.send:
            return f"already in the task list{job} (added {_when(self.at)})"
        if not job:
            job = {
                RowState.SENDING: " (its answer was never recorded)",
                RowState.UNCERTAIN: " (its answer was lost: the job may exist)",
                RowState.DONE: " (marked done)",
            }.get(self.state, "")
        where = [_when(self.at), self.where]
        if self.other_list:
            where.append(f"task list {self.tasks_file}")
        return f"sent before{job} ({', '.join(where)})"


class AlreadySent(Exception):
    """The request was sent before (``earlier``) and the user did not accept paying for
    it again: not sent."""

    def __init__(self, earlier: Earlier) -> None:
        super().__init__(earlier.text())
        self.earlier = earlier


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A single create whose job may exist but is in no task list: said by every
    command until the user resolves it (``vidwatch create --mark-done REF[=ID]``)."""

    ref: str
    entry: RowEntry
    journal: Path
    tasks_file: str
    in_flight: bool  # being sent right now by another vidwatch

    def text(self) -> str:
        entry = self.entry
        what = [_when(entry.at), entry.model or "?"]
        if entry.prompt:
            what.append(repr(entry.prompt[:60]))
        if entry.label:
            what.append(f"label {entry.label!r}")
        head = f"create {self.ref} ({', '.join(what)})"
        if self.in_flight:
            return f"{head} is being sent by another vidwatch right now"
        if entry.state in (RowState.CREATED, RowState.DONE) and entry.task_id:
            return f"{head} made {escaped(entry.task_id)}, which is not in the task list yet"
        if entry.state is RowState.SENDING:
            cause = "vidwatch was stopped while sending it"
        else:
            cause = entry.message or "its answer was lost"
        return f"{head} may have made a job (and been paid) that is in no task list: {cause}"

    def brief(self) -> str:
        """One short sentence, the command in it (the dashboard's banner)."""
        entry = self.entry
        if entry.state in (RowState.CREATED, RowState.DONE) and entry.task_id:
            job = escaped(entry.task_id)
            return (
                f"Create {self.ref} made {job}, not in the list yet: "
                f"vidwatch create --mark-done {self.ref}"
            )
        what = f" ({entry.prompt[:24]!r})" if entry.prompt else ""
        return (
            f"Create {self.ref}{what} may have made a job that is in no list: find it in the "
            f"provider's console, then: vidwatch create --mark-done {self.ref}=ID"
        )

    def advice(self) -> str:
        if self.entry.state in (RowState.CREATED, RowState.DONE) and self.entry.task_id:
            return f"add it now: vidwatch create --mark-done {self.ref}"
        return mark_done_advice(self.ref)


def key_of(fingerprint: str, place: int = 1) -> str:
    return f"{fingerprint}-{place}"


def keys_of(rows: Iterable[BatchRow]) -> dict[str, str]:
    """Each sendable row's request key (row identity → key): the request's digest and its
    place among the rows of the file that send the same request."""
    seen: Counter[str] = Counter()
    keys = {}
    for row in rows:
        if row.request is None:
            continue
        fingerprint = row.request.key()
        seen[fingerprint] += 1
        keys[row.identity] = key_of(fingerprint, seen[fingerprint])
    return keys


def _latest_job(sends: Iterable[Send]) -> Send | None:
    found = None
    for send in sends:
        if send.state.may_have_job:
            found = send
    return found


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Ledger:
    """The record of sends, as seen from one task list (``tasks_file``): the requests
    and IDs are the user's; the journals are per task list and batch file."""

    def __init__(self, folder: Path, tasks_file: Path | str) -> None:
        self.folder = folder
        path = Path(tasks_file).expanduser()
        self.tasks_file = str(path.resolve())  # one list under two names is one list
        self.journals = ManifestDir(
            folder / "journals", self.tasks_file, legacy=ManifestDir.beside(path)
        )
        self.notices: list[str] = []
        self._ready = False

    # ------------------------------------------------------------------ setup

    def ready(self) -> Ledger:
        """Make the folder (0700) and read in older journals; :class:`LedgerError` says
        what is wrong (a file or a broken link where the folder should be)."""
        if self._ready:
            return self
        problem = folder_problem(self.folder, 0o700)
        if problem is not None:
            raise LedgerError(f"cannot keep the record of sends in {self.folder}: {problem}")
        self._import_older()
        self._ready = True
        return self

    @contextlib.contextmanager
    def deciding(self) -> Iterator[None]:
        """The one lock for the decision to send (and for noting answers)."""
        self.ready()
        with self._locked():
            yield

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with locked(self.folder, self.folder / "lock", "the record of sends"):
                yield
        except StoreError as exc:
            raise LedgerError(str(exc).rstrip(".")) from None

    # ------------------------------------------------------------------ reading

    def _request_path(self, key: str) -> Path:
        return self.folder / "requests" / key[:2] / f"{key}.json"

    def _id_path(self, task_id: str) -> Path:
        digest = _digest(task_id)
        return self.folder / "ids" / digest[:2] / f"{digest}.json"

    def _read(self, path: Path) -> dict[str, Any] | None:
        """A record file (None: there is none). Damage is a :class:`ValueError`."""
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_RECORD + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueError(exc.strerror or type(exc).__name__) from None
        if len(data) > MAX_RECORD:
            raise ValueError("too large")
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            raise ValueError("not JSON") from None
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return value

    def sends(self, key: str) -> tuple[Send, ...]:
        """Every send of the request (oldest first); ValueError when its file is damaged."""
        record = self._read(self._request_path(key))
        if record is None:
            return ()
        sends = record.get("sends")
        if not isinstance(sends, list):
            raise ValueError("no list of sends")
        return tuple(Send.of(item) for item in sends)

    def body(self, key: str) -> dict[str, JsonValue] | None:
        """The request's body as it was sent (None: unknown)."""
        try:
            record = self._read(self._request_path(key))
        except ValueError:
            return None
        body = record.get("body") if record else None
        return body if isinstance(body, dict) else None

    def request(self, key: str) -> TaskRequest | None:
        from vidwatch.core.create.requests import request_of

        body = self.body(key)
        return request_of(body) if body is not None else None

    def earlier(self, key: str, journal: str, row: str) -> Earlier | None:
        """The latest send of the request that may have made a job (None: none). A
        damaged record is an uncertain earlier send: nothing is sent past it."""
        try:
            latest = _latest_job(self.sends(key))
        except ValueError as exc:
            where = f"the record {self._request_path(key)} cannot be read ({exc})"
            return Earlier("damaged", "", where, RowState.UNCERTAIN)
        return self._earlier(latest, journal, row) if latest is not None else None

    def _earlier(self, send: Send, journal: str, row: str) -> Earlier:
        own = send.journal == journal and send.row == row and send.tasks_file == self.tasks_file
        return Earlier(
            send.id,
            send.at,
            _where(send.journal, send.number),
            send.state,
            send.task_id,
            send.tasks_file,
            other_list=send.tasks_file != self.tasks_file,
            own=own,
        )

    @staticmethod
    def listed(records: Iterable[TaskRecord]) -> dict[str, Earlier]:
        """The task list's jobs made by vidwatch, by request key (the n-th task of a
        request, in the order they were added, is ``-n``): a truncated or deleted
        journal still knows them."""
        by_request: dict[str, list[TaskRecord]] = defaultdict(list)
        for record in records:
            request = record.task.request
            if request is not None:
                by_request[_request_digest(request)].append(record)
        found = {}
        for fingerprint, tasks in by_request.items():
            tasks.sort(key=lambda r: r.task.added_at)
            for place, record in enumerate(tasks, start=1):
                at = record.task.added_at.isoformat(timespec="milliseconds")
                found[key_of(fingerprint, place)] = Earlier(
                    "", at, "the task list", RowState.CREATED, record.id
                )
        return found

    @staticmethod
    def known_ids(records: Iterable[TaskRecord]) -> dict[str, str]:
        """Task ID → the digest of the request that made it ("" when added by hand)."""
        return {
            r.id: _request_digest(r.task.request) if r.task.request is not None else ""
            for r in records
        }

    # ------------------------------------------------------------------ deciding

    def claim(
        self,
        key: str,
        body: Mapping[str, JsonValue],
        *,
        journal: str,
        row: BatchRow,
        accepted: str | None = None,
    ) -> str:
        """Under :meth:`deciding`: the send's ID once it is noted (fsynced), or
        :class:`AlreadySent` when the request may have made a job before and that send
        is not ``accepted`` (the one the user agreed to pay for again)."""
        earlier = self.earlier(key, journal, row.identity)
        if earlier is not None and (earlier.send != accepted or earlier.send == "damaged"):
            raise AlreadySent(earlier)
        import uuid  # only to send: reading the record (``vidwatch list``) needs none

        send = Send(
            uuid.uuid4().hex[:16],
            utcnow().isoformat(timespec="milliseconds"),
            RowState.SENDING,
            journal,
            self.tasks_file,
            row.identity,
            row.number,
            row.label,
        )
        self._add_send(key, body, send)
        return send.id

    def checked(self, key: str, verdict: Verdict, known_ids: Mapping[str, str]) -> Verdict:
        """Under :meth:`deciding`: a created verdict whose ID is already another
        request's job (the gateway's ID index, the task list) becomes uncertain."""
        task_id = verdict.task_id
        if verdict.state is not RowState.CREATED or not task_id:
            return verdict
        fingerprint = key.rpartition("-")[0]
        try:
            owner = self._read(self._id_path(task_id))
        except ValueError:
            owner = None
        if owner is not None and owner.get("request") != fingerprint:
            whose = ""
            with contextlib.suppress(ValueError):
                send = next(
                    (s for s in self.sends(str(owner.get("key"))) if s.id == owner.get("send")),
                    None,
                )
                if send is not None:
                    whose = f": {_where(send.journal, send.number)}, {_when(send.at)}"
            return duplicate(verdict, f"an ID it already gave for another request{whose}")
        if task_id in known_ids and known_ids[task_id] != fingerprint:
            why = "an ID the task list already holds for another request"
            if not known_ids[task_id]:
                why = "an ID the task list already holds (added by hand)"
            return duplicate(verdict, why)
        return verdict

    def note(self, key: str, send_id: str, verdict: Verdict) -> None:
        """Under :meth:`deciding`: how the send ended (and whose its new ID is)."""
        self._update(key, send_id, verdict.state, verdict.task_id)

    def resolve(self, key: str, send_id: str, task_id: str | None) -> None:
        """Under :meth:`deciding`: the user resolved the send (found its job, or none)."""
        self._update(key, send_id, RowState.DONE, task_id)

    # ------------------------------------------------------------------ writing

    def _write(self, path: Path, record: Mapping[str, Any]) -> None:
        problem = folder_problem(path.parent, 0o700)
        if problem is not None:
            raise LedgerError(f"cannot write the record of sends in {path.parent}: {problem}")
        data = json.dumps({"v": VERSION, **record}, ensure_ascii=False, separators=(",", ":"))
        try:
            atomic_write(path, data.encode("utf-8", "replace"), mode=0o600)
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise LedgerError(f"cannot write the record of sends {path}: {why}") from None

    def _add_send(self, key: str, body: Mapping[str, JsonValue], send: Send) -> None:
        try:
            sends = [s for s in self.sends(key) if s.id != send.id]
        except ValueError:
            sends = []  # damaged: claim() refused it already; migration starts it again
        sends.append(send)
        sends = sends[-MAX_SENDS:]
        record = {"key": key, "body": dict(body), "sends": [s.record() for s in sends]}
        self._write(self._request_path(key), record)
        if send.task_id and send.state.may_have_job:
            self._own_id(send.task_id, key, send.id)

    def _update(self, key: str, send_id: str, state: RowState, task_id: str | None) -> None:
        path = self._request_path(key)
        try:
            record = self._read(path)
            sends = list(self.sends(key))
        except ValueError:
            return  # damaged: sends of this request stay refused until it is looked at
        if record is None or not send_id:
            return
        changed = [
            replace(s, state=state, task_id=task_id or s.task_id) if s.id == send_id else s
            for s in sends
        ]
        record["sends"] = [s.record() for s in changed]
        record.pop("v", None)
        self._write(path, record)
        if task_id and state.may_have_job:
            self._own_id(task_id, key, send_id)

    def _own_id(self, task_id: str, key: str, send_id: str) -> None:
        path = self._id_path(task_id)
        with contextlib.suppress(ValueError):
            if self._read(path) is not None:
                return  # the first request to get it keeps it
        record = {"id": task_id, "request": key.rpartition("-")[0], "key": key, "send": send_id}
        self._write(path, record)

    # ------------------------------------------------------------------ single creates

    def unresolved(self) -> list[Unresolved]:
        """Single creates (of every task list) whose job may exist but is not listed:
        uncertain ones, ones stopped while sending, jobs never listed."""
        found = []
        for path, journal in self._create_journals():
            in_flight = is_locked(path)  # a create is being sent
            for entry in journal.entries.values():
                if entry.resolved or (entry.state is RowState.DONE and not entry.task_id):
                    continue
                live = in_flight and entry.state is RowState.SENDING
                ref = entry.row[:REF_LENGTH]
                found.append(Unresolved(ref, entry, path, journal.tasks_file, live))
        found.sort(key=lambda u: u.entry.at)
        return found

    def find_create(self, ref: str) -> list[Unresolved]:
        """Single creates whose reference starts with ``ref`` (any state)."""
        ref = ref.strip().lower()
        found = []
        for path, journal in self._create_journals():
            for entry in journal.entries.values():
                if ref and entry.row.startswith(ref):
                    short = entry.row[:REF_LENGTH]
                    found.append(Unresolved(short, entry, path, journal.tasks_file, False))
        return found

    def _create_journals(self) -> list[tuple[Path, Manifest]]:
        """Every journal of single creates: the record's (one per task list), and this
        task list's from an older version while it has not been carried over (opening
        it for writing does that: :meth:`ManifestDir.open`)."""
        paths = self.journals.single_creates()
        mine = self.journals.path_for(CREATE_JOURNAL)
        if mine not in paths:
            paths.append(mine)  # read() falls back to the older journal
        found = []
        for path in paths:
            try:
                if path == mine:
                    journal = self.journals.read(CREATE_JOURNAL)
                else:
                    journal = Manifest.read(path)
            except ManifestError:
                continue
            if journal.entries:
                found.append((path, journal))
        return found

    # ------------------------------------------------------------------ older versions

    def _import_older(self) -> None:
        """Note every send of the journals older versions kept beside the task list."""
        legacy = self.journals.legacy
        if legacy is None:
            return
        folder = legacy.folder
        if folder.is_symlink() and not folder.exists():
            raise LedgerError(
                f"the journals of earlier sends, {folder}, are a link to "
                f"{os.readlink(folder)}, which does not exist (a drive not mounted?): "
                "vidwatch cannot tell what was sent from there; make it reachable, or "
                "remove the link"
            )
        if not folder.is_dir():
            return
        marker = self.folder / "imported.json"
        try:
            done = self._read(marker) or {}
        except ValueError:
            done = {}
        seen = done.get(str(folder))
        seen = dict(seen) if isinstance(seen, dict) else {}
        todo = []
        for path in legacy.journals():
            try:
                stat = path.stat()
            except OSError:
                continue
            stamp = [stat.st_size, stat.st_mtime_ns]
            if seen.get(path.name) != stamp:
                todo.append((path, stamp))
        if not todo:
            return
        with self._locked():
            for path, stamp in todo:
                try:
                    self._import_journal(path)
                except ManifestError as exc:
                    self.notices.append(f"{exc}; its sends are not known to the record")
                    continue
                seen[path.name] = stamp
            done[str(folder)] = seen
            done.pop("v", None)
            self._write(marker, done)

    def _import_journal(self, path: Path) -> None:
        from vidwatch.core.create.requests import request_key

        journal = Manifest.read(path)  # ManifestError: unreadable, or too large to trust
        try:
            bodies = _intent_bodies(path.read_bytes())
        except OSError as exc:
            raise ManifestError(f"cannot read the manifest {path}: {exc.strerror}") from None
        places: Counter[str] = Counter()
        for entry in sorted(journal.entries.values(), key=lambda e: (e.number, e.at)):
            body = bodies.get(entry.row)
            if body is None:
                continue
            fingerprint = request_key(body)
            places[fingerprint] += 1
            if not entry.state.may_have_job:
                continue
            key = key_of(fingerprint, 1 if journal.single else places[fingerprint])
            send = Send(
                "old-" + _digest(f"{path}\n{entry.row}")[:12],
                entry.at,
                RowState.UNCERTAIN if entry.state is RowState.SENDING else entry.state,
                journal.source or path.name,
                self.tasks_file,
                entry.row,
                entry.number,
                entry.label,
                entry.task_id,
            )
            self._add_send(key, body, send)


def _request_digest(request: TaskRequest) -> str:
    from vidwatch.core.create.requests import body_of, request_key

    return request_key(body_of(request))


def _intent_bodies(data: bytes) -> dict[str, dict[str, JsonValue]]:
    """Each row's latest body in a journal's bytes."""
    bodies: dict[str, dict[str, JsonValue]] = {}
    for line in data.split(b"\n"):
        if b'"intent"' not in line:
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if (
            isinstance(record, dict)
            and record.get("kind") == "intent"
            and isinstance(record.get("row"), str)
            and isinstance(record.get("body"), dict)
        ):
            bodies[record["row"]] = record["body"]
    return bodies
