"""The task table: a line-API widget that renders only the rows on screen.

Rows are keyed by task ID. Updates, sorting and filtering keep the cursor on the
same task; marks (``space``) survive them too. Server text is drawn as plain
segments: never parsed as markup, and cleaned of escape sequences by the core
before it got here.

The widget keeps the rows in view (filtered, sorted, counted), the cursor and the
marks; what each column shows is :mod:`vidwatch.ui.widgets.columns`, its keys are
:data:`vidwatch.ui.keys.TABLE_BINDINGS`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from vidwatch.core.model.query import QueryError, parse_query, parse_usable, search_text
from vidwatch.core.model.records import State, TaskRecord, utcnow
from vidwatch.core.polling.scheduler import Eta
from vidwatch.ui.keys import TABLE_BINDINGS
from vidwatch.ui.widgets.columns import (
    Column,
    empty_hint,
    header_cells,
    header_info,
    layout,
    row_cells,
    strip_of,
)
from vidwatch.ui.widgets.rows import SortKey, sort_ids, sort_value

FLASH_SECONDS = 1.5


class TaskTable(ScrollView, can_focus=True):
    """One row per task; only visible rows are rendered."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "task-table--header",
        "task-table--cursor",
        "task-table--flash",
        "task-table--marked",
        "task-table--new",
        "task-table--queued",
        "task-table--running",
        "task-table--succeeded",
        "task-table--failed",
        "task-table--unknown",
        "task-table--muted",
        "task-table--url",
        "task-table--late",
        "task-table--problem",
    }

    BINDINGS: ClassVar[list[BindingType]] = TABLE_BINDINGS

    class Highlighted(Message):
        """The cursor moved to another task (``None`` when the view is empty)."""

        def __init__(self, table: TaskTable, task_id: str | None) -> None:
            super().__init__()
            self.table = table
            self.task_id = task_id

        @property
        def control(self) -> TaskTable:
            return self.table

    class MarksChanged(Message):
        """Tasks were marked or unmarked; ``count`` is how many are marked now."""

        def __init__(self, table: TaskTable, count: int) -> None:
            super().__init__()
            self.table = table
            self.count = count

        @property
        def control(self) -> TaskTable:
            return self.table

    def __init__(
        self,
        *,
        next_check: Callable[[str], datetime | None] | None = None,
        eta: Callable[[str], Eta | None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.next_check = next_check
        self.eta = eta
        self.clock = clock
        self.records: dict[str, TaskRecord] = {}
        self.marked: set[str] = set()
        self.hidden: frozenset[str] = frozenset()
        self._hay: dict[str, str] = {}
        self._view: list[str] = []
        self._pos: dict[str, int] = {}
        self._cursor = 0
        self._cursor_id: str | None = None
        self._flash: dict[str, float] = {}
        self._counts: Counter[State] = Counter()
        self._fresh = 0
        self._styles: dict[tuple[str, bool], Style] = {}
        self.sort_key = SortKey.ADDED
        self.filter_query = parse_query("")
        self.filter_problem: str | None = None  # the filter being typed does not parse

    # ------------------------------------------------------------------ data

    @property
    def filter_text(self) -> str:
        return self.filter_query.text

    @property
    def row_count(self) -> int:
        return len(self._view)

    @property
    def view_ids(self) -> list[str]:
        return list(self._view)

    @property
    def visible_records(self) -> list[TaskRecord]:
        return [self.records[i] for i in self._view]

    @property
    def marked_records(self) -> list[TaskRecord]:
        """Marked tasks, in view order first, then any filtered out of view."""
        in_view = [self.records[i] for i in self._view if i in self.marked]
        hidden = [r for i, r in self.records.items() if i in self.marked and i not in self._pos]
        return in_view + hidden

    @property
    def cursor_id(self) -> str | None:
        return self._cursor_id

    @property
    def cursor_index(self) -> int:
        """The cursor's position in the view."""
        return self._cursor

    @property
    def cursor_record(self) -> TaskRecord | None:
        return self.records.get(self._cursor_id) if self._cursor_id else None

    def set_records(self, records: Iterable[TaskRecord]) -> None:
        self.records = {r.id: r for r in records}
        self._hay = {}
        self._counts = Counter()
        self._fresh = 0
        for record in self.records.values():
            self._count(record, 1)
        self.marked &= set(self.records)
        self._rebuild()

    def upsert(self, records: Sequence[TaskRecord], flash: Iterable[str] = ()) -> None:
        """Add or replace rows by key; the cursor stays on its task.

        Rows whose place in the view cannot have changed (same sort position, same
        answer to the filter) are redrawn where they stand: at 500 updates a second
        the view is not rebuilt for a progress figure.
        """
        if not records:
            return
        rebuild = False
        filtering = not self.filter_query.empty
        now = self.clock()
        for record in records:
            old = self.records.get(record.id)
            if old is None:
                rebuild = True
            else:
                self._count(old, -1)
                if sort_value(old, self.sort_key) != sort_value(record, self.sort_key):
                    rebuild = True
            self._count(record, 1)
            self.records[record.id] = record
            self._hay.pop(record.id, None)
            if filtering and not rebuild:
                shown = record.id in self._pos
                rebuild = shown != self.filter_query.matches(record, self._haystack(record.id), now)
        flashed = list(flash)
        if flashed:
            until = time.monotonic() + FLASH_SECONDS
            for task_id in flashed:
                self._flash[task_id] = until
            self.set_timer(FLASH_SECONDS + 0.05, lambda: self._refresh_rows(flashed))
        if rebuild:
            self._rebuild()
        else:
            self._refresh_rows(r.id for r in records)

    def _haystack(self, task_id: str) -> str:
        hay = self._hay.get(task_id)
        if hay is None:
            hay = self._hay[task_id] = search_text(self.records[task_id])
        return hay

    def _refresh_rows(self, ids: Iterable[str]) -> None:
        """Redraw just these rows, where they are on screen."""
        top = int(self.scroll_y)
        bottom = top + self._rows_shown
        for task_id in ids:
            index = self._pos.get(task_id)
            if index is not None and top <= index < bottom:
                self.refresh_line(index + 1)  # line 0 is the header

    def _count(self, record: TaskRecord, sign: int) -> None:
        if record.result.checked_at is None:
            self._fresh += sign
        else:
            self._counts[record.result.state] += sign

    def state_counts(self) -> tuple[tuple[State, int], ...]:
        """Checked tasks per state (zeros left out), kept up to date row by row."""
        return tuple(sorted((s, n) for s, n in self._counts.items() if n))

    @property
    def fresh(self) -> int:
        """Tasks not checked yet."""
        return self._fresh

    def remove_rows(self, ids: Iterable[str]) -> None:
        for task_id in ids:
            record = self.records.pop(task_id, None)
            if record is not None:
                self._count(record, -1)
            self._hay.pop(task_id, None)
            self.marked.discard(task_id)
        self._rebuild()
        self._marks_changed()

    def set_filter(self, text: str) -> None:
        """Filter with the query language (``state:failed age:<1h cow``).

        Raises :class:`~vidwatch.core.model.query.QueryError` for text that does not parse, after
        filtering by the terms that do.
        """
        try:
            query = parse_query(text)
        except QueryError as exc:
            # Half typed (age:<5 on the way to age:<5m): filter by the terms that parse.
            self.filter_problem = str(exc)
            self.filter_query = parse_usable(text)
            self._rebuild()
            raise
        self.filter_problem = None
        self.filter_query = query
        self._rebuild()

    def set_sort(self, key: SortKey) -> None:
        self.sort_key = key
        self._rebuild()

    def set_hidden(self, hidden: Iterable[str]) -> None:
        self.hidden = frozenset(hidden)
        self.refresh()

    def move_to(self, task_id: str) -> bool:
        index = self._pos.get(task_id)
        if index is None:
            return False
        self._set_cursor(index)
        return True

    def _rebuild(self) -> None:
        ids: Iterable[str] = self.records
        if not self.filter_query.empty:
            now = self.clock()
            matches = self.filter_query.matches
            records = self.records
            ids = [i for i in records if matches(records[i], self._haystack(i), now)]
        self._view = sort_ids(self.records, ids, self.sort_key)
        self._pos = {task_id: i for i, task_id in enumerate(self._view)}
        self._size_virtually()
        keep = self._cursor_id
        if keep is not None and keep in self._pos:
            self._set_cursor(self._pos[keep])
        else:
            self._set_cursor(min(self._cursor, max(len(self._view) - 1, 0)))
        self.refresh()

    # ------------------------------------------------------------------ marks

    def action_mark(self) -> None:
        """Mark (or unmark) the highlighted task and move on."""
        task_id = self._cursor_id
        if task_id is None:
            return
        if task_id in self.marked:
            self.marked.discard(task_id)
        else:
            self.marked.add(task_id)
        self._marks_changed()
        self.refresh_line(self._cursor + 1)
        self.action_cursor(1)

    def action_mark_range(self, delta: int) -> None:
        """Extend the marks: mark this task and the next one up or down."""
        if self._cursor_id is None:
            return
        self.marked.add(self._cursor_id)
        self.refresh_line(self._cursor + 1)
        self.action_cursor(delta)
        if self._cursor_id is not None:
            self.marked.add(self._cursor_id)
            self.refresh_line(self._cursor + 1)
        self._marks_changed()

    def action_mark_all(self) -> None:
        """Mark every task in the view; if all are marked already, unmark them."""
        in_view = set(self._view)
        if in_view and in_view <= self.marked:
            self.marked -= in_view
        else:
            self.marked |= in_view
        self._marks_changed()
        self.refresh()

    def clear_marks(self) -> bool:
        if not self.marked:
            return False
        self.marked.clear()
        self._marks_changed()
        self.refresh()
        return True

    def _marks_changed(self) -> None:
        self.post_message(self.MarksChanged(self, len(self.marked)))

    # ------------------------------------------------------------------ cursor

    def _set_cursor(self, index: int) -> None:
        count = len(self._view)
        index = max(0, min(index, count - 1)) if count else 0
        previous = self._cursor
        self._cursor = index
        task_id = self._view[index] if count else None
        changed = task_id != self._cursor_id
        self._cursor_id = task_id
        top = self.scroll_y
        self._scroll_to_cursor()
        if self.scroll_y == top:  # no scroll: only the two rows the cursor left and entered
            self.refresh_line(previous + 1)
            self.refresh_line(index + 1)
        else:
            self.refresh()
        if changed:
            self.post_message(self.Highlighted(self, task_id))

    def _scroll_to_cursor(self) -> None:
        height = self._rows_shown
        top = int(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self._set_cursor(self._cursor + delta)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self._cursor + direction * max(self._rows_shown - 1, 1))

    def action_edge(self, end: int) -> None:
        self._set_cursor(len(self._view) - 1 if end else 0)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._set_cursor(int(self.scroll_y) + event.y - 1)

    def on_resize(self, event: events.Resize) -> None:
        self._size_virtually()
        self._scroll_to_cursor()

    def _size_virtually(self) -> None:
        # As wide as the space beside the scrollbar: rows never scroll sideways, so a
        # vertical scrollbar never brings a horizontal one that hides the last row.
        self.virtual_size = Size(self._width, len(self._view) + 1)

    @property
    def _width(self) -> int:
        return self.scrollable_content_region.width

    def shown_columns(self, hidden: frozenset[str]) -> frozenset[str]:
        """The columns this table would show with ``hidden`` hidden, at its width."""
        return frozenset(c.key for c in layout(self._width, hidden))

    @property
    def _rows_shown(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)  # the header is fixed

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        width = self._width
        columns = layout(width, self.hidden)
        if y == 0:
            return self._header(columns, width)
        index = int(self.scroll_y) + y - 1
        if index >= len(self._view):
            if y == 2 and not self._view:
                return self._empty_hint(width)
            return Strip.blank(width, self._style(""))
        task_id = self._view[index]
        return self._row(self.records[task_id], index, columns, width)

    def _header(self, columns: list[Column], width: int) -> Strip:
        style = self._style("task-table--header", False)
        info = header_info(len(self._view), len(self.records), len(self.marked), self.sort_key)
        return strip_of(header_cells(columns, info, style, self.sort_key.column), width, style)

    def _empty_hint(self, width: int) -> Strip:
        text = empty_hint(bool(self.records), self.filter_problem, self.filter_text)
        return Strip([Segment(text, self._style("task-table--muted"))]).crop_extend(
            0, width, self._style("")
        )

    def _style(self, component: str, partial: bool = True) -> Style:
        """A component style, computed once per theme (rows ask for them 8 times each)."""
        key = (component, partial)
        style = self._styles.get(key)
        if style is None:
            if component:
                style = self.get_component_rich_style(component, partial=partial)
            else:
                style = self.rich_style
            self._styles[key] = style
        return style

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda: self._styles.clear(), init=False)

    def _row(self, record: TaskRecord, index: int, columns: list[Column], width: int) -> Strip:
        now = self.clock()
        style = self._style
        base = style("")
        marked = record.id in self.marked
        if index == self._cursor:
            base = base + style("task-table--cursor", False)
        elif self._flash.get(record.id, 0.0) > time.monotonic():
            base = base + style("task-table--flash", False)
        elif marked:
            base = base + style("task-table--marked", False)
        cells = row_cells(
            record, columns, now, base, style, marked, next_check=self.next_check, eta=self.eta
        )
        return strip_of(cells, width, base)
