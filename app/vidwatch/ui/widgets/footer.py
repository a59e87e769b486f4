"""The footer, with ``? Help`` and ``q Quit`` always in sight.

Textual's footer lists the keys in binding order, the app's last: at 80 columns the
screen's dozen keys push Help and Quit off the edge. Here those two sit at the right,
beside ``^p palette``, in a group of their own (styles/app.tcss docks it); the other
keys fill what is left, and a key that does not fit whole is left out rather than cut.
Textual does not export its footer's keys (``FooterKey``): they come from
:mod:`vidwatch.ui.textual_private`.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Footer

from vidwatch.ui.textual_private import PALETTE_KEY_CLASS, FooterKey

__all__ = ["PINNED", "KeyFooter"]

PINNED = ("help", "quit")  # actions whose keys never fall off the footer


class KeyFooter(Footer):
    """Textual's footer with the pinned keys in a ``.pinned-keys`` group."""

    def compose(self) -> ComposeResult:
        pinned: list[FooterKey] = []
        for widget in super().compose():
            if isinstance(widget, FooterKey) and (
                widget.action in PINNED or widget.has_class(PALETTE_KEY_CLASS)
            ):
                pinned.append(widget)
            else:
                yield widget
        if pinned:
            with HorizontalGroup(classes="pinned-keys"):
                yield from pinned
        self.call_after_refresh(self._fit)  # once the new keys have their sizes

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int | None = None) -> None:
        """Show the keys that fit whole in the room the pinned group leaves."""
        room = self.size.width if width is None else width
        for group in self.query_children(".pinned-keys"):
            room -= sum(self._width(key) for key in group.query_children(FooterKey))
        used = 0
        for key in self.query_children(FooterKey):
            used += self._width(key)
            key.display = used <= room

    def _width(self, key: FooterKey) -> int:
        styles = key.styles
        return (
            key.get_content_width(self.size, self.app.size)
            + styles.gutter.width
            + styles.margin.width
        )
