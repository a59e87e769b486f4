"""The export dialog (``e``): the format and the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Input,
    Label,
    RadioButton,
    RadioSet,
    Static,
)

from vidwatch.ui.widgets.footer import KeyFooter
from vidwatch.ui.widgets.toggles import PlainRadioButton


@dataclass(frozen=True, slots=True)
class ExportRequest:
    fmt: str
    path: str


class ExportDialog(ModalScreen[ExportRequest | None]):
    """Choose a format and a file for ``e`` (the marked tasks, or the current view)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Export", priority=True),
        # The path box has the focus and no use for up and down: they pick the format.
        Binding("up", "format(-1)", "Format", key_display="↑↓"),
        Binding("down", "format(1)", "Next format", show=False),
    ]

    def __init__(self, what: str, folder: str, stem: str) -> None:
        super().__init__()
        self.what = what
        self.folder = folder
        self.stem = stem

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export"):
            yield Label(Text(f"Export {self.what}"), classes="dialog-title")
            with RadioSet(id="export-format"):
                yield PlainRadioButton("CSV (spreadsheets)", value=True, id="fmt-csv")
                yield PlainRadioButton("JSON (scripts)", id="fmt-json")
                yield PlainRadioButton("Markdown (notes, issues)", id="fmt-md")
            yield Input(value=self._path("csv"), id="export-path")
            yield Static(
                "↑ ↓ format · enter (in the path) or ctrl+s to write · esc to cancel",
                classes="dialog-hint",
            )
        yield KeyFooter()

    def _path(self, fmt: str) -> str:
        return f"{self.folder.rstrip('/')}/{self.stem}.{fmt}"

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _format(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return (pressed.id or "fmt-csv").removeprefix("fmt-") if pressed else "csv"

    def action_format(self, step: int) -> None:
        buttons = list(self.query(RadioButton))
        current = self.query_one(RadioSet).pressed_index
        buttons[(max(current, 0) + step) % len(buttons)].value = True

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        box = self.query_one(Input)
        for fmt in ("csv", "json", "md"):
            if box.value.endswith(f".{fmt}"):
                box.value = box.value[: -len(fmt)] + self._format()
                break

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        path = self.query_one(Input).value.strip()
        if path:
            self.dismiss(ExportRequest(self._format(), path))

    def action_cancel(self) -> None:
        self.dismiss(None)
