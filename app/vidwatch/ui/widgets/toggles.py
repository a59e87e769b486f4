"""Choices whose on/off state reads without colour.

Textual draws every radio button as ``▐●▌`` and every selection-list box as ``▐X▌``,
on or off alike, and tells them apart by colour only: in a plain capture, a terminal
without colour, or to a colour-blind user, every option looks chosen. Here an option
that is on shows its mark (``●``, ``X``) and one that is off an empty box (``▐ ▌``).
"""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import RadioButton, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

__all__ = ["OFF", "PlainRadioButton", "PlainSelectionList"]

OFF = " "  # the inside of a box that is off


class PlainRadioButton(RadioButton):
    """A radio button whose dot shows only when it is on."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._mark()

    def _mark(self) -> None:
        self.BUTTON_INNER = RadioButton.BUTTON_INNER if self.value else OFF

    def watch_value(self) -> None:
        super().watch_value()
        self._mark()


class PlainSelectionList(SelectionList[str]):
    """A selection list whose boxes are marked only when selected."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        # the box drawn before the option: a toggle button's sides, as a radio button's
        if len(segments) < 3 or segments[0].text != RadioButton.BUTTON_LEFT:
            return strip
        try:
            option = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:  # past the last option
            return strip
        if option.value in self.selected:
            return strip
        inner = segments[1]
        segments[1] = Segment(OFF * len(inner.text), inner.style, inner.control)
        return Strip(segments, strip.cell_length)
