"""Telling the user that jobs finished: toasts, the bell, desktop notifications.

The :class:`Announcer` reads the same batches of changes the screen applies. A wave of
finishes becomes one summary (at most one every :data:`ANNOUNCE_GAP` seconds), and the
last of the marked tasks finishing is summed up once.
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
from vidwatch.ui.textual_private import terminal_driver
from vidwatch.ui.widgets.task_table import TaskTable

__all__ = ["ANNOUNCE_GAP", "Announcer"]

ANNOUNCE_GAP = 2.0  # seconds between "finished" toasts: a wave of finishes is summed up


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
        self._armed = False
        if not self.alive():
            return
        done, self.finished = self.finished, []
        if not done:
            return
        self._announced_at = time.monotonic()
        failed = [r for r in done if r.result.state is State.FAILED]
        if len(done) == 1:
            record = done[0]
            name = record.task.label or record.id
            if failed:
                self.app.notify(f"Failed: {name}", severity="error")
                self.desktop("vidwatch: a job failed", name)
            else:
                # c copies the highlighted row: offer it only when that is this task
                here = self.table().cursor_id == record.id
                tip = " — press c to copy its URL" if here else ""
                self.app.notify(f"Finished: {name}{tip}")
                self.desktop("vidwatch: a video is ready", name)
        else:
            summary = f"{len(done) - len(failed)} succeeded, {len(failed)} failed"
            self.app.notify(summary, severity="warning" if failed else "information")
            self.desktop("vidwatch", summary)
        if self.config().bell:
            self.app.bell()

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
        which = (
            "The marked task is" if len(records) == 1 else f"All {len(records)} marked tasks are"
        )
        summary = f"{which} done: {len(records) - failed} succeeded, {failed} failed."
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
