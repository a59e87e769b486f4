"""The footer, with ``? Help`` and ``q Quit`` always in sight.

Textual's footer lists the keys in binding order, the app's last: at 80 columns the
screen's dozen keys push Help and Quit off the edge. Here those two sit at the right,
beside ``^p palette``, in a group of their own (styles/app.tcss docks it); the other
keys fill what is left, and a key that does not fit whole is left out rather than cut.
Textual does not export its footer's keys (``FooterKey``): they come from
:mod:`vidwatch.ui.textual_private`.

Textual builds its footer again (a dozen widgets mounted and styled) whenever the
bindings may have changed: at every focus change, every screen pushed or popped. Here it
is built again only when the keys it shows did change: that halved the CPU a dashboard
test spends, and a key press that moves the focus no longer pays for it.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup
from textual.screen import Screen
from textual.widgets import Footer

from vidwatch.ui.textual_private import PALETTE_KEY_CLASS, FooterKey

__all__ = ["PINNED", "KeyFooter"]

PINNED = ("help", "quit")  # actions whose keys never fall off the footer


_Keys = tuple[tuple[str, Binding, bool, str], ...]


def _keys(screen: Screen[Any]) -> _Keys:
    """What a footer on ``screen`` shows: each key shown (and the palette's), its
    binding, whether it is enabled and its tooltip; the node that binds a key does not
    change what is shown, nor do the keys a focused input binds without showing them."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (key, binding, enabled, tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )


class KeyFooter(Footer):
    """Textual's footer with the pinned keys in a ``.pinned-keys`` group."""

    _shown: _Keys | None = None  # the keys the footer was last built with

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if (
            self._bindings_ready
            and self._shown is not None
            and screen is self.screen
            and _keys(screen) == self._shown
        ):
            return  # the same keys: nothing to build again
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        self._shown = _keys(self.screen) if self._bindings_ready else None
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
