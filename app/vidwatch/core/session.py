"""The watched list as one in-memory truth, kept in step with the task file.

A :class:`Session` owns the task records. It joins the
:class:`~vidwatch.core.polling.poller.Poller` (which polls them and hands every result back
to the session) to the :class:`~vidwatch.core.store.task_file.TaskStore` (the file other
``vidwatch`` processes also write). Every change to the records — a poll result, an
edit made here, a download, another process's edit — is announced as one event
(:mod:`vidwatch.core.changes`) to the session's listeners, in order. It never knows
about a screen.

The dashboard's session holds the whole list. Saving is split so the slow part can run
off the event loop::

    job = session.snapshot()                        # on the loop: cheap copies
    on_disk = await asyncio.to_thread(session.write, job)   # merge under the lock
    change = session.integrate(on_disk, job)        # on the loop: others' edits

Tasks another process added appear; tasks another process removed go; tasks
removed here while a save was under way stay removed.

A command that polls some tasks and leaves (``vidwatch poll``, ``wait``) holds only
those in a session over part of the list (:meth:`Session.part`): it owns their poll
results and nothing else, so its saves merge just the results into the file, and every
task's label and download, and every other task, stay as other writers left them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType

from vidwatch.core.changes import (
    Added,
    Change,
    ChangeListener,
    Costed,
    DiskChange,
    Downloaded,
    Examined,
    Loaded,
    Relabeled,
    Removed,
)
from vidwatch.core.gateway.outcomes import Ok, Outcome
from vidwatch.core.model.money import Cost
from vidwatch.core.model.records import Task, TaskRecord, TaskResult, VideoFacts, utcnow
from vidwatch.core.polling.events import PollerEvent
from vidwatch.core.polling.fanout import Fanout
from vidwatch.core.polling.poller import Poller
from vidwatch.core.polling.results import keep_known_result
from vidwatch.core.store.task_file import LoadResult, Signature, TaskStore, adopt_download

__all__ = ["AddReport", "DiskChange", "SaveJob", "Session", "Telling"]

log = logging.getLogger("vidwatch.session")


Telling = Callable[[TaskResult, Outcome], TaskResult | None]
"""How a session over part of the list keeps a poll's answer: the result to keep (its
error said as the command says it), or None when the answer says nothing about the task
(it is kept as it was)."""


@dataclass(frozen=True, slots=True)
class AddReport:
    added: tuple[str, ...]
    skipped: tuple[str, ...]  # already watched


@dataclass(frozen=True, slots=True)
class SaveJob:
    """A consistent copy of what to save, taken on the event loop."""

    records: dict[str, TaskRecord]
    removed: frozenset[str]
    known_on_disk: frozenset[str]


@contextlib.contextmanager
def _long_lived_allocations() -> Iterator[None]:
    """Reading 10,000 tasks creates 30,000 objects that live on. Let a worker thread do
    that without the garbage collector stopping everything — the event loop included —
    to walk them, and keep later full collections from walking them again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


class Session:
    """The task list the dashboard shows, polls and saves: the one owner of its records,
    and of the records of the tasks ``poll`` and ``wait`` ask about (:meth:`part`)."""

    def __init__(self, store: TaskStore, poller: Poller) -> None:
        self.store = store
        self.poller = poller
        self._records: dict[str, TaskRecord] = {}
        self._view: Mapping[str, TaskRecord] = MappingProxyType(self._records)
        self._telling: Telling | None = None  # only a session over part of the list has one
        self._listeners: Fanout[Change] = Fanout(log, "change listener failed")
        poller.attach(self)
        poller.subscribe(self._relay)
        self._removed: set[str] = set()  # removed here, not yet saved
        self._on_disk: frozenset[str] = frozenset()  # IDs in the file when we last looked
        self._signature: Signature | None = None
        self._io = asyncio.Lock()  # one save or disk check at a time
        self.dirty = False

    @classmethod
    def part(
        cls, store: TaskStore, poller: Poller, records: Iterable[TaskRecord], telling: Telling
    ) -> Session:
        """A session over some tasks of the list, for a command that polls them and
        leaves (``vidwatch poll``, ``wait``): it holds and polls ``records`` only, keeps
        each answer as ``telling`` says, and saves by merging their results into the file
        (:meth:`save`, :meth:`save_async`, :meth:`save_every`); it does not pick up
        other processes' edits."""
        session = cls(store, poller)
        session._telling = telling
        session._keep(records)
        return session

    @property
    def partial(self) -> bool:
        """Over part of the list (:meth:`part`): it saves its tasks' results only."""
        return self._telling is not None

    @property
    def records(self) -> Mapping[str, TaskRecord]:
        """Every watched task with its latest result (read-only: change it through the
        session's methods, which announce each change)."""
        return self._view

    # ------------------------------------------------------------------ the stream

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener`` with every :data:`~vidwatch.core.changes.Change`, in order;
        returns an unsubscribe."""
        return self._listeners.subscribe(listener)

    def _emit(self, change: Change) -> None:
        self._listeners.emit(change)  # a listener's bug must not lose it for the others

    def _relay(self, event: PollerEvent) -> None:
        """Poll results (already kept by :meth:`store_result`) and polling status."""
        self._emit(event)

    def store_result(
        self, task_id: str, result: TaskResult, outcome: Outcome | None = None
    ) -> TaskRecord | None:
        """Keep a task's new result (the poller calls this for every answer, with the
        answer as ``outcome``; the change is announced when the poller reports it).
        Returns the record as kept; None if the task is not watched."""
        record = self._records.get(task_id)
        if record is None:
            return None
        if outcome is not None and self._telling is not None:
            told = self._telling(result, outcome)
            if told is None:  # the answer says nothing about the task
                return record
            result = told
        record = self._records[task_id] = record.with_result(result)
        self.dirty = True
        return record

    def _keep(self, records: Iterable[TaskRecord]) -> list[TaskRecord]:
        """Hold these records (known ones keep a result they have) and poll them."""
        kept: list[TaskRecord] = []
        for record in records:
            record = keep_known_result(self._records.get(record.id), record)
            self._records[record.id] = record
            kept.append(record)
        self.poller.track(kept)
        return kept

    def _drop(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for task_id in ids:
            self._records.pop(task_id, None)
        self.poller.forget(ids)

    # ------------------------------------------------------------------ polling

    @property
    def online(self) -> bool:
        """Whether anything is polled (there is a client: an API key)."""
        return self.poller.client is not None

    def refresh(self, ids: Iterable[str]) -> list[str]:
        """Check these tasks now; returns those that will be (not already being) asked."""
        return [task_id for task_id in ids if self.poller.refresh(task_id)]

    def refresh_all(self) -> int:
        """Check every unfinished task now; returns how many."""
        return self.poller.refresh_all()

    async def ask(self, task_id: str) -> Outcome | None:
        """Poll one task right now (a download wants a fresh URL); the answer is kept and
        announced like any other. ``None`` while offline or for a task not watched."""
        return await self.poller.ask(task_id)

    async def fresh_url(self, task_id: str) -> str | None:
        """Ask for a task again for a new video link (a signed one expired while it was
        downloaded); None when no usable answer came."""
        outcome = await self.ask(task_id)
        return outcome.result.video_url if isinstance(outcome, Ok) else None

    # ------------------------------------------------------------------ loading

    def read(self) -> LoadResult:
        """Read the task file (blocking, thread-safe: touches nothing in memory).

        Raises :class:`~vidwatch.core.store.task_file.StoreError` when the file cannot be read.
        """
        with _long_lived_allocations():
            return self.store.load()

    def adopt(self, loaded: LoadResult) -> str | None:
        """Take what :meth:`read` returned (on the event loop). Returns the store's warning."""
        self._signature = loaded.signature
        self._on_disk = frozenset(loaded.records)
        self._keep(loaded.records.values())
        self._emit(Loaded(len(self._records), loaded.warning))
        return loaded.warning

    def load(self) -> str | None:
        """:meth:`read` and :meth:`adopt` in one blocking call (the CLI and tests)."""
        return self.adopt(self.read())

    # ------------------------------------------------------------------ editing

    def add(self, ids: Iterable[str], label: str = "", now: datetime | None = None) -> AddReport:
        when = now or utcnow()
        return self.add_tasks(Task(task_id, when, label) for task_id in dict.fromkeys(ids))

    def add_tasks(self, tasks: Iterable[Task | TaskRecord]) -> AddReport:
        """Watch these tasks as they are (a job created here keeps its request; a record:
        with what its create's answer said)."""
        added: list[str] = []
        skipped: list[str] = []
        new: list[TaskRecord] = []
        for task in tasks:
            task_id = task.id
            if task_id in self.records or task_id in added:
                skipped.append(task_id)
                continue
            self._removed.discard(task_id)
            new.append(task if isinstance(task, TaskRecord) else TaskRecord(task))
            added.append(task_id)
        if new:
            kept = self._keep(new)
            self.dirty = True
            self._emit(Added(tuple(kept)))
        return AddReport(tuple(added), tuple(skipped))

    def remove(self, ids: Iterable[str]) -> list[str]:
        gone = [i for i in dict.fromkeys(ids) if i in self.records]
        if gone:
            self._drop(gone)
            self._removed.update(gone)
            self.dirty = True
            self._emit(Removed(tuple(gone)))
        return gone

    def relabel(self, task_id: str, label: str) -> TaskRecord | None:
        record = self._records.get(task_id)
        if record is None:
            return None
        updated = self._records[task_id] = replace(record, task=record.task.with_label(label))
        self.dirty = True
        self._emit(Relabeled(updated))
        return updated

    def set_saved(self, task_id: str, path: str) -> TaskRecord | None:
        """Note where the task's video was downloaded."""
        record = self._records.get(task_id)
        if record is None:
            return None
        updated = replace(record, task=record.task.with_saved_to(path))
        self._records[task_id] = updated
        self.dirty = True
        self._emit(Downloaded(updated))
        return updated

    def set_costs(self, costs: Mapping[str, Cost]) -> tuple[TaskRecord, ...]:
        """Note what tasks cost (the request log's charges matched to them); announced
        as one :class:`~vidwatch.core.changes.Costed`. Returns the records changed."""
        changed: list[TaskRecord] = []
        for task_id, cost in costs.items():
            record = self._records.get(task_id)
            if record is None or record.task.cost == cost:
                continue
            updated = TaskRecord(record.task.with_cost(cost), record.result)
            self._records[task_id] = updated
            changed.append(updated)
        if changed:
            self.dirty = True
            self._emit(Costed(tuple(changed)))
        return tuple(changed)

    def set_video(self, task_id: str, facts: VideoFacts) -> TaskRecord | None:
        """Note what the task's video is (read from it when a still was made); nothing
        is announced when that was known already."""
        record = self._records.get(task_id)
        if record is None or record.task.video == facts:
            return record
        updated = replace(record, task=record.task.with_video(facts))
        self._records[task_id] = updated
        self.dirty = True
        self._emit(Examined(updated))
        return updated

    def mark_dirty(self) -> None:
        self.dirty = True

    # ------------------------------------------------------------------ saving

    def snapshot(self) -> SaveJob:
        """Copies of what to save (atomic under the GIL: plain dict and set copies, so a
        watchdog thread may take one while the event loop is stuck)."""
        self.dirty = False
        return SaveJob(dict(self._records), frozenset(self._removed), self._on_disk)

    def write(self, job: SaveJob) -> LoadResult:
        """Merge ``job`` into the file under its lock (blocking: run it in a thread)."""
        with _long_lived_allocations():
            return self.store.save_records(job.records, job.removed, job.known_on_disk)

    def _write_results(self, job: SaveJob) -> None:
        """A session over part of the list: merge its results into the file (blocking)."""
        with _long_lived_allocations():
            self.store.merge_results({i: r.result for i, r in job.records.items()})

    def integrate(self, on_disk: LoadResult, saved: SaveJob | None = None) -> DiskChange:
        """Adopt what the file holds now: tasks added or removed elsewhere (announced as
        one :class:`~vidwatch.core.changes.DiskChange` when there is any).

        A damaged file that was set aside says nothing about removals: then nothing is
        dropped from memory, and the whole list is marked to be written back.
        """
        if saved is not None:
            self._removed -= saved.removed
        records = self.records
        added = tuple(
            record
            for task_id, record in on_disk.records.items()
            if task_id not in records and task_id not in self._removed
        )
        removed: tuple[str, ...] = ()
        if on_disk.damaged:
            self.dirty = True
        else:
            removed = tuple(i for i in self._on_disk if i not in on_disk.records and i in records)
        updated: list[TaskRecord] = []
        for task_id, disk in on_disk.records.items():
            theirs, cost, video = disk.task.saved_to, disk.task.cost, disk.task.video
            if theirs is None and cost is None and video is None:  # the common case, cheap
                continue
            mine = records.get(task_id)
            if mine is None:
                continue
            task = mine.task
            if theirs is not None and adopt_download(task.saved_to, theirs):
                task = task.with_saved_to(theirs)  # `vidwatch download` in another terminal
            if cost is not None and task.cost is None:
                task = task.with_cost(cost)  # `vidwatch balance` in another terminal
            if video is not None and task.video is None:
                task = task.with_video(video)  # `vidwatch thumb` in another terminal
            if task is not mine.task:
                record = replace(mine, task=task)
                self._records[task_id] = record
                updated.append(record)
        self._on_disk = frozenset(on_disk.records)
        self._signature = on_disk.signature
        if added:
            added = tuple(self._keep(added))
        if removed:
            self._drop(removed)
        change = DiskChange(added, removed, on_disk.warning, tuple(updated))
        if change:
            self._emit(change)
        return change

    def save(self) -> DiskChange:
        """Save now, blocking (the CLI and tests)."""
        job = self.snapshot()
        if self.partial:
            self._write_results(job)
            return DiskChange()
        return self.integrate(self.write(job), job)

    async def save_async(self) -> DiskChange:
        """Save with the file work in a thread; the event loop stays free."""
        async with self._io:
            return await self._save_locked()

    async def save_if_dirty(self) -> DiskChange:
        """Wait for a save under way, then save if anything is still unsaved (quitting)."""
        async with self._io:
            return await self._save_locked() if self.dirty else DiskChange()

    async def save_every(self, seconds: float, due: Callable[[], bool]) -> None:
        """Until cancelled, save every ``seconds`` when ``due()`` says there is reason to
        (``vidwatch wait``: a task changed state), off the event loop: a killed command
        loses at most the last ``seconds``. The dashboard's saver debounces its own."""
        while True:
            await asyncio.sleep(seconds)
            if due():
                await self.save_async()

    async def _save_locked(self) -> DiskChange:
        job = self.snapshot()
        try:
            if self.partial:
                await asyncio.to_thread(self._write_results, job)
                return DiskChange()
            on_disk = await asyncio.to_thread(self.write, job)
        except BaseException:
            self.dirty = True  # nothing was saved; try again later
            raise
        return self.integrate(on_disk, job)

    # ------------------------------------------------------------------ watching

    def disk_changed(self) -> bool:
        """Whether the file was replaced since we last read or wrote it (cheap: one stat)."""
        return self.store.signature() != self._signature

    async def check_disk(self) -> DiskChange:
        """Pick up edits by other processes (``vidwatch add`` in another terminal)."""
        async with self._io:
            if not await asyncio.to_thread(self.disk_changed):
                return DiskChange()
            return self.integrate(await asyncio.to_thread(self.read))
