"""What the poller tells whoever listens: one event per poll, one when polling changes.

A :class:`TaskUpdate` says a task was polled (its record after the answer, its result
before it, the answer itself); a :class:`StatusChange` carries the new
:class:`PollerStatus`, what the header shows about polling as a whole. The
:class:`~vidwatch.core.polling.poller.Poller` emits both to each :data:`Listener`; the session
relays them into its one stream of changes (:mod:`vidwatch.core.changes`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vidwatch.core.gateway.outcomes import Outcome
from vidwatch.core.model.records import TaskRecord, TaskResult

__all__ = [
    "Listener",
    "PollerEvent",
    "PollerStatus",
    "StatusChange",
    "TaskUpdate",
    "status_differs",
]


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    """A task was polled. ``previous`` is its result before this poll."""

    record: TaskRecord
    previous: TaskResult | None
    outcome: Outcome

    @property
    def state_changed(self) -> bool:
        return self.previous is None or self.previous.state != self.record.result.state


@dataclass(frozen=True, slots=True)
class PollerStatus:
    """What the header shows about polling as a whole."""

    paused: bool = False
    offline: bool = False  # no API key: nothing is polled
    auth_error: str | None = None
    # The server has no such address (a wrong base URL): polling waits until it is fixed.
    url_error: str | None = None
    hold_until: datetime | None = None  # rate limited until (wall clock)
    requests_per_minute: int = 0
    pending: int = 0
    # The host no request could reach lately (every recent one failed with a network
    # error); None once one gets an answer.
    unreachable: str | None = None

    @property
    def label(self) -> str:
        if self.offline:
            return "offline (no API key)"
        if self.auth_error:
            return "key rejected"
        if self.url_error:
            return "paused: wrong base URL"
        if self.paused:
            return "paused"
        if self.unreachable is not None:
            return f"offline: cannot reach {self.unreachable}"
        if self.hold_until is not None:
            return f"rate limited until {self.hold_until.astimezone():%H:%M:%S}"
        return "live"


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: PollerStatus


PollerEvent = TaskUpdate | StatusChange
Listener = Callable[[PollerEvent], None]


def status_differs(a: PollerStatus, b: PollerStatus) -> bool:
    """Changes worth an event now (the counters alone are published once a second)."""
    if (a.paused, a.offline, a.auth_error, a.url_error) != (
        b.paused,
        b.offline,
        b.auth_error,
        b.url_error,
    ):
        return True
    if a.unreachable != b.unreachable:
        return True
    if (a.hold_until is None) != (b.hold_until is None):
        return True
    return bool(
        a.hold_until and b.hold_until and abs((a.hold_until - b.hold_until).total_seconds()) >= 1
    )
