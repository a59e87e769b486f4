"""Toasts that stay out of the way: few at a time, repeats folded, never over the box
the user is typing in.

- At most :data:`MAX_TOASTS` show at once; a new one retires the oldest.
- The same message again while it still shows replaces it, counted (``… (×3)``).
- While a text box has the focus (a dialog's field, the filter), or the filter box is
  open, or a dialog without one (help, a question) is up, the toasts move to the side
  of the screen with more room and keep within it, clear of the box or the dialog;
  where not even one fits, they wait (hidden) until it closes.
- They never cover the detail pane (what is read at length): they sit beside it, at
  the foot of the table.
- They show on the screen on top only: those a screen behind a dialog had shown stay
  hidden until it is on top again (else each showed twice, behind and beside the
  dialog).

Textual has no public way to show a toast at once or to take one away: those go
through :mod:`vidwatch.ui.textual_private`.
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

from vidwatch.ui.textual_private import (
    ToastRack,
    show_notification,
    shown_notifications,
    withdraw_notification,
)

__all__ = ["KEEP_CLEAR", "MAX_TOASTS", "place_toasts", "show_toast"]

MAX_TOASTS = 3
TOAST_ROWS = 3  # the fewest rows one toast needs
KEEP_CLEAR = "toast-free"  # the class of what toasts never cover (the detail pane)


def show_toast(app: App[Any], notification: Notification) -> None:
    """Show ``notification`` at once (not through a message: a burst of toasts must see
    the ones before it), folding a repeat into a count and retiring the oldest."""
    shown = shown_notifications(app)
    base, count = _split_count(notification.message)
    for old in shown:
        old_base, old_count = _split_count(old.message)
        if (old.title, old.severity, old_base) == (notification.title, notification.severity, base):
            withdraw_notification(app, old)
            shown.remove(old)
            notification = replace(notification, message=f"{base} (×{old_count + count})")
            break
    for old in shown[: max(len(shown) - (MAX_TOASTS - 1), 0)]:
        withdraw_notification(app, old)
    show_notification(app, notification)


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


def _keep_clear(screen: Screen[Any]) -> Region | None:
    """What the toasts must not cover (screen coordinates), or None."""
    box = _typing_box(screen.focused)
    if isinstance(screen, ModalScreen):  # the whole dialog, not only its field being typed in
        dialog = next(iter(screen.query(".dialog")), None)
        if dialog is not None and dialog.display:
            box = dialog
    if box is None:  # the filter box open (the filter applied), focus back on the table
        box = next((w for w in screen.query(Input) if w.display and w.region), None)
    return box.region if box is not None and box.region else None


def _clear_right(screen: Screen[Any]) -> int:
    """Columns at the right the toasts keep clear of: the widgets marked
    :data:`KEEP_CLEAR` there (the detail pane), when they show."""
    width = screen.size.width
    return max(
        (
            width - widget.region.x
            for widget in screen.query(f".{KEEP_CLEAR}")
            if widget.display and widget.region and widget.region.right >= width
        ),
        default=0,
    )


def place_toasts(screen: Screen[Any]) -> None:
    """Put the screen's toasts where they cover no text box being typed in, no open
    filter box, no dialog, and never the detail pane (they sit at the foot of the table,
    beside it); the screens behind it show none."""
    for other in screen.app.screen_stack:
        if other is not screen:  # Textual shows them again when the screen is on top
            for rack in other.query_children(ToastRack):
                rack.display = False
    try:
        rack = screen.get_child_by_type(ToastRack)
    except Exception:  # no rack (notifications off, the screen being built)
        return
    region = _keep_clear(screen)
    right = _clear_right(screen)
    styles = rack.styles
    # Narrower by what they keep clear of at the right (a margin would not narrow it).
    if right:
        styles.width = screen.size.width - right
    else:
        styles.clear_rule("width")
    if region is None:
        for rule in ("dock", "align_vertical", "max_height", "margin"):
            styles.clear_rule(rule)
        return
    above = region.y
    below = screen.size.height - region.bottom - 1  # the footer's line
    styles.dock = "bottom"
    styles.align_vertical = "bottom"
    if above >= below:  # just above it, where they usually are when it is low
        styles.margin = (0, 0, screen.size.height - region.y, 0)
        room = above
    else:
        styles.margin = (0, 0, 1, 0)
        room = below
    # Too little room for one: none shows (they wait, and appear when it closes).
    styles.max_height = room if room >= TOAST_ROWS else 0
