"""The task table's columns: which there are, which fit a width, what each shows.

Pure functions, no widget: :func:`layout` picks the columns for a width (dropping the
least important on a narrow screen, the prompt taking what is left); :func:`row_cells`
says what each column shows for one task and in which style; :func:`strip_of` draws a
row of cells as one line, each text cut to its column. The
:class:`~vidwatch.ui.widgets.task_table.TaskTable` widget decides which rows are on screen and
the row's base style (cursor, flash, marked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from vidwatch.core.model.records import State, TaskRecord
from vidwatch.core.model.wording import state_text
from vidwatch.core.money.wording import cost_cell
from vidwatch.core.polling.scheduler import Eta
from vidwatch.core.text.sanitize import clean_line
from vidwatch.core.text.wording import relative
from vidwatch.ui.widgets.rows import (
    SortKey,
    eta_text,
    next_text,
    prompt_line,
    sorted_title,
    task_name,
    video_url,
)

__all__ = [
    "OPTIONAL_COLUMNS",
    "Cell",
    "Column",
    "empty_hint",
    "header_cells",
    "header_info",
    "layout",
    "row_cells",
    "strip_of",
]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int


MODEL_WIDTH = 12  # grok-video-3, sora-2-pro, veo3.1-fast: longer names are cut

# The columns a user may hide (``v``), in the order they appear.
OPTIONAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "MODEL: what made the job (the request's, or the ID's model part)"),
    ("age", "AGE: since the task was added"),
    ("updated", "UPDATED: since the server last changed its status"),
    ("checked", "CHECKED: since vidwatch last asked"),
    ("next", "NEXT: when vidwatch asks again"),
    ("eta", "ETA: time left, from how long jobs like it take"),
    ("cost", "COST: what the job cost, from the gateway's request log (! failed, charged)"),
    ("prompt", "PROMPT: the first line of the enhanced prompt"),
)


TASK_MIN = 14  # the narrowest TASK column: "demo 01 grok", "grok:d23f082…"
PROMPT_MIN = 10  # the prompt's room that TASK narrows for
PROMPT_ROOMY = 16  # the prompt's room that COST and MODEL leave it, or are not shown


def layout(width: int, hidden: frozenset[str] = frozenset()) -> list[Column]:
    """Columns that fit ``width``; the prompt takes what is left."""
    columns = [
        Column("mark", " ", 2),
        Column("task", "TASK", 26),
        Column("state", "STATE", 14),
        Column("model", "MODEL", MODEL_WIDTH),
        Column("age", "AGE", 5),
        Column("updated", "UPDATED", 8),
        Column("checked", "CHECKED", 8),
        Column("next", "NEXT", 7),
        Column("eta", "ETA", 6),
        Column("cost", "COST", 7),
    ]
    columns = [c for c in columns if c.key not in hidden]
    # A ticked column shows whenever it fits: TASK narrows first (to leave the prompt
    # PROMPT_MIN if it can), the prompt takes what is left; the least important go
    # only when they cannot fit at all. COST and MODEL (on by default; the model is
    # also the ID's own prefix in TASK) show only where the prompt keeps its room.
    room = width - PROMPT_MIN if "prompt" not in hidden else width
    roomy_room = width - PROMPT_ROOMY if "prompt" not in hidden else width
    fitted = _narrow(columns, "task", TASK_MIN, room)
    for roomy in ("cost", "model"):
        if sum(c.width + 1 for c in fitted) <= roomy_room:
            break
        columns = [c for c in columns if c.key != roomy]
        fitted = _narrow(columns, "task", TASK_MIN, room)
    columns = fitted
    for drop in ("next", "checked", "eta", "age", "updated"):
        if sum(c.width + 1 for c in columns) <= width:
            break
        columns = [c for c in columns if c.key != drop]
    if "prompt" not in hidden:
        used = sum(c.width + 1 for c in columns)
        columns.append(Column("prompt", "PROMPT", max(width - used, 0)))
    return columns


def _narrow(columns: list[Column], key: str, least: int, width: int) -> list[Column]:
    """``columns`` with column ``key`` narrowed (down to ``least``) until they fit."""
    over = sum(c.width + 1 for c in columns) - width
    if over <= 0:
        return columns
    return [
        Column(c.key, c.title, max(c.width - over, least)) if c.key == key else c for c in columns
    ]


Cell = tuple[Column, str, Style]


def row_cells(
    record: TaskRecord,
    columns: list[Column],
    now: datetime,
    base: Style,
    style: Callable[[str], Style],
    marked: bool,
    *,
    next_check: Callable[[str], datetime | None] | None = None,
    eta: Callable[[str], Eta | None] | None = None,
) -> list[Cell]:
    """One task's cells: ``base`` is the row's style, ``style`` gives a component's."""
    result = record.result
    state_class = result.shown_state.value
    state_style = base + style(f"task-table--{state_class}")
    muted = base + style("task-table--muted")
    cells: list[Cell] = []
    for column in columns:
        key = column.key
        if key == "mark":
            if record.task.saved_to:
                sign = "◆"  # the video is on disk
            elif result.state is State.SUCCEEDED and video_url(record):
                sign = "●"  # a URL is ready
            else:
                sign = " "
            cells.append((column, ("■" if marked else " ") + sign, base + style("task-table--url")))
        elif key == "task":
            cells.append((column, task_name(record, column.width), base))
        elif key == "state":
            cells.append((column, state_text(record), state_style))
        elif key == "model":
            cells.append((column, clean_line(record.model, 80) or "–", muted))
        elif key == "age":
            cells.append((column, relative(record.task.added_at, now), muted))
        elif key == "updated":
            cells.append((column, relative(result.status_update_time, now), muted))
        elif key == "checked":
            cells.append((column, relative(result.checked_at, now), muted))
        elif key == "next":
            due = next_check(record.id) if next_check else None
            cells.append((column, next_text(due, now), muted))
        elif key == "eta":
            known = eta(record.id) if eta and result.state is State.RUNNING else None
            late = known is not None and known.late
            cells.append(
                (column, eta_text(known), base + style("task-table--late") if late else muted)
            )
        elif key == "cost":
            flagged = record.charged_failed
            cost_style = base + style("task-table--problem") if flagged else muted
            cells.append((column, cost_cell(record), cost_style))
        elif result.error and not result.final:  # a problem stands: it matters more
            problem = base + style("task-table--problem")
            cells.append((column, f"! {result.error}", problem))
        else:
            cells.append((column, prompt_line(record), base))
    return cells


def header_info(shown: int, total: int, marked: int, sort_key: SortKey) -> str:
    """What the header says at its right end: ``12/40 · 3 marked · sort: state``."""
    info = f"{shown}/{total}" if shown != total else f"{total}"
    if marked:
        info += f" · {marked} marked"
    return info + f" · sort: {sort_key.value} "


def header_cells(
    columns: list[Column], info: str, style: Style, sorted_by: tuple[str, str] = ("", "")
) -> list[Cell]:
    """The column titles, the sorted one marked with its arrow (``sorted_by``: the
    column's key and the arrow), with ``info`` at the right of the last one when it fits."""
    key, arrow = sorted_by
    cells = [
        (c, sorted_title(c.title, c.width, arrow if c.key == key else ""), style) for c in columns
    ]
    last, title, _ = cells[-1]
    if last.width >= len(title) + len(info) + 2:
        padding = last.width - len(title) - len(info)
        cells[-1] = (last, title + " " * padding + info, style)
    return cells


def empty_hint(has_tasks: bool, filter_problem: str | None, filter_text: str) -> str:
    """What an empty table says instead of rows."""
    if has_tasks and filter_problem:
        return "  No task matches the finished part of the filter (see the box below)."
    if has_tasks:
        return f"  No task matches {filter_text.strip()!r}. Press esc to clear the filter."
    return "  No tasks yet. Press a to add task IDs, or run: vidwatch add ID…"


def strip_of(cells: list[Cell], width: int, fill: Style) -> Strip:
    """The cells as one line ``width`` wide: each text cut (``…``) or padded to its column."""
    segments: list[Segment] = []
    for column, text, style in cells:
        if column.width <= 0:
            continue
        if cell_len(text) > column.width:
            # rstrip: a wide character cut in half leaves a space before the "…"
            text = set_cell_size(text, column.width - 1).rstrip(" ") + "…"
        segments.append(Segment(set_cell_size(text, column.width), style))
        segments.append(Segment(" ", fill))
    return Strip(segments).crop_extend(0, width, fill)
