"""Toasts that stay out of the way: few at a time, repeats folded, never over the box
the user is typing in.

- At most :data:`MAX_TOASTS` show at once; a new one retires the oldest.
- The same message again while it still shows replaces it, counted (``… (×3)``).
- While a text box has the focus (the filter, a dialog's field), the toasts move to
  the side of the screen with more room and keep within it, clear of the box.
- Over a dialog (a modal screen) they keep clear of the whole dialog the same way; where
  it leaves too little room they are held and shown when the dialog closes.

Textual keeps its notifications in ``App._notifications``, removes one with
``App._unnotify`` and redraws them with ``App._refresh_notifications``; all three are
used here (Textual is pinned to one major version, and the tests cover this).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.app import App
from textual.geometry import Region
from textual.notifications import Notification
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, TextArea
from textual.widgets._toast import ToastRack

__all__ = ["MAX_TOASTS", "place_toasts", "room_beside_dialog", "show_toast"]

MAX_TOASTS = 3


def show_toast(app: App[Any], notification: Notification) -> None:
    """Show ``notification`` at once (not through a message: a burst of toasts must see
    the ones before it), folding a repeat into a count and retiring the oldest."""
    shown: list[Notification] = list(app._notifications)  # expired ones are left out
    base, count = _split_count(notification.message)
    for old in shown:
        old_base, old_count = _split_count(old.message)
        if (old.title, old.severity, old_base) == (notification.title, notification.severity, base):
            app._unnotify(old, refresh=False)
            shown.remove(old)
            notification = replace(notification, message=f"{base} (×{old_count + count})")
            break
    for old in shown[: max(len(shown) - (MAX_TOASTS - 1), 0)]:
        app._unnotify(old, refresh=False)
    app._notifications.add(notification)
    app._refresh_notifications()


def _split_count(message: str) -> tuple[str, int]:
    """``("Marks cleared.", 3)`` for ``"Marks cleared. (×3)"``."""
    head, sep, tail = message.rpartition(" (×")
    if sep and tail.endswith(")") and tail[:-1].isdigit():
        return head, int(tail[:-1])
    return message, 1


def _typing_box(widget: Widget | None) -> Widget | None:
    if isinstance(widget, Input | TextArea) and widget.display:
        return widget
    return None


TOAST_LINES = 5  # lines one toast may take beside a dialog: margin, padding, two of text


def _dialog_region(screen: Screen[Any]) -> Region | None:
    """Where a modal screen draws its dialog (its children but the toast rack)."""
    if not isinstance(screen, ModalScreen):
        return None
    regions = [
        child.region
        for child in screen.children
        if not isinstance(child, ToastRack) and child.display and child.region
    ]
    return Region.from_union(regions) if regions else None


def room_beside_dialog(screen: Screen[Any], toasts: int) -> bool:
    """Whether ``toasts`` toasts fit above or below the dialog ``screen`` shows (True
    when it shows none)."""
    dialog = _dialog_region(screen)
    if dialog is None:
        return True
    room = max(dialog.y, screen.size.height - dialog.bottom - 1)
    return room >= TOAST_LINES * toasts


def place_toasts(screen: Screen[Any]) -> None:
    """Put the screen's toasts where they cover no dialog and no text box that has the
    focus."""
    try:
        rack = screen.get_child_by_type(ToastRack)
    except Exception:  # no rack (notifications off, the screen being built)
        return
    box = _typing_box(screen.focused)
    styles = rack.styles
    dialog = _dialog_region(screen)
    region = dialog or (box.region if box is not None else None)  # in screen coordinates
    if not region:
        styles.clear_rule("dock")
        styles.clear_rule("align_vertical")
        styles.clear_rule("max_height")
        styles.clear_rule("margin")
        return
    above = region.y
    below = screen.size.height - region.bottom
    if above >= below:
        styles.dock = "top"
        styles.align_vertical = "top"
        styles.margin = (0, 0, 0, 0)
        styles.max_height = max(above, 0)
    else:
        styles.dock = "bottom"
        styles.align_vertical = "bottom"
        styles.margin = (0, 0, 1, 0)  # the footer's line
        styles.max_height = max(below - 1, 0)
