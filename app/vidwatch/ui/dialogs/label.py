"""The label dialog (``l``): a task's label, edited."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Input,
    Label,
    Static,
)

from vidwatch.ui.widgets.footer import KeyFooter


class LabelDialog(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, task_id: str, label: str) -> None:
        super().__init__()
        self.task_id = task_id
        self.label = label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Edit label", classes="dialog-title")
            yield Static(Text(self.task_id), classes="dialog-hint")
            yield Input(value=self.label, placeholder="Label (empty to clear)", id="label-input")
            yield Static("enter to save · esc to cancel", classes="dialog-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_save(self) -> None:
        self.dismiss(self.query_one(Input).value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
