"""Keeping the task file and the remembered view in step with the dashboard.

The :class:`SaveController` saves the session soon after it changes (the user's own
edits almost at once, poll results debounced), off the event loop; retries a save
that failed and says so in a banner until one works; checks the task file for other
writers once a second; and writes the remembered view (filter, sort, columns) once
typing settles. What a save or a check finds on disk reaches the screen through the
session's change stream, like every other change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textual.app import App

from vidwatch.core.changes import EDITS, Change
from vidwatch.core.session import Session
from vidwatch.core.store.task_file import StoreError
from vidwatch.core.store.view import View, save_view
from vidwatch.ui.banners import Banner, SetBanner

__all__ = ["SaveController"]

log = logging.getLogger("vidwatch.ui")

SAVE_DELAY = 1.0  # results are saved this long after they arrive (debounce)
EDIT_SAVE_DELAY = 0.05  # the user's own edits are saved almost at once
WATCH_SECONDS = 1.0  # how often the task file is checked for other writers
SAVE_RETRY_SECONDS = 5.0  # after a failed save
VIEW_SAVE_DELAY = 1.0  # seconds: the view is written once typing settles


class SaveController:
    """Debounced saves in a thread, retries, the file watch and the remembered view."""

    def __init__(
        self,
        app: App[Any],
        session: Session,
        *,
        banner: SetBanner,
        failing: Callable[[bool], None],
        alive: Callable[[], bool],
        view_file: Path | None,
    ) -> None:
        self.app = app
        self.session = session
        self.banner = banner  # set or clear one of the screen's banners
        self.failing = failing  # tell the header whether saving fails
        self.alive = alive
        self.view_file = view_file  # None: the view is not remembered (the demo)
        self.loaded = False  # nothing is saved until the list was read
        self.closed = False
        self.error: str | None = None  # why the last save failed (None: it worked)
        self.unsaved_error: str | None = None  # the final save on exit failed
        self._timer_armed = False
        self._unsaved_view: View | None = None

    def start(self) -> None:
        self.app.set_interval(WATCH_SECONDS, self.watch_file)

    def cannot_load(self, message: str) -> None:
        """The task file cannot be read: nothing will be written over it."""
        self.error = message
        self.failing(True)
        self.banner(Banner.STORE, f"{message} Nothing will be saved until this is fixed.")

    # ------------------------------------------------------------------ the task file

    def on_changes(self, changes: Sequence[Change]) -> None:
        """Save soon after anything changed: at once after the user's own edits."""
        if any(isinstance(c, EDITS) for c in changes):
            self.schedule(EDIT_SAVE_DELAY)
        elif self.session.dirty:
            self.schedule(SAVE_DELAY)

    def schedule(self, delay: float) -> None:
        if not self._timer_armed:
            self._timer_armed = True
            self.app.set_timer(delay, self._save_soon)

    async def _save_soon(self) -> None:
        self._timer_armed = False
        await self.save_now()

    async def save_now(self) -> None:
        """Merge our list into the file (in a thread) and pick up others' changes."""
        if not self.loaded or not self.session.dirty or self.closed:
            return
        try:
            await self.session.save_async()
        except StoreError as exc:
            self._failed(str(exc))
            return
        except Exception as exc:  # a defect must not take the dashboard down
            log.exception("saving failed")
            self._failed(f"An internal error ({type(exc).__name__}); see the log.")
            return
        if not self.alive():  # the final save in close() reports what is left
            return
        if self.error is not None:
            self.error = None
            self.failing(False)
            self.banner(Banner.SAVE, None)
            self.banner(Banner.STORE, None)
            self.app.notify("Saving works again.")

    def _failed(self, message: str) -> None:
        if not self.alive():
            return
        if self.error != message:
            self.app.notify(message, severity="error", timeout=15, markup=False)
        self.error = message
        self.failing(True)
        self.banner(Banner.SAVE, f"Cannot save: {message} Everything is kept in memory; retrying.")
        self.schedule(SAVE_RETRY_SECONDS)

    async def watch_file(self) -> None:
        """Pick up other processes' edits (they arrive as a change in the stream)."""
        if not self.loaded or not self.alive():
            return
        try:
            await self.session.check_disk()
        except StoreError as exc:
            if self.alive():
                self.banner(Banner.STORE, str(exc))

    async def close(self) -> None:
        """The last save, on the way out (idempotent). Waits for a save under way and
        saves again if it failed or more changed; a failure is kept in
        :attr:`unsaved_error` for the CLI to report once the screen is gone."""
        if self.closed:
            return
        self.closed = True
        await self.save_view()  # a view changed just before quitting is kept too
        if not self.loaded:
            return
        try:
            await self.session.save_if_dirty()
        except StoreError as exc:
            self.unsaved_error = str(exc)
            log.error("final save failed: %s", exc)
        except Exception as exc:
            self.unsaved_error = f"an internal error ({type(exc).__name__}); see the log"
            log.exception("final save failed")

    # ------------------------------------------------------------------ the view

    def view_changed(self, view: View) -> None:
        if self.view_file is None:
            return
        armed = self._unsaved_view is not None
        self._unsaved_view = view
        if not armed:  # else a save is coming anyway, and takes the latest view
            self.app.set_timer(VIEW_SAVE_DELAY, self.save_view)

    async def save_view(self) -> None:
        """Write the latest view (from the message: the screen may be gone by now)."""
        view, self._unsaved_view = self._unsaved_view, None
        if view is None or self.view_file is None:
            return
        try:
            await asyncio.to_thread(save_view, self.view_file, view)
        except OSError as exc:
            log.warning("cannot remember the view in %s: %s", self.view_file, exc)
