"""Where each watched task waits for its next check, and which check comes first.

The scheduler's bookkeeping, kept apart from its decisions: :mod:`vidwatch.core.polling.scheduler`
decides what an answer means and when to ask again; the :class:`Agenda` keeps each task
in one of two places and finds the earliest check:

* **at a set time** (:data:`FIXED`): new tasks while the budget is ample, tasks asked
  for, backoff after errors, ``Retry-After`` holds, hints from the server. A heap of
  ``(due, version, task)``; an item whose version is no longer the task's is stale and
  is skipped when it surfaces.
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

__all__ = ["FIXED", "IDLE", "PLANNED", "Agenda", "Entry"]

IDLE: Final = 0  # finished, or in flight
FIXED: Final = 1  # due at a set time: new, asked for, backing off, held, a hint
PLANNED: Final = 2  # due when the plan says: last request + the interval of its class


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
        self._heap: list[tuple[float, int, str]] = []  # FIXED tasks: (due, version, task)

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

    def schedule(self, entry: Entry, due: float, *, first: bool = False) -> None:
        """Due at a set time (not by the plan)."""
        if not first:
            self.unasked.pop(entry.task_id, None)
        if entry.where == PLANNED:
            self.plan.drop(entry.task_id)
        entry.where = FIXED
        entry.due = due
        entry.version += 1
        heapq.heappush(self._heap, (due, entry.version, entry.task_id))

    def put_in_plan(self, entry: Entry, *, first: bool = False) -> None:
        if not first:
            self.unasked.pop(entry.task_id, None)
        entry.where = PLANNED
        entry.version += 1  # its fixed-heap items, if any, go stale
        self.plan.put(entry.task_id, entry.cls, anchor(entry))

    def first_check(self, entry: Entry) -> None:
        """A task never asked about: at once while the budget affords checking every task
        every min_interval; otherwise by the plan, as if asked when it was added."""
        self.unasked[entry.task_id] = None
        if self.plan.scale == 0.0:
            self.schedule(entry, entry.added, first=True)
        else:
            self.put_in_plan(entry, first=True)

    def replan_first_checks(self) -> None:
        """The budget turned ample or tight: tasks never asked wait where that now says."""
        for task_id in list(self.unasked):
            self.first_check(self.entries[task_id])

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
            heapq.heappop(self._heap)
        entry.where = IDLE
        self.unasked.pop(entry.task_id, None)

    def due(self, entry: Entry) -> float | None:
        if entry.in_flight or entry.where == IDLE:
            return None
        if entry.where == FIXED:
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

    def first(self) -> tuple[float, Entry] | None:
        """The task due first: a set time or a planned check, whichever is earlier."""
        fixed: Entry | None = None
        heap = self._heap
        while heap:
            _, version, task_id = heap[0]
            entry = self.entries.get(task_id)
            if entry is None or entry.version != version or entry.where != FIXED:
                heapq.heappop(heap)  # stale: rescheduled, planned, in flight or gone
                continue
            fixed = entry
            break
        planned = self.plan.first()
        if planned is not None and (fixed is None or planned[0] < fixed.due):
            return planned[0], self.entries[planned[1]]
        if fixed is None:
            return None
        return fixed.due, fixed


def anchor(entry: Entry) -> float:
    """What the plan counts a task's next check from: its last request, or for a task
    never asked, when it was added."""
    return entry.sent if entry.sent is not None else entry.added
