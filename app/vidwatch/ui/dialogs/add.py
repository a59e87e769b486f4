"""The add dialog (``a``): task IDs pasted or typed, found in any text, with a label."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    Static,
    TextArea,
)

from vidwatch.core.model.ids import extract_ids, shown
from vidwatch.ui.dialogs.confirm import ConfirmDialog
from vidwatch.ui.widgets.footer import KeyFooter


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
        yield KeyFooter()

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
        """Close, adding nothing; a paste is thrown away only after a yes."""
        typed = self.query_one("#add-ids", TextArea).text.strip()
        if not typed:
            self.dismiss(None)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmDialog("Throw away what you pasted?", "No task was added."), answered
        )
