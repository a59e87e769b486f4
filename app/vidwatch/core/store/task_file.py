"""The persisted task list: a TOML file, written atomically, shared safely.

:class:`TaskStore` reads, merges and writes the list; the text of the file (its format,
``schema = 1``) is :mod:`vidwatch.core.store.format`, the lock beside it and
:class:`StoreError` are :mod:`vidwatch.core.store.lock`.

Rules:

* Every write goes to a temp file in the same folder, is fsynced, renamed over
  the old file with :func:`os.replace`, and the folder is fsynced: a crash at
  any moment leaves either the old file or the new one, never half of one.
* Every read-modify-write runs under an exclusive ``flock`` on a lock file
  beside the task list, and re-reads the file first, so concurrent ``vidwatch
  add`` runs and a saving dashboard merge instead of overwriting each other.
* A file that cannot be parsed is moved aside as ``tasks.toml.corrupt-<time>``
  and the caller gets a one-sentence warning; entries that cannot be read are
  skipped, and the whole file is copied aside before it is rewritten.
* A task listed more than once (two lists merged by hand, a sync conflict) becomes one
  entry that keeps what each knew (:mod:`vidwatch.core.store.duplicates`); the caller gets a
  one-sentence notice, and the original file is copied aside before it is rewritten.
* A task file that is a symbolic link stays one: writes go to its target.
* A file from a newer vidwatch (higher ``schema``) is never rewritten.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from vidwatch.core.model.money import Cost
from vidwatch.core.model.records import Task, TaskRecord, TaskResult, VideoFacts
from vidwatch.core.store import format as store_format
from vidwatch.core.store.atomic import atomic_write, write_target
from vidwatch.core.store.duplicates import describe_merged, merge_duplicate
from vidwatch.core.store.format import SCHEMA, decode_record, dumps
from vidwatch.core.store.lock import StoreError, locked, reason
from vidwatch.core.text.wording import capitalized, plural

# StoreError is the store's error: callers import it from here.
__all__ = ["LoadResult", "Signature", "StoreError", "TaskStore"]


log = logging.getLogger("vidwatch.store")

Signature = tuple[int, int, int]


def _signature_of(st: os.stat_result) -> Signature:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a read found. ``signature`` identifies the exact file read (``None``: no
    file); ``warning`` says what was damaged and where the original was put aside."""

    records: dict[str, TaskRecord]
    warning: str | None = None
    signature: Signature | None = None

    @property
    def damaged(self) -> bool:
        return self.warning is not None


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def adopt_download(mine: str | None, theirs: str | None) -> bool:
    """Whether another process's note of a downloaded file replaces ours: we have none,
    or ours is gone (deleted, then downloaded again elsewhere) and theirs is there."""
    if not theirs or theirs == mine:
        return False
    return mine is None or (not os.path.isfile(mine) and os.path.isfile(theirs))


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class _Parsed:
    records: dict[str, TaskRecord]
    skipped: int
    signature: Signature | None = None
    merged: tuple[str, ...] = ()  # IDs listed more than once, now one entry each

    @property
    def needs_repair(self) -> bool:
        return bool(self.skipped or self.merged)


class TaskStore:
    """The task list at ``path``. Every method is safe to call from several processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        # What the file held at a signature (it was read or written here): never mutated.
        self._cache: tuple[Signature, dict[str, TaskRecord]] | None = None
        # Every damaged file set aside by this store, in one sentence each, whichever call
        # found it (add and remove too): the caller must tell the user.
        self.notices: list[str] = []

    # ------------------------------------------------------------------ public API

    def load(self) -> LoadResult:
        """Everything the file holds. Damaged files are set aside (with a warning)."""
        parsed, warning = self._read_checked()
        return LoadResult(parsed.records, warning, parsed.signature)

    def signature(self) -> Signature | None:
        """Changes whenever the file is replaced; ``None`` when there is no file."""
        try:
            return _signature_of(os.stat(self.path))
        except OSError:
            return None

    def add(self, tasks: Iterable[Task | TaskRecord]) -> tuple[list[str], list[str]]:
        """Add tasks not yet stored (a record: with what its create's answer said).
        Returns (added IDs, already-stored IDs)."""
        tasks = list(tasks)
        with self._locked():
            records, _ = self._read_for_update()
            added: list[str] = []
            skipped: list[str] = []
            for task in tasks:
                if task.id in records:
                    skipped.append(task.id)
                else:
                    records[task.id] = task if isinstance(task, TaskRecord) else TaskRecord(task)
                    added.append(task.id)
            if added:
                self._write(records.values())
        return added, skipped

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Remove the tasks; returns the IDs that were stored."""
        wanted = list(dict.fromkeys(ids))
        with self._locked():
            records, _ = self._read_for_update()
            removed = [i for i in wanted if records.pop(i, None) is not None]
            if removed:
                self._write(records.values())
        return removed

    def merge_results(self, results: Mapping[str, TaskResult]) -> int:
        """Store newer results for tasks still in the file; returns how many changed."""
        if not results:
            return 0
        with self._locked():
            records, _ = self._read_for_update()
            changed = 0
            for task_id, result in results.items():
                current = records.get(task_id)
                if current is None or not _newer(result, current.result):
                    continue
                records[task_id] = current.with_result(result)
                changed += 1
            if changed:
                self._write(records.values())
        return changed

    def set_saved(self, paths: Mapping[str, str]) -> None:
        """Note where videos were downloaded (tasks removed meanwhile are left out)."""
        self._edit_tasks({i: partial(Task.with_saved_to, path=p) for i, p in paths.items()})

    def set_video(self, facts: Mapping[str, VideoFacts]) -> None:
        """Note what tasks' videos are (tasks removed meanwhile are left out)."""
        self._edit_tasks({i: partial(Task.with_video, facts=f) for i, f in facts.items()})

    def _edit_tasks(self, edits: Mapping[str, Callable[[Task], Task]]) -> None:
        """Apply each edit to its task under the lock; write only if one changed."""
        with self._locked():
            records, _ = self._read_for_update()
            changed = False
            for task_id, edit in edits.items():
                record = records.get(task_id)
                if record is None:
                    continue
                task = edit(record.task)
                if task != record.task:
                    records[task_id] = TaskRecord(task, record.result)
                    changed = True
            if changed:
                self._write(records.values())

    def set_costs(self, costs: Mapping[str, Cost]) -> int:
        """Note what tasks cost (from the request log; tasks removed meanwhile are left
        out); returns how many changed."""
        if not costs:
            return 0
        with self._locked():
            records, _ = self._read_for_update()
            changed = 0
            for task_id, cost in costs.items():
                record = records.get(task_id)
                if record is not None and record.task.cost != cost:
                    records[task_id] = TaskRecord(record.task.with_cost(cost), record.result)
                    changed += 1
            if changed:
                self._write(records.values())
        return changed

    def save_records(
        self,
        records: Mapping[str, TaskRecord],
        removed: Iterable[str] = (),
        known_on_disk: Iterable[str] | None = None,
    ) -> LoadResult:
        """Merge an in-memory view into the file and return what the file now holds.

        * tasks on disk that the view does not have (added elsewhere) are kept;
        * tasks in ``removed`` are dropped;
        * tasks in ``known_on_disk`` that are no longer on disk were removed by
          another process: they are not written back — unless the file was damaged
          and set aside, when nothing on disk can be trusted to mean "removed";
        * for tasks on both sides, the newer result wins; the view's label wins; a
          download noted on disk (by another process) is kept when the view has none,
          and so is a cost noted on disk (``vidwatch balance`` in another terminal).
          and so are the video's facts.

        The returned signature is taken under the lock: it is the file just written.
        """
        removed_set = set(removed)
        known = set(known_on_disk) if known_on_disk is not None else None
        with self._locked():
            merged, warning = self._read_for_update()
            if warning is not None:
                known = None  # the file was damaged: our view is the best copy there is
            for task_id in removed_set:
                merged.pop(task_id, None)
            for task_id, record in records.items():
                if task_id in removed_set:
                    continue
                disk = merged.get(task_id)
                if disk is None:
                    if known is not None and task_id in known:
                        continue  # removed by another process
                    merged[task_id] = record
                elif _newer(record.result, disk.result) or record.task != disk.task:
                    result = record.result if _newer(record.result, disk.result) else disk.result
                    task = record.task
                    if adopt_download(task.saved_to, disk.task.saved_to):
                        # downloaded by another process (vidwatch download): keep it
                        task = task.with_saved_to(disk.task.saved_to)
                    if task.cost is None and disk.task.cost is not None:
                        task = task.with_cost(disk.task.cost)
                    if task.video is None and disk.task.video is not None:
                        task = task.with_video(disk.task.video)  # read by another process
                    merged[task_id] = TaskRecord(task, result)
            self._write(merged.values())
            signature = self.signature()
        return LoadResult(merged, warning, signature)

    def replace_all(self, records: Iterable[TaskRecord]) -> None:
        """Write exactly these records (used by tests and tools, not by merges)."""
        with self._locked():
            self._read_for_update()  # refuses a newer schema, sets damaged files aside
            self._write(records)

    # ------------------------------------------------------------------ reading

    def _parse(self, data: bytes, signature: Signature | None = None) -> _Parsed:
        try:
            document = store_format.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, store_format.NotToml) as exc:
            raise _Corrupt(str(exc).splitlines()[0] if str(exc) else "not TOML") from None
        schema = document.get("schema", SCHEMA)
        if not isinstance(schema, int):
            raise _Corrupt("its schema version is not a number")
        if schema > SCHEMA:
            raise StoreError(
                f"{self.path} was written by a newer vidwatch (schema {schema}); "
                "upgrade vidwatch to use it — it was left untouched."
            )
        entries = document.get("tasks", [])
        if not isinstance(entries, list):
            raise _Corrupt("'tasks' is not a list")
        records: dict[str, TaskRecord] = {}
        skipped = 0
        merged: dict[str, None] = {}
        for entry in entries:
            record = decode_record(entry)
            if record is None:
                skipped += 1
            elif (first := records.get(record.id)) is None:
                records[record.id] = record
            else:
                records[record.id] = merge_duplicate(first, record)
                merged[record.id] = None
        if signature is not None and not skipped and not merged:
            self._cache = (signature, records)
        return _Parsed(records, skipped, signature, tuple(merged))

    def _read_raw(self) -> tuple[bytes, Signature] | None:
        """The file's bytes and the signature of that very file (not of a later one)."""
        try:
            with open(self.path, "rb") as handle:
                return handle.read(), _signature_of(os.fstat(handle.fileno()))
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise StoreError(f"Cannot read the task list: {self.path} is a folder.") from None
        except OSError as exc:
            raise StoreError(f"Cannot read the task list {self.path}: {reason(exc)}.") from None

    def _read_checked(self) -> tuple[_Parsed, str | None]:
        raw = self._read_raw()
        if raw is None:
            return _Parsed({}, 0), None
        parsed = self._parse_sound(raw)
        if parsed is None:
            # Take the lock so the file is not being replaced while we set it aside.
            with self._locked():
                return self._handle_damage()
        return parsed, None

    def _parse_sound(self, raw: tuple[bytes, Signature]) -> _Parsed | None:
        """The file's records, or None when it needs repair: it does not parse, or has
        entries that cannot be read or tasks listed twice (:meth:`_handle_damage`)."""
        try:
            parsed = self._parse(*raw)
        except _Corrupt:
            return None
        return None if parsed.needs_repair else parsed

    def _handle_damage(self) -> tuple[_Parsed, str | None]:
        """Under the lock: re-read and set a damaged file aside. Returns what is usable."""
        raw = self._read_raw()
        if raw is None:
            return _Parsed({}, 0), None
        try:
            parsed = self._parse(*raw)
        except _Corrupt as exc:
            backup = self._set_aside(move=True)
            log.warning("%s could not be read (%s); moved to %s", self.path, exc, backup)
            return _Parsed({}, 0), self._notice(
                f"The task list {self.path} could not be read ({exc}); it was moved to "
                f"{backup} and a new, empty list was started."
            )
        if not parsed.needs_repair:
            return parsed, None
        backup = self._set_aside(move=False)
        self._write(parsed.records.values())
        n = parsed.skipped
        parts: list[str] = []
        if n:
            log.warning("%d unreadable entries dropped from %s", n, self.path)
            parts.append(
                f"{plural(n, 'entry', 'entries')} in the task list could not be read and "
                f"{'was' if n == 1 else 'were'} dropped"
            )
        if parsed.merged:
            log.warning("merged duplicate entries in %s: %s", self.path, ", ".join(parsed.merged))
            parts.append(
                f"{describe_merged(parsed.merged)} in the task list and merged, keeping the "
                "most advanced result, the label, the saved file and the longest timeline"
            )
        log.warning("the original of %s is in %s", self.path, backup)
        parsed = _Parsed(parsed.records, n, self.signature(), parsed.merged)
        sentence = "; ".join(parts)
        return parsed, self._notice(
            f"{capitalized(sentence)}; the original file was copied to {backup}."
        )

    def _notice(self, message: str) -> str:
        self.notices.append(message)
        return message

    def _set_aside(self, *, move: bool) -> Path:
        # Beside the real file: moving a symbolic link aside would leave its target
        # behind and put a regular file where the link was.
        real = self._real_path()
        backup = real.with_name(f"{real.name}.corrupt-{_stamp()}")
        n = 1
        while backup.exists():
            n += 1
            backup = real.with_name(f"{real.name}.corrupt-{_stamp()}-{n}")
        try:
            if move:
                os.replace(real, backup)
            else:
                shutil.copy2(real, backup)
        except OSError as exc:
            raise StoreError(
                f"The task list {self.path} is damaged and could not be set aside "
                f"({reason(exc)}); it was left untouched."
            ) from None
        return backup

    def _read_for_update(self) -> tuple[dict[str, TaskRecord], str | None]:
        """Under the lock: the current records, damaged files already set aside.

        When the file is the one this store last wrote or read (same signature), it is
        not parsed again: saving 10,000 tasks every second must not re-read 9 MB.
        """
        cached = self._cache
        if cached is not None and cached[0] == self.signature():
            return dict(cached[1]), None
        raw = self._read_raw()
        if raw is None:
            return {}, None
        parsed = self._parse_sound(raw)
        if parsed is None:
            repaired, warning = self._handle_damage()
            return dict(repaired.records), warning
        return parsed.records, None

    # ------------------------------------------------------------------ writing

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked(self.path, self.lock_path)

    def _write(self, records: Iterable[TaskRecord]) -> None:
        """Under the lock: replace the file atomically with ``records``."""
        snapshot = {record.id: record for record in records}
        data = dumps(snapshot.values())
        self._remove_stale_temp_files()
        try:
            atomic_write(self.path, data, mode=0o600)
            signature = self.signature()
            self._cache = (signature, snapshot) if signature is not None else None
        except OSError as exc:
            log.error("saving %s failed: %s", self.path, exc)
            raise StoreError(f"Cannot save the task list to {self.path}: {reason(exc)}.") from None

    def _real_path(self) -> Path:
        """The file itself, where the task file is a symbolic link (writes go there)."""
        try:
            return write_target(self.path)
        except OSError:
            return self.path

    def _remove_stale_temp_files(self) -> None:
        """Temp files left by a writer that was killed mid-save. Only writers holding the
        lock create them, and we hold it: every one found is stale."""
        real = self._real_path()
        for stale in real.parent.glob(f".{real.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
                log.info("removed %s, left by an interrupted save", stale)


class _Corrupt(Exception):
    pass


def _newer(candidate: TaskResult, current: TaskResult) -> bool:
    """Whether ``candidate`` is a later observation than ``current``."""
    if candidate == current:
        return False
    if current.checked_at is None:
        return True
    if candidate.checked_at is None:
        return False
    return candidate.checked_at >= current.checked_at
