"""Where each watched task waits for its next check, and which check comes first.

The scheduler's bookkeeping, kept apart from its decisions: :mod:`vidwatch.core.polling.scheduler`
decides what an answer means and when to ask again; the :class:`Agenda` keeps each task
in one of three places and finds the earliest check:

* **first checks** (:data:`FIRST`): tasks never asked yet, due when they were added, in
  that order, and ahead of every re-check that is due as well: with a rationed budget,
  N new tasks are all asked once within about N / rate, none twice before the last is
  asked once (a re-check of a task whose state we know can wait; a task we know
  nothing of cannot). A heap of ``(added, order, version, task)``.
* **at a set time** (:data:`FIXED`): tasks asked for, backoff after errors,
  ``Retry-After`` holds, hints from the server. A heap of ``(due, order, version, task)``.
  In both heaps an item whose version is no longer the task's is stale and is skipped
  when it surfaces.
* **in the plan** (:data:`PLANNED`): due at its last request plus the interval the
  :class:`~vidwatch.core.polling.rationing.PollPlan` gives its weight class, so a re-plan moves
  every planned check at once.

A task in flight or finished waits nowhere (:data:`IDLE`). Nothing here reads a clock.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Final

from vidwatch.core.model.records import TaskResult
from vidwatch.core.polling.rationing import CLASS_MAX, PollPlan

__all__ = ["FIRST", "FIXED", "IDLE", "PLANNED", "Agenda", "Entry"]

IDLE: Final = 0  # finished, or in flight
FIXED: Final = 1  # due at a set time: asked for, backing off, held, a hint
PLANNED: Final = 2  # due when the plan says: last request + the interval of its class
FIRST: Final = 3  # never asked: due when added, before any re-check


@dataclass(slots=True)
class Entry:
    """What the scheduler knows of one watched task."""

    task_id: str
    due: float  # for FIXED
    finished: bool = False
    in_flight: bool = False
    where: int = IDLE
    failures: int = 0
    not_found: int = 0
    known: bool = False  # the server has said it exists (vidwatch created it)
    no_url: int = 0
    version: int = 0
    sent: float | None = None  # when its last request was sent
    added: float = 0.0  # when it was first tracked (plus its delay)
    cls: int = CLASS_MAX  # its weight class in the plan (while open)
    last: TaskResult | None = field(default=None, repr=False)
    key: str = ""  # the model, for learned durations
    running_since: float | None = None  # epoch seconds, from the server's status_update_time


class Agenda:
    """Every watched task's :class:`Entry`, which of them are open (polled again), and
    where each open one waits."""

    def __init__(self, plan: PollPlan) -> None:
        self.plan = plan
        self.entries: dict[str, Entry] = {}
        self.open: dict[str, None] = {}  # tracked and not finished (a set in insertion order)
        self.unasked: dict[str, None] = {}  # never asked yet, waiting for a first check
        # FIXED tasks: (due, order, version, task); FIRST tasks: (added, order, version,
        # task). ``order`` counts pushes: tasks due at one time go in the order they came.
        self._heap: list[tuple[float, int, int, str]] = []
        self._firsts: list[tuple[float, int, int, str]] = []
        self._order = 0

    def forget(self, task_id: str) -> Entry | None:
        """Stop keeping the task; its entry, or None when it was not kept."""
        entry = self.entries.pop(task_id, None)
        self.unasked.pop(task_id, None)
        if entry is None:
            return None
        if task_id in self.open:
            del self.open[task_id]
            self.plan.leave(entry.cls)
        self.plan.drop(task_id)
        return entry

    def set_open(self, entry: Entry) -> None:
        """Count the task among the open ones (in the plan's classes) unless it is finished."""
        if entry.finished:
            if entry.task_id in self.open:
                del self.open[entry.task_id]
                self.plan.leave(entry.cls)
        elif entry.task_id not in self.open:
            self.open[entry.task_id] = None
            self.plan.join(entry.cls)

    def reclass(self, entry: Entry, cls: int) -> None:
        if entry.task_id in self.open:
            self.plan.move(entry.cls, cls)
        entry.cls = cls

    def schedule(self, entry: Entry, due: float) -> None:
        """Due at a set time (not by the plan)."""
        self.unasked.pop(entry.task_id, None)
        if entry.where == PLANNED:
            self.plan.drop(entry.task_id)
        entry.where = FIXED
        entry.due = due
        entry.version += 1
        self._order += 1
        heapq.heappush(self._heap, (due, self._order, entry.version, entry.task_id))

    def put_in_plan(self, entry: Entry) -> None:
        self.unasked.pop(entry.task_id, None)
        entry.where = PLANNED
        entry.version += 1  # its heap items, if any, go stale
        self.plan.put(entry.task_id, entry.cls, anchor(entry))

    def first_check(self, entry: Entry) -> None:
        """A task never asked about: due when it was added, ahead of every re-check (with
        an ample budget and a rationed one alike: the plan rations checks of what we
        know; a task we know nothing of is asked in its turn among the new ones)."""
        self.unasked[entry.task_id] = None
        if entry.where == PLANNED:
            self.plan.drop(entry.task_id)
        entry.where = FIRST
        entry.due = entry.added
        entry.version += 1
        self._order += 1
        heapq.heappush(self._firsts, (entry.added, self._order, entry.version, entry.task_id))

    def unschedule(self, entry: Entry) -> None:
        self.unasked.pop(entry.task_id, None)
        if entry.where == PLANNED:
            self.plan.drop(entry.task_id)
        entry.where = IDLE
        entry.version += 1

    def take(self, entry: Entry) -> None:
        """The task is being asked now: it waits nowhere. ``entry`` is the one
        :meth:`first` just returned, or a planned one :meth:`lend` found."""
        if entry.where == PLANNED:
            self.plan.drop(entry.task_id)
        else:
            heapq.heappop(self._firsts if entry.where == FIRST else self._heap)
        entry.where = IDLE
        self.unasked.pop(entry.task_id, None)

    def due(self, entry: Entry) -> float | None:
        if entry.in_flight or entry.where == IDLE:
            return None
        if entry.where in (FIXED, FIRST):
            return entry.due
        return anchor(entry) + self.plan.interval(entry.cls)

    def lend(self, now: float, min_interval: float) -> Entry | None:
        """Nothing is due, yet the budget has a request to spare: a rationed plan lends it
        to its earliest check, if that task was last asked ``min_interval`` ago or more.
        (When the plan is re-scaled upwards its checks move out together and would leave
        the budget idle; this keeps it spent, in the plan's order.)"""
        if self.plan.scale <= 0.0:
            return None  # every task every min_interval: nothing to bring forward
        head = self.plan.first()
        if head is None:
            return None
        entry = self.entries[head[1]]
        floor = min_interval if entry.sent is not None else 0.0
        return None if anchor(entry) + floor > now else entry

    def first(self, now: float) -> tuple[float, Entry] | None:
        """The task due first: a first check due by ``now`` before anything else, else
        whichever of a first check, a set time or a planned check is earliest."""
        fresh = self._head(self._firsts, FIRST)
        if fresh is not None and fresh.due <= now:
            return fresh.due, fresh
        fixed = self._head(self._heap, FIXED)
        if fresh is not None and (fixed is None or fresh.due < fixed.due):
            fixed = fresh
        planned = self.plan.first()
        if planned is not None and (fixed is None or planned[0] < fixed.due):
            return planned[0], self.entries[planned[1]]
        if fixed is None:
            return None
        return fixed.due, fixed

    def _head(self, heap: list[tuple[float, int, int, str]], where: int) -> Entry | None:
        """The earliest live task of one heap (stale items are dropped on the way)."""
        while heap:
            _, _, version, task_id = heap[0]
            entry = self.entries.get(task_id)
            if entry is None or entry.version != version or entry.where != where:
                heapq.heappop(heap)  # stale: rescheduled, planned, in flight or gone
                continue
            return entry
        return None


def anchor(entry: Entry) -> float:
    """What the plan counts a task's next check from: its last request, or for a task
    never asked, when it was added."""
    return entry.sent if entry.sent is not None else entry.added
