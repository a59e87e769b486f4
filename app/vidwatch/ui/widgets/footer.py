"""The footer: the keys of the screen, with ``? Help`` and ``q Quit`` always in sight.

One widget draws the whole line. Textual's own footer mounts a widget per key (half the
widgets of the dashboard) and mounts them all again at every focus change and screen
switch; every one of them is styled again whenever its screen comes back. Here the line
is worked out when the keys it shows change, and drawn like any other text.

The screen's keys come first, in binding order; ``? Help``, ``q Quit`` and ``^p palette``
sit at the right, so that at 80 columns the screen's dozen keys cannot push them off the
edge; a key that does not fit whole is left out rather than cut. A click on a key presses
it; the mouse over a key shows what it does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["PINNED", "KeyFooter", "ShownKey"]

PINNED = ("help", "quit")  # actions whose keys never fall off the footer
_DIVIDER = "▏"  # before the palette's key, as Textual's footer draws it


@dataclass(frozen=True, slots=True)
class ShownKey:
    """A key as the footer shows it: ``x`` and ``width`` are its cells on the line
    (``width`` 0: left out, for want of room)."""

    key: str
    key_display: str
    description: str
    action: str
    enabled: bool
    tooltip: str
    pinned: bool
    x: int = 0
    width: int = 0

    @property
    def text(self) -> str:
        """The cells it takes: `` a Add `` (the palette's key: ``▏^p palette ``)."""
        body = f" {self.key_display} {self.description} " if self.description else ""
        body = body or f" {self.key_display} "
        return _DIVIDER + body.lstrip() if self.action == "command_palette" else body

    @property
    def cells(self) -> int:
        """How many cells :attr:`text` takes (a wide character takes two)."""
        return cell_len(self.text)


_Keys = tuple[tuple[str, Binding, bool, str], ...]


def _active(screen: Screen[Any]) -> _Keys:
    """The keys a footer on ``screen`` shows (and the palette's): each with its binding,
    whether it is enabled and its tooltip."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (key, binding, enabled, tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or (key == palette and screen.app.ENABLE_COMMAND_PALETTE)
    )


class KeyFooter(Widget, can_focus=False):
    """A line of the screen's keys, the pinned ones at the right."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "footer-key--key",
        "footer-key--description",
        "footer-key--hover",
    }

    def __init__(self) -> None:
        super().__init__()
        self._worked_from: _Keys | None = None  # the bindings the keys were worked out from
        self._keys: tuple[ShownKey, ...] = ()
        self._hover: ShownKey | None = None

    # ------------------------------------------------------------------ what is shown

    @property
    def keys(self) -> tuple[ShownKey, ...]:
        """Every key of the screen, in the order drawn (the ones left out: ``width`` 0)."""
        return self._keys

    @property
    def shown(self) -> tuple[ShownKey, ...]:
        """The keys on the line now."""
        return tuple(k for k in self._keys if k.width)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._bindings_changed, self.screen)

    def on_resize(self, event: events.Resize) -> None:
        self._place(event.size.width)

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        bindings = _active(screen)
        if bindings == self._worked_from:
            return  # the same keys: nothing to work out again (focus changes do this)
        self._worked_from = bindings
        app = self.app
        keys = [
            ShownKey(
                key=key,
                key_display=app.get_key_display(binding),
                description=binding.description,
                action=binding.action,
                enabled=enabled,
                tooltip=tooltip or binding.tooltip or binding.description,
                pinned=binding.action in PINNED or binding.action == "command_palette",
            )
            for key, binding, enabled, tooltip in bindings
        ]
        # One key per action (``d`` and ``delete`` both remove: the first one is shown).
        unique: list[ShownKey] = []
        for key in keys:
            if all(key.action != k.action for k in unique):
                unique.append(key)
        # Help and Quit at the right, the palette's key last.
        pinned = sorted(
            (k for k in unique if k.pinned), key=lambda k: k.action == "command_palette"
        )
        self._keys = (*(k for k in unique if not k.pinned), *pinned)
        self._place(self.size.width)

    def _place(self, width: int) -> None:
        """Give each key its cells: the pinned ones at the right, the others from the
        left while they fit whole."""
        pinned = [k for k in self._keys if k.pinned]
        right = max(0, width - sum(k.cells for k in pinned))
        placed: list[ShownKey] = []
        x = 0
        for key in self._keys:
            if key.pinned:
                continue
            size = key.cells
            fits = x + size <= right
            placed.append(replace(key, x=x, width=size) if fits else replace(key, x=0, width=0))
            x += size if fits else 0
        x = right
        for key in pinned:
            size = key.cells
            fits = x + size <= width
            placed.append(replace(key, x=x, width=size) if fits else replace(key, x=0, width=0))
            x += size if fits else 0
        self._keys = tuple(placed)
        self.refresh()

    # ------------------------------------------------------------------ drawing

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="crop", end="")
        key_style = self.get_component_rich_style("footer-key--key")
        text_style = self.get_component_rich_style("footer-key--description")
        hover = self.get_component_rich_style("footer-key--hover")
        dim = Style(dim=True)
        x = 0
        for shown in sorted(self.shown, key=lambda k: k.x):
            line.append(" " * (shown.x - x))
            extra = (hover if shown == self._hover else Style()) + (
                Style() if shown.enabled else dim
            )
            if shown.action == "command_palette":
                line.append(_DIVIDER, text_style + extra)
            else:
                line.append(" ", key_style + extra)
            line.append(shown.key_display, key_style + extra)
            line.append(" ", (key_style if not shown.description else text_style) + extra)
            if shown.description:
                line.append(f"{shown.description} ", text_style + extra)
            x = shown.x + shown.width
        return line

    # ------------------------------------------------------------------ the mouse

    def key_at(self, x: int) -> ShownKey | None:
        """The key drawn at column ``x`` of the line, if any."""
        return next((k for k in self.shown if k.x <= x < k.x + k.width), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        key = self.key_at(event.x)
        if key != self._hover:
            self._hover = key
            self.tooltip = key.tooltip if key is not None else None
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()

    def on_click(self, event: events.Click) -> None:
        key = self.key_at(event.x)
        if key is None:
            return
        event.stop()
        if key.enabled:
            self.app.simulate_key(key.key)
        else:
            self.app.bell()
