"""Saying so while creates wait before sending again (``create``, ``submit``).

A 429 may ask for an hour, and a row may be sent again after it a few times: waiting in
silence looks like a hang. So every wait is told, with the time left:

- on a terminal, a line that counts down (inside ``submit``'s progress bar when there is
  one), gone when sending resumes;
- when stderr is not a terminal (a log file, a pipe), one line when a wait starts and one
  when sending resumes: waits of at least ``announce`` seconds (:data:`ANNOUNCE` for
  ``submit``, whose short backoffs would fill a log with noise, the row's own line saying
  how it ended; every one for a single ``create``);
- a wait of at least :data:`ANNOUNCE` seconds leaves a line saying it is over (not on a
  terminal under the progress bar, which the line would break: the row's line follows).

Overlapping waits (two creates at once, each told to wait) are told once: the notice
tracks the latest end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TextIO

from vidwatch.cli.output import safe
from vidwatch.core.gateway.wording import resend_words, retry_words
from vidwatch.core.text.wording import span

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live
    from rich.progress import ProgressColumn

__all__ = ["ANNOUNCE", "WaitNotice", "countdown_column"]

ANNOUNCE: Final = 5.0  # seconds: shorter waits are not written to a non-terminal stderr


class WaitNotice:
    """The one place a wait is told. ``embedded``: a progress bar shows :meth:`countdown`
    (it asks for it on every refresh), so no countdown of its own is drawn."""

    def __init__(
        self,
        err: TextIO,
        *,
        announce: float = ANNOUNCE,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.err = err
        self.announce = announce
        self.tty = err.isatty()
        self.embedded = False
        self._clock = clock
        self._wall = wall
        self._until: float | None = None  # on the monotonic clock
        self._started = 0.0
        self._why = ""
        self._who = ""
        self._told = False  # the current wait was written (a line when it is over)
        self._pending = 0  # creates waiting now (each ends with resumed())
        self._live: Live | None = None

    @property
    def waiting_now(self) -> bool:
        return self._until is not None

    def countdown(self) -> str:
        """``not sent (…); trying again in 59m30s (at 14:05:12), …`` ("" when not waiting)."""
        if self._until is None:
            return ""
        left = max(self._until - self._clock(), 0.0)
        words = retry_words(self._why, left, self._wall() + left, row=bool(self._who))
        return safe(f"{self._who}: {words}" if self._who else words, 300)

    def brief(self) -> str:
        """The countdown first, for a progress bar's one line: ``waiting 59m30s (until
        14:05:12): row 4 not sent (429 …)``."""
        if self._until is None:
            return ""
        left = max(self._until - self._clock(), 0.0)
        when = time.strftime("%H:%M:%S", time.localtime(self._wall() + left))
        who = f"{self._who} " if self._who else ""
        return safe(f"waiting {span(left)} (until {when}): {who}not sent ({self._why})", 300)

    def waiting(self, seconds: float, why: str, who: str = "") -> None:
        """A create waits ``seconds`` before it is sent again; ``why`` it was not sent;
        ``who``: which row (``row 4``), or "" for a single create."""
        self._pending += 1
        now = self._clock()
        end = now + max(seconds, 0.0)
        longer = self._until is None or end > self._until + 1.0
        if self._until is None:
            self._started = now
        self._until = end if self._until is None else max(self._until, end)
        self._why, self._who = why, who
        if not longer:
            return
        if seconds >= self.announce and not self.tty:
            print(f"vidwatch: {self.countdown()}", file=self.err, flush=True)
        if seconds >= ANNOUNCE:
            self._told = True  # a long wait: its end is said too
        if self.tty and not self.embedded:
            self._draw()

    def resumed(self, waited: float = 0.0) -> None:
        """A create that waited (``waited`` seconds) is being sent again."""
        self._pending = max(self._pending - 1, 0)
        if self._until is None or self._pending:
            return  # another wait still runs
        waited = max(self._clock() - self._started, waited)
        self._until = None
        self._stop()
        told, self._told = self._told, False
        if told and not (self.tty and self.embedded):  # not under a live progress bar
            print(f"vidwatch: {resend_words(waited)}", file=self.err, flush=True)

    def close(self) -> None:
        self._until = None
        self._pending = 0
        self._stop()

    def _draw(self) -> None:
        if self._live is not None:
            return
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        notice = self

        class _Line:
            def __rich__(self) -> RenderableType:
                return Text(notice.countdown())

        console = Console(file=self.err, emoji=False, highlight=False, markup=False)
        self._live = Live(_Line(), console=console, transient=True, refresh_per_second=2)
        self._live.start(refresh=True)

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def countdown_column(notice: WaitNotice) -> ProgressColumn:
    """A progress-bar column that shows ``notice``'s countdown (rich asks on each refresh)."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class _Countdown(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(notice.brief(), style="yellow", no_wrap=True, overflow="ellipsis")

    notice.embedded = True
    return _Countdown()
