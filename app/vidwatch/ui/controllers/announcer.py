"""Telling the user that jobs finished: toasts, the bell, desktop notifications.

The :class:`Announcer` reads the same batches of changes the screen applies. A wave of
finishes becomes one summary (at most one every :data:`ANNOUNCE_GAP` seconds): a quiet,
short one that replaces the last when all succeeded (the table and the header show them
already), one that asks for attention when any failed. The last of the marked tasks
finishing is summed up once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from textual.app import App

from vidwatch.core.changes import Change
from vidwatch.core.config import Config
from vidwatch.core.model.records import FINISHED_STATES, State, TaskRecord
from vidwatch.core.polling.events import TaskUpdate
from vidwatch.core.runtime.notify import desktop_sequence, notify_send, terminal_style
from vidwatch.core.session import Session
from vidwatch.ui.textual_private import (
    shown_notifications,
    terminal_driver,
    withdraw_notification,
)
from vidwatch.ui.widgets.task_table import TaskTable

__all__ = ["ANNOUNCE_GAP", "Announcer"]

ANNOUNCE_GAP = 2.0  # seconds between "finished" toasts: a wave of finishes is summed up
QUIET_TIMEOUT = 4.0  # seconds a toast of successes shows: the table says it already
FAILED_TIMEOUT = 10.0  # seconds a toast of failures shows: it needs attention
MAX_NAMED = 3  # failed tasks named in one toast


class Announcer:
    """Finish toasts, the batch summary, the bell and desktop notifications."""

    def __init__(
        self,
        app: App[Any],
        session: Session,
        table: Callable[[], TaskTable],
        *,
        config: Callable[[], Config],
        environ: Mapping[str, str],
        alive: Callable[[], bool],
    ) -> None:
        self.app = app
        self.session = session
        self.table = table
        self.config = config  # the bell and desktop_notifications settings
        self.environ = environ
        self.alive = alive
        self.finished: list[TaskRecord] = []  # finishes not announced yet
        self._announced_at = -ANNOUNCE_GAP  # monotonic time of the last "finished" toast
        self._armed = False
        self._batch_announced: frozenset[str] = frozenset()
        self._quiet = ""  # the last quiet toast's text

    def on_changes(self, changes: Sequence[Change]) -> None:
        updates = [c for c in changes if isinstance(c, TaskUpdate)]
        if updates:
            self._note_finished(updates)
            self._announce_batch(updates)

    def _note_finished(self, updates: Iterable[TaskUpdate]) -> None:
        self.finished += [
            u.record
            for u in updates
            if u.state_changed
            and u.previous is not None
            and u.record.result.state in FINISHED_STATES
        ]
        if not self.finished or self._armed:
            return
        wait = self._announced_at + ANNOUNCE_GAP - time.monotonic()
        if wait > 0:
            self._armed = True
            self.app.set_timer(wait, self.announce_now)
        else:
            self.announce_now()

    def announce_now(self) -> None:
        """One toast for the finishes since the last: a quiet one (short, replacing the
        last quiet one) when all succeeded, since the table and the header show them
        already; one that asks for attention when any failed. No zero is spelt out."""
        self._armed = False
        if not self.alive():
            return
        done, self.finished = self.finished, []
        if not done:
            return
        self._announced_at = time.monotonic()
        failed = [r for r in done if r.result.state is State.FAILED]
        succeeded = len(done) - len(failed)
        if failed:
            names = ", ".join(r.task.label or r.id for r in failed[:MAX_NAMED])
            more = len(failed) - MAX_NAMED
            names += f" and {more} more" if more > 0 else ""
            message = f"Failed: {names}" if len(failed) == 1 else f"{len(failed)} failed: {names}"
            if succeeded:
                message += f" · {succeeded} succeeded"
            self.app.notify(message, severity="error", timeout=FAILED_TIMEOUT)
            self.desktop("vidwatch: a job failed" if len(done) == 1 else "vidwatch", message)
        elif succeeded == 1:
            record = done[0]
            name = record.task.label or record.id
            # c copies the highlighted row: offer it only when that is this task
            here = self.table().cursor_id == record.id
            tip = " — press c to copy its URL" if here else ""
            self._quietly(f"Finished: {name}{tip}")
            self.desktop("vidwatch: a video is ready", name)
        else:
            self._quietly(f"{succeeded} finished")
            self.desktop("vidwatch", f"{succeeded} videos are ready")
        if self.config().bell:
            self.app.bell()

    def _quietly(self, message: str) -> None:
        """A short toast in place of the last quiet one, if it still shows (never
        stacked, never counted)."""
        for shown in shown_notifications(self.app):
            if shown.message == self._quiet:
                withdraw_notification(self.app, shown)
        self._quiet = message
        self.app.notify(message, timeout=QUIET_TIMEOUT)

    def _announce_batch(self, updates: Sequence[TaskUpdate]) -> None:
        """One summary when the last of the marked tasks finishes (not when tasks that
        had already finished are marked)."""
        marked = frozenset(self.table().marked)
        if not marked or marked == self._batch_announced:
            return
        if not any(u.state_changed and u.record.id in marked for u in updates):
            return
        known = self.session.records
        records = [known[i] for i in marked if i in known]
        if not records or not all(r.result.final for r in records):
            return
        self._batch_announced = marked
        failed = sum(1 for r in records if r.result.state is State.FAILED)
        succeeded = sum(1 for r in records if r.result.state is State.SUCCEEDED)
        which = "The marked task" if len(records) == 1 else f"All {len(records)} marked tasks"
        if succeeded == len(records) or failed == len(records):  # no "0 failed"
            summary = f"{which} {'failed' if failed else 'succeeded'}."
        else:
            others = len(records) - succeeded - failed
            counts = ((succeeded, "succeeded"), (failed, "failed"), (others, "ended otherwise"))
            summary = f"{which} are done: {', '.join(f'{n} {w}' for n, w in counts if n)}."
        self.app.notify(summary, timeout=10)
        self.desktop("vidwatch: your batch is done", summary)

    def desktop(self, title: str, body: str) -> None:
        """A desktop notification, the way the config says (OSC 9/777 or notify-send)."""
        mode = self.config().desktop_notifications
        if mode == "off":
            return
        if mode == "notify-send":
            self.app.run_worker(
                asyncio.to_thread(notify_send, title, body), group="notify", exit_on_error=False
            )
            return
        style = terminal_style(self.environ) or ("osc9" if mode == "terminal" else None)
        if style is None:
            return
        sequence = desktop_sequence(title, body, style, in_tmux=bool(self.environ.get("TMUX")))
        driver = terminal_driver(self.app)  # Textual has no public way to write one
        if driver is not None:
            driver.write(sequence)
            driver.flush()
