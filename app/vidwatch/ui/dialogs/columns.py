"""The column chooser (``v``): which columns of the table show.

A ticked column that the table's width leaves no room for (MODEL and COST at 120
columns) says so, as the ticks change: a tick never claims a column that does not show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Label,
    SelectionList,
    Static,
)

from vidwatch.ui.widgets.footer import KeyFooter
from vidwatch.ui.widgets.toggles import PlainSelectionList


class ColumnsDialog(ModalScreen[frozenset[str] | None]):
    """Pick the table's columns (``v``); the choice is remembered."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # space is the list's own key; here too, so the footer names it
        Binding("space", "toggle_column", "Show or hide", priority=True),
        Binding("enter", "done", "Done", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self,
        choices: tuple[tuple[str, str], ...],
        hidden: frozenset[str],
        shown: Callable[[frozenset[str]], frozenset[str]] | None = None,
    ) -> None:
        """``shown(hidden)``: the columns the table would show with ``hidden`` unticked
        (None: every ticked one)."""
        super().__init__()
        self.choices = choices
        self.hidden = hidden
        self.shown = shown

    def _prompts(self, hidden: frozenset[str]) -> list[Text]:
        """Each column's words; a ticked one without room says so after its name."""
        fits = self.shown(hidden) if self.shown is not None else None
        prompts = []
        for key, text in self.choices:
            if fits is not None and key not in hidden and key not in fits:
                name, sep, rest = text.partition(":")
                text = f"{name} (no room at this width){sep}{rest}"
            prompts.append(Text(text))
        return prompts

    def compose(self) -> ComposeResult:
        prompts = self._prompts(self.hidden)
        with Vertical(classes="dialog", id="columns"):
            yield Label("Columns", classes="dialog-title")
            yield PlainSelectionList(
                *[
                    (prompt, key, key not in self.hidden)
                    for prompt, (key, _) in zip(prompts, self.choices, strict=True)
                ],
                id="columns-list",
            )
            yield Static("space toggles · enter keeps · esc cancels", classes="dialog-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    @on(SelectionList.SelectedChanged)
    def _ticks_changed(self) -> None:
        if self.shown is None:
            return
        choices = self.query_one(SelectionList)
        ticked = set(choices.selected)
        hidden = frozenset(key for key, _ in self.choices if key not in ticked)
        for index, prompt in enumerate(self._prompts(hidden)):
            if str(choices.get_option_at_index(index).prompt) != prompt.plain:
                choices.replace_option_prompt_at_index(index, prompt)

    def action_toggle_column(self) -> None:
        self.query_one(SelectionList).action_select()

    def action_done(self) -> None:
        shown = set(self.query_one(SelectionList).selected)
        self.dismiss(frozenset(key for key, _ in self.choices if key not in shown))

    def action_cancel(self) -> None:
        self.dismiss(None)
