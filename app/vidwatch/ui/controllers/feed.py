"""Session changes on their way to the screen, in order, in batches.

Poll results arrive by the hundred per second at 10,000 tasks: they are gathered and
handed on at most once every ``delay`` seconds. Everything else (the user's own edits,
a download saved, another process's edits, the list loaded, polling paused or
rejected — at most a few a second) is handed on at once, together with whatever came
before it, so the order holds and the screen answers a key press without a lag.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vidwatch.core.changes import Change
from vidwatch.core.polling.events import TaskUpdate

__all__ = ["FLUSH_SECONDS", "ChangeFeed"]

FLUSH_SECONDS = 0.1  # poll results reach the screen at most this often

Deliver = Callable[[Sequence[Change]], None]
Schedule = Callable[[float, Callable[[], None]], object]


class ChangeFeed:
    """Gathers changes from :meth:`Session.subscribe` and delivers them in batches."""

    def __init__(self, deliver: Deliver, schedule: Schedule, delay: float = FLUSH_SECONDS):
        self._deliver = deliver
        self._schedule = schedule
        self._delay = delay
        self._pending: list[Change] = []
        self._armed = False
        self.closed = False

    def push(self, change: Change) -> None:
        if self.closed:
            return
        self._pending.append(change)
        if not isinstance(change, TaskUpdate):
            self.flush()
        elif not self._armed:
            self._armed = True
            self._schedule(self._delay, self._timer)

    def _timer(self) -> None:
        self._armed = False
        self.flush()

    def flush(self) -> None:
        """Deliver everything gathered so far (nothing once closed)."""
        batch, self._pending = self._pending, []
        if batch and not self.closed:
            self._deliver(batch)

    def close(self) -> None:
        """Deliver nothing more (the screen is going away; the records are in the session)."""
        self.closed = True
        self._pending.clear()
