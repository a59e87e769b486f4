"""Leaving within a deadline on SIGHUP and SIGTERM, saved, whatever else is stuck.

Closing a terminal sends SIGHUP; a service manager sends SIGTERM. The polite way out
runs on the event loop (stop polling, save, restore the terminal), but the loop can
be stuck: Textual's output thread blocks on a terminal nobody reads any more, its
queue fills, and the loop blocks on the full queue forever. An asyncio signal handler
then never runs.

:class:`Lifeline` installs plain signal handlers (they run even while the main thread
waits on a lock) that ask the loop for the polite exit and start a watchdog thread.
If the polite exit has not finished within ``grace`` seconds, the watchdog saves from
its own thread and ends the process with :func:`os._exit`; if the polite exit
finished but the process still lingers (a thread that will not stop), the watchdog
ends it at ``deadline``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["DEADLINE", "GRACE", "Lifeline"]

log = logging.getLogger("vidwatch.lifeline")

GRACE = 1.0  # seconds the polite exit has before the watchdog saves and leaves
DEADLINE = 1.8  # seconds after the signal: the process is gone by then, whatever happens
SIGNALS = (signal.SIGHUP, signal.SIGTERM)

Handler = Callable[[int, FrameType | None], Any] | int | None


class Lifeline:
    """Signal handlers and a watchdog: see the module's description."""

    def __init__(
        self,
        polite: Callable[[], None],
        save: Callable[[], bool],
        *,
        grace: float = GRACE,
        deadline: float = DEADLINE,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        self.polite = polite  # thread-safe: asks the event loop to quit (saving first)
        self.save = save  # blocking, from the watchdog thread; True when it saved
        self.grace = grace
        self.deadline = deadline
        self._exit = exit
        self._finished = threading.Event()  # the polite exit is done
        self._code = 0
        self._previous: dict[int, Handler] = {}
        self.signalled: int | None = None
        self.watchdog: threading.Thread | None = None

    def install(self) -> None:
        """Take over SIGHUP and SIGTERM (from the main thread)."""
        for sig in SIGNALS:
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                self._previous[sig] = signal.signal(sig, self._on_signal)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

    def finished(self, code: int = 0) -> None:
        """The polite exit is done (everything saved; ``code`` is the exit status it
        means to give): the watchdog now only sees the process out if it lingers."""
        self._code = code
        self._finished.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.signalled is not None:
            return  # already leaving
        self.signalled = signum
        self.watchdog = threading.Thread(target=self._watch, name="vidwatch-lifeline", daemon=True)
        self.watchdog.start()
        try:
            self.polite()
        except Exception:  # the loop may be closed already: the watchdog still acts
            log.exception("asking the dashboard to quit failed")

    def _watch(self) -> None:
        start = time.monotonic()
        if self._finished.wait(self.grace):
            # Saved and done; the process should be gone in a moment. If a thread holds
            # it (interpreter shutdown joins worker threads), end it at the deadline.
            time.sleep(max(self.deadline - (time.monotonic() - start), 0.0))
            log.warning("still running %.1f s after the signal: leaving now", self.deadline)
            self._exit(self._code)
            return
        log.warning("the dashboard did not quit within %.1f s: saving from a thread", self.grace)
        saved = False
        try:
            saved = self.save()
        except Exception:
            log.exception("the last save failed")
        log.warning("saved from the watchdog; leaving" if saved else "leaving unsaved")
        self._exit(0 if saved else 1)
