"""Every private name of Textual that vidwatch uses, here and nowhere else.

Textual has no public API for these; each is small, and each is checked against the
installed Textual by ``tests/test_dependencies.py``, which names what moved. Textual is
pinned to the major version they were tested with (pyproject.toml). The rest of the
dashboard calls the functions below, never the names themselves.

- ``textual.widgets._toast.Toast`` and ``ToastRack`` (since 0.30): the rack of a screen
  is moved clear of the box being typed in (:mod:`vidwatch.ui.widgets.toasts`).
- ``App._notifications`` (since 0.30), ``App._unnotify`` (since 0.37) and
  ``App._refresh_notifications`` (since 0.30): a toast is shown at once, not through
  a message (a burst must see the toasts before it, to fold repeats and keep at most a
  few); Textual's public ``notify`` posts a message and can only ``clear`` them all.
- ``App._driver`` (since 0.1): desktop notifications are escape sequences (OSC 9 or
  777) written to the terminal, which only the driver may write to (Textual writes only
  its own: the clipboard, the bell, the cursor); and the watchdog gives the terminal its
  settings back from the driver's ``fileno`` and ``attrs_before`` (Linux and macOS
  driver, since 0.1) when the event loop is stuck.
- ``App._fatal_error`` (since 0.19), replaced by :class:`CrashHook`: Textual's crash
  report prints the values of local variables, which can hold the API key; Textual has
  no setting to leave them out.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.text import Text
from textual.app import App, ReturnType
from textual.driver import Driver
from textual.notifications import Notification

try:
    from textual.widgets._toast import Toast, ToastRack
except ImportError as exc:  # pragma: no cover - only with a Textual that moved them
    raise ImportError(
        f"vidwatch needs Textual's {exc.name or 'widgets'} (Toast, ToastRack): this "
        "Textual moved them; see vidwatch/ui/textual_private.py"
    ) from exc

__all__ = [
    "CrashHook",
    "Toast",
    "ToastRack",
    "show_notification",
    "shown_notifications",
    "terminal_driver",
    "terminal_modes",
    "withdraw_notification",
]


def shown_notifications(app: App[Any]) -> list[Notification]:
    """The notifications ``app`` shows now, oldest first (expired ones left out)."""
    return list(app._notifications)


def withdraw_notification(app: App[Any], notification: Notification) -> None:
    """Take ``notification`` away; the screen changes at the next :func:`show_notification`."""
    app._unnotify(notification, refresh=False)


def show_notification(app: App[Any], notification: Notification) -> None:
    """Show ``notification`` now, with the ones still shown."""
    app._notifications.add(notification)
    app._refresh_notifications()


def terminal_driver(app: App[Any]) -> Driver | None:
    """The driver writing to the terminal (None before the app runs, and after)."""
    return app._driver


def terminal_modes(app: App[Any]) -> tuple[int, list[Any]] | None:
    """The terminal's file descriptor and its settings from before the app took it over
    (termios attributes), where the driver kept them (Linux and macOS)."""
    driver = app._driver
    attrs = getattr(driver, "attrs_before", None)
    fileno = getattr(driver, "fileno", None)
    if attrs is None or not isinstance(fileno, int):
        return None
    return fileno, attrs


class CrashHook(App[ReturnType]):
    """An app whose unexpected errors go to :meth:`crashed` instead of Textual's report
    (a traceback with the values of local variables)."""

    def _fatal_error(self) -> None:
        self.crashed(sys.exc_info()[1])

    def crashed(self, error: BaseException | None) -> None:
        """Say that the app stopped, without local variables, and stop it (``panic``)."""
        self.panic(Text(f"Stopped after an internal error ({type(error).__name__})."))
