"""The dashboard's keys: the main screen's, one list that the footer, the help screen
and the command palette all read; the task table's own (moving, marking); and which key
helps with a task's problem (the record keeps only what happened: :func:`problem_help`)."""

from __future__ import annotations

import dataclasses

from textual.binding import Binding, BindingType

from vidwatch.core.model.records import Problem
from vidwatch.core.model.wording import problem_advice

__all__ = ["ALTERNATES", "MAIN_BINDINGS", "TABLE_BINDINGS", "TYPED_ACTIONS", "problem_help"]

_KEYS: list[BindingType] = [
    Binding("a", "add", "Add", tooltip="Add task IDs (paste many at once; optional label)"),
    Binding("n", "new_job", "New job", tooltip="Create a job (asks before it costs money)"),
    Binding(
        "N",
        "again",
        "Again",
        tooltip="Create the highlighted task's job again (the dialog, prefilled)",
    ),
    Binding(
        "c",
        "copy",
        "Copy URL",
        tooltip="Copy the video URL of the highlighted task (or of every marked one)",
    ),
    Binding(
        "C",
        "copy_all",
        "Copy all",
        tooltip="Copy every finished URL in the current view, one per line",
    ),
    Binding("o", "open", "Open", tooltip="Open the video URL in a browser (copies it over SSH)"),
    Binding(
        "D",
        "download",
        "Download",
        tooltip="Download the video of the highlighted task (or of every marked one)",
    ),
    Binding("r", "refresh", "Refresh", tooltip="Check the highlighted task (or the marked) now"),
    Binding(
        "R", "refresh_all", "Refresh all", show=False, tooltip="Check every unfinished task now"
    ),
    Binding(
        "p",
        "pause_polling",
        "Pause",
        tooltip=(
            "Pause or resume polling (after a rejected key or a wrong base URL: retry, "
            "re-reading the config)"
        ),
    ),
    # The same key once polling is paused (or waits for a key): the footer says so.
    Binding("p", "resume_polling", "Resume", tooltip="Resume polling"),
    Binding(
        "d,delete",
        "remove",
        "Remove",
        tooltip="Stop watching the highlighted task, or the marked ones (asks first)",
    ),
    Binding(
        "slash",
        "filter",
        "Filter",
        tooltip="Filter: words, state:failed, age:<1h, label:cow, -state:succeeded",
    ),
    Binding(
        "escape",
        "clear_filter",
        "Clear",
        show=False,
        tooltip="Clear the filter, then the marks",
    ),
    Binding("s", "sort", "Sort", tooltip="Cycle the sort: added, state, updated"),
    Binding("l", "label", "Label", show=False, tooltip="Edit the highlighted task's label"),
    Binding(
        "e",
        "export",
        "Export",
        show=False,
        tooltip="Export the marked tasks (or the view) as CSV, JSON or Markdown",
    ),
    Binding("v", "columns", "Columns", show=False, tooltip="Choose the table's columns"),
    Binding(
        "enter",
        "closer_look",
        "Look",
        show=False,
        tooltip="A closer look at a finished job: its still, a filmstrip, its facts",
    ),
]
# Priority bindings run as the app receives the key, before the keys typed after it are
# routed: a paste or type-ahead after / or a lands in the box that opens, never on the
# table (where d would ask to remove). Escape stays ordinary; while the filter box has
# the focus, check_action hands every letter to it.
MAIN_BINDINGS: list[BindingType] = [
    dataclasses.replace(b, priority=True) if isinstance(b, Binding) and b.key != "escape" else b
    for b in _KEYS
]
# Actions a letter typed into the filter box must not start.
TYPED_ACTIONS = frozenset(b.action for b in MAIN_BINDINGS if isinstance(b, Binding) and b.priority)
# Bindings that share a key with the one listed in help and the palette.
ALTERNATES = frozenset({"resume_polling"})

# The task table's own keys: moving, and marking tasks for the actions that take many.
TABLE_BINDINGS: list[BindingType] = [
    Binding("up,k", "cursor(-1)", "Up", show=False),
    Binding("down,j", "cursor(1)", "Down", show=False),
    Binding("pageup", "page(-1)", "Page up", show=False),
    Binding("pagedown", "page(1)", "Page down", show=False),
    Binding("home,g", "edge(0)", "First", show=False),
    Binding("end,G", "edge(1)", "Last", show=False),
    Binding("space", "mark", "Mark", show=False, tooltip="Mark or unmark the task, move on"),
    Binding(
        "shift+down",
        "mark_range(1)",
        "Mark down",
        show=False,
        tooltip="Mark this task and the next (shift+↑: the one above)",
    ),
    Binding("shift+up", "mark_range(-1)", "Mark up", show=False),
    Binding(
        "asterisk",
        "mark_all",
        "Mark all",
        show=False,
        tooltip="Mark every task in the view (again: unmark them)",
    ),
]

# The key that helps with a problem, said after the advice the core gives (p re-reads the
# config and polls again; r asks about the task now).
_PROBLEM_KEYS: dict[Problem, str] = {
    Problem.AUTH: "Then press p to retry.",
    Problem.WRONG_URL: "Then press p to retry.",
    Problem.NOT_FOUND: "Press r to ask again.",
    Problem.NO_URL: "Press r to check now.",
}


def problem_help(problem: Problem) -> str:
    """What to do about ``problem`` in the dashboard: the core's advice, then the key."""
    key = _PROBLEM_KEYS.get(problem)
    advice = problem_advice(problem)
    return f"{advice} {key}" if key else advice
