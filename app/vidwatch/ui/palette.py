"""Every key by name: the help screen's rows and the command palette's commands.

Both are read from the bindings themselves, so a new key shows up in the footer, in
``?`` and in ``ctrl+p`` at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType

from vidwatch.ui.keys import ALTERNATES, MAIN_BINDINGS
from vidwatch.ui.screens.main import MainScreen
from vidwatch.ui.widgets.task_table import TaskTable

__all__ = ["key_help", "palette_commands"]


def key_help(app: App[Any], app_bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(keys, what they do) for every binding, from the bindings themselves."""
    rows: list[tuple[str, str]] = []
    marking = [b for b in TaskTable.BINDINGS if isinstance(b, Binding) and b.tooltip]
    for binding in [*MAIN_BINDINGS, *marking, *app_bindings]:
        assert isinstance(binding, Binding)
        if binding.action in ALTERNATES:
            continue
        keys = ", ".join(app.get_key_display(Binding(k, "")) for k in binding.key.split(","))
        rows.append((keys, binding.tooltip or binding.description))
    rows += [
        ("↑ ↓ j k", "move the cursor; pgup/pgdn and home/end jump"),
        ("tab", "move between the table and the detail pane (scroll a long prompt)"),
        ("ctrl+p", "command palette: every action by name"),
    ]
    return rows


def palette_commands(
    inherited: Iterable[SystemCommand], main: MainScreen, show_keys: Callable[[], object]
) -> Iterable[SystemCommand]:
    """Textual's own commands (its "Keys" replaced by ours, which lists every key, not
    the focused few), then one per main-screen binding."""
    for command in inherited:
        if command.title != "Keys":
            yield command
    for binding in MAIN_BINDINGS:
        assert isinstance(binding, Binding)
        if binding.action in ALTERNATES:
            continue
        action = binding.action
        title = binding.description
        if action == "pause_polling":  # one entry that toggles, named for what it does now
            action = "resume_polling" if main.polling_stopped else action
            title = "Resume" if main.polling_stopped else "Pause"
        yield SystemCommand(
            title, f"{binding.tooltip} ({binding.key.split(',')[0]})", _runner(main, action)
        )
    yield SystemCommand("Keys", "Show every key binding (?)", show_keys)


def _runner(screen: MainScreen, action: str) -> Callable[[], object]:
    async def run() -> None:
        await screen.run_from_palette(action)

    return run
