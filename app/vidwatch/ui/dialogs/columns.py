"""The column chooser (``v``): which columns of the table show."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
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

    def __init__(self, choices: tuple[tuple[str, str], ...], hidden: frozenset[str]) -> None:
        super().__init__()
        self.choices = choices
        self.hidden = hidden

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="columns"):
            yield Label("Columns", classes="dialog-title")
            yield PlainSelectionList(
                *[(Text(text), key, key not in self.hidden) for key, text in self.choices],
                id="columns-list",
            )
            yield Static("space toggles · enter keeps · esc cancels", classes="dialog-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_toggle_column(self) -> None:
        self.query_one(SelectionList).action_select()

    def action_done(self) -> None:
        shown = set(self.query_one(SelectionList).selected)
        self.dismiss(frozenset(key for key, _ in self.choices if key not in shown))

    def action_cancel(self) -> None:
        self.dismiss(None)
