"""Modal screens: add IDs, edit a label, confirm removal, help, export, columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    RadioButton,
    RadioSet,
    SelectionList,
    Static,
    TextArea,
)

from vidwatch.core.model.ids import extract_ids, shown


@dataclass(frozen=True, slots=True)
class AddRequest:
    ids: tuple[str, ...]
    rejected: tuple[tuple[str, str], ...]  # (what was left out, why)
    label: str


def parse_add(text: str, label: str, *, anyway: bool = False) -> AddRequest:
    """The IDs in a paste (:func:`~vidwatch.core.model.ids.extract_ids`). ``anyway`` adds the
    tokens that do not look like IDs too (the user was asked, and said yes)."""
    found = extract_ids(text)
    ids = list(found.ids)
    rejected: list[tuple[str, str]] = []
    for item in found.ignored:
        if anyway and item.addable:
            ids.append(item.candidate)
        else:
            rejected.append((item.text, item.reason))
    return AddRequest(tuple(dict.fromkeys(ids)), tuple(rejected), label.strip())


class AddDialog(ModalScreen[AddRequest | None]):
    """Paste any number of IDs (whitespace, commas or newlines between them)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Add", priority=True),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label("Add task IDs", classes="dialog-title")
            yield Static(
                "Paste IDs (spaces, commas or new lines between them), the JSON a create "
                "call answered, or links with ?id=.",
                classes="dialog-hint",
            )
            yield TextArea(id="add-ids", soft_wrap=True, show_line_numbers=False)
            yield Input(placeholder="Label (optional)", id="add-label")
            yield Static(id="add-preview", classes="dialog-hint", markup=False)
            anyway = Checkbox("Also add what does not look like a task ID", id="add-anyway")
            anyway.display = False  # shown only when the paste holds such tokens
            yield anyway
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add  ctrl+s", variant="primary", id="add-ok")
                yield Button("Cancel  esc", id="add-cancel")

    def on_mount(self) -> None:
        self.query_one("#add-ids", TextArea).focus()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        found = extract_ids(event.text_area.text)
        preview = f"{len(found.ids)} ID(s) to add"
        if found.ignored:
            first = found.ignored[0]
            count = len(found.ignored)
            preview += f"; {count} left out (first: {shown(first.text, 40)}: {first.reason})"
        self.query_one("#add-preview", Static).update(Text(preview))
        self.query_one("#add-anyway", Checkbox).display = any(i.addable for i in found.ignored)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add-ok":
            self.action_submit()
        else:
            self.action_cancel()

    def action_submit(self) -> None:
        text = self.query_one("#add-ids", TextArea).text
        label = self.query_one("#add-label", Input).value
        anyway = self.query_one("#add-anyway", Checkbox)
        self.dismiss(parse_add(text, label, anyway=anyway.display and anyway.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class LabelDialog(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

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

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.question), classes="dialog-title")
            if self.detail:
                yield Static(Text(self.detail), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes  y", variant="error", id="yes")
                yield Button("No  n", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold", no_wrap=True)
        table.add_column(ratio=1)
        for keys, description in self.rows:
            table.add_row(Text(keys), Text(description))
        with Vertical(classes="dialog", id="help"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll():
                yield Static(table)
            yield Static("ctrl+p opens the command palette · esc closes", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)


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
        Binding("up", "format(-1)", "Previous format", show=False),
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
                yield RadioButton("CSV (spreadsheets)", value=True, id="fmt-csv")
                yield RadioButton("JSON (scripts)", id="fmt-json")
                yield RadioButton("Markdown (notes, issues)", id="fmt-md")
            yield Input(value=self._path("csv"), id="export-path")
            yield Static(
                "↑ ↓ format · enter (in the path) or ctrl+s to write · esc to cancel",
                classes="dialog-hint",
            )

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


class ColumnsDialog(ModalScreen[frozenset[str] | None]):
    """Pick the table's columns (``v``); the choice is remembered."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "done", "Done", priority=True),
    ]

    def __init__(self, choices: tuple[tuple[str, str], ...], hidden: frozenset[str]) -> None:
        super().__init__()
        self.choices = choices
        self.hidden = hidden

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="columns"):
            yield Label("Columns", classes="dialog-title")
            yield SelectionList[str](
                *[(Text(text), key, key not in self.hidden) for key, text in self.choices],
                id="columns-list",
            )
            yield Static("space toggles · enter keeps · esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_done(self) -> None:
        shown = set(self.query_one(SelectionList).selected)
        self.dismiss(frozenset(key for key, _ in self.choices if key not in shown))

    def action_cancel(self) -> None:
        self.dismiss(None)
