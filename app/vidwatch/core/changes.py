"""What can happen to the watched list: one typed event per change.

The :class:`~vidwatch.core.session.Session` owns the task records and announces every
change to them as one of these, in one stream (:meth:`Session.subscribe`), in the order
they happened. A listener reads the records themselves from the session: an event says
*what* changed; the session holds the current truth.

- :class:`Loaded` — the list was read from the task file (start-up).
- :class:`~vidwatch.core.polling.poller.TaskUpdate` — a poll answered (a new result).
- :class:`Added`, :class:`Removed`, :class:`Relabeled` — edits made here.
- :class:`Downloaded` — a task's video was saved here.
- :class:`Costed` — what tasks cost was learned from the gateway's request log.
- :class:`Examined` — what a task's video is was read here (a still was made of it).
- :class:`DiskChange` — another process changed the task file (tasks added, removed,
  videos downloaded elsewhere), or the file was damaged and set aside.
- :class:`~vidwatch.core.polling.poller.StatusChange` — polling as a whole (paused, key
  rejected, rate limited, counters), not any one record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vidwatch.core.model.records import TaskRecord
from vidwatch.core.polling.events import StatusChange, TaskUpdate

__all__ = [
    "EDITS",
    "Added",
    "Change",
    "ChangeListener",
    "Costed",
    "DiskChange",
    "Downloaded",
    "Examined",
    "Loaded",
    "Relabeled",
    "Removed",
    "changed_ids",
]


@dataclass(frozen=True, slots=True)
class Loaded:
    """The list was read from the task file: every record is new to listeners."""

    count: int
    warning: str | None = None  # the file was damaged and set aside


@dataclass(frozen=True, slots=True)
class Added:
    """Tasks added here (in the order given)."""

    records: tuple[TaskRecord, ...]


@dataclass(frozen=True, slots=True)
class Removed:
    """Tasks no longer watched (removed here)."""

    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Relabeled:
    record: TaskRecord


@dataclass(frozen=True, slots=True)
class Downloaded:
    """The task's video was saved here (``record.task.saved_to``)."""

    record: TaskRecord


@dataclass(frozen=True, slots=True)
class Costed:
    """What these tasks cost was learned (``record.task.cost``), from the request log."""

    records: tuple[TaskRecord, ...]


@dataclass(frozen=True, slots=True)
class Examined:
    """The task's video was read here: its facts are ``record.task.video``."""

    record: TaskRecord


@dataclass(frozen=True, slots=True)
class DiskChange:
    """What another process changed in the task file since we last looked."""

    added: tuple[TaskRecord, ...] = ()
    removed: tuple[str, ...] = ()
    warning: str | None = None  # the file was damaged and set aside
    updated: tuple[TaskRecord, ...] = ()  # tasks we have, changed elsewhere (a download…)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.warning or self.updated)


Change = (
    Loaded
    | TaskUpdate
    | Added
    | Removed
    | Relabeled
    | Downloaded
    | Costed
    | Examined
    | DiskChange
    | StatusChange
)
ChangeListener = Callable[[Change], None]

EDITS = (Added, Removed, Relabeled, Downloaded, Costed)  # changes made here: save at once


def changed_ids(change: Change) -> tuple[str, ...]:
    """The tasks a change touched (none for :class:`Loaded` and status changes)."""
    match change:
        case (
            TaskUpdate(record=record)
            | Relabeled(record=record)
            | Downloaded(record=record)
            | Examined(record=record)
        ):
            return (record.id,)
        case Added(records=records) | Costed(records=records):
            return tuple(r.id for r in records)
        case Removed(ids=ids):
            return ids
        case DiskChange(added=added, removed=removed, updated=updated):
            return (*(r.id for r in added), *removed, *(r.id for r in updated))
    return ()
