"""The task table widget in a bare app: keyed rows, cursor, sort, filter, literal text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from textual.app import App, ComposeResult
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult
from vidwatch.core.model.wording import state_text
from vidwatch.core.text.wording import relative
from vidwatch.ui.widgets.columns import layout
from vidwatch.ui.widgets.rows import SortKey, next_text, sort_ids
from vidwatch.ui.widgets.task_table import TaskTable

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def rec(
    task_id: str,
    state: State | None = None,
    *,
    label: str = "",
    prompt: str | None = None,
    updated: int = 0,
    url: str | None = None,
    minutes: int = 0,
) -> TaskRecord:
    result = TaskResult()
    if state is not None:
        result = TaskResult(
            state=state,
            status=state.value,
            video_url=url,
            enhanced_prompt=prompt,
            status_update_time=T0 + timedelta(seconds=updated),
            checked_at=T0,
        )
    return TaskRecord(Task(task_id, T0 + timedelta(minutes=minutes), label), result)


class TableApp(App[None]):
    def __init__(self, records: list[TaskRecord]) -> None:
        super().__init__()
        self.records = records
        self.highlights: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield TaskTable(clock=lambda: T0 + timedelta(minutes=5))

    def on_mount(self) -> None:
        table = self.query_one(TaskTable)
        table.set_records(self.records)
        table.focus()

    def on_task_table_highlighted(self, event: TaskTable.Highlighted) -> None:
        self.highlights.append(event.task_id)


def lines(table: TaskTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


@pytest.mark.ui
async def test_cursor_stays_on_its_task_while_rows_change() -> None:
    app = TableApp([rec(f"t{i}", State.RUNNING, updated=i) for i in range(30)])
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(TaskTable)
        for _ in range(5):
            await pilot.press("down")
        assert table.cursor_id == "t5"
        table.upsert([rec("new-first", State.QUEUED)])  # appended (sort: added)
        table.set_sort(SortKey.UPDATED)  # t29 first … t0 last
        assert table.cursor_id == "t5"
        assert table.view_ids.index("t5") == 24 - 0  # newest first; new-first has T0+0
        table.upsert([rec("t5", State.SUCCEEDED, updated=100, url="https://v/5")], flash=["t5"])
        assert table.cursor_id == "t5"
        assert table.view_ids[0] == "t5"
        table.set_filter("t1")  # t1, t10 … t19: the cursor's task is filtered out
        assert "t5" not in table.view_ids
        assert table.cursor_id in table.view_ids  # the cursor lands on a row that is there
        table.set_filter("")
        table.move_to("t5")
        assert table.cursor_id == "t5"
        table.remove_rows(["t4", "t6"])
        assert table.cursor_id == "t5"


@pytest.mark.ui
async def test_keys_move_the_cursor_and_announce() -> None:
    app = TableApp([rec(f"t{i}", State.QUEUED) for i in range(100)])
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(TaskTable)
        await pilot.press("j", "j", "k")
        assert table.cursor_id == "t1"
        await pilot.press("end")
        assert table.cursor_id == "t99"
        assert any("t99" in line for line in lines(table))  # scrolled into view
        await pilot.press("home")
        assert table.cursor_id == "t0"
        await pilot.press("pagedown")
        assert table.cursor_id is not None
        assert int(table.cursor_id[1:]) >= 9
        await pilot.pause()
        assert app.highlights[-1] == table.cursor_id


@pytest.mark.ui
async def test_only_visible_rows_are_rendered_and_header_stays() -> None:
    app = TableApp([rec(f"task-{i}", State.RUNNING) for i in range(5000)])
    async with app.run_test(size=(100, 10)) as pilot:
        table = app.query_one(TaskTable)
        await pilot.press("end")
        shown = lines(table)
        assert shown[0].lstrip().startswith("TASK")
        assert "task-4999" in "".join(shown)
        assert table.virtual_size.height == 5001


@pytest.mark.ui
async def test_hostile_text_is_drawn_literally() -> None:
    evil = "[@click=app.quit]boom[/] [bold]x"
    app = TableApp([rec("a", State.RUNNING, label=evil, prompt="[/]\n[red]rest")])
    async with app.run_test(size=(140, 6)) as pilot:
        table = app.query_one(TaskTable)
        row = lines(table)[1]
        assert "[@click=app.quit]boom[/]" in row
        assert "[/]" in row
        await pilot.click(TaskTable, offset=(10, 1))
        assert app.is_running


def test_layout_drops_columns_on_narrow_screens() -> None:
    wide = [c.key for c in layout(160)]
    narrow = [c.key for c in layout(50)]
    assert wide[-1] == "prompt"
    assert "next" in wide
    assert "next" not in narrow
    assert "task" in narrow
    assert "state" in narrow


def test_relative_times() -> None:
    assert relative(None, T0) == "–"
    assert relative(T0 - timedelta(seconds=5), T0) == "5s"
    assert relative(T0 - timedelta(minutes=7), T0) == "7m"
    assert relative(T0 - timedelta(hours=3), T0) == "3h"
    assert relative(T0 - timedelta(days=2), T0) == "2d"
    assert relative(T0 - timedelta(seconds=59.6), T0) == "1m"  # never "60s"
    assert relative(T0 - timedelta(seconds=3599.7), T0) == "1h"
    assert relative(T0 + timedelta(seconds=59.8), T0) == "in 1m"
    assert relative(T0 + timedelta(seconds=4), T0) == "in 4s"


def test_state_text_is_readable_without_colour() -> None:
    assert state_text(rec("a")) == "· new"
    assert state_text(rec("a", State.SUCCEEDED)) == "✔ succeeded"
    assert state_text(rec("a", State.FAILED)) == "✘ failed"
    weird = TaskRecord(
        Task("a", T0), TaskResult(state=State.UNKNOWN, status="brewing", checked_at=T0)
    )
    assert state_text(weird) == "? brewing"


def test_sort_by_state_puts_failures_first() -> None:
    records = {
        r.id: r
        for r in [rec("s", State.SUCCEEDED), rec("f", State.FAILED), rec("r", State.RUNNING)]
    }
    assert sort_ids(records, records, SortKey.STATE) == ["f", "r", "s"]
    assert SortKey.ADDED.next() is SortKey.STATE
    assert SortKey.UPDATED.next() is SortKey.ADDED


def test_next_check_text() -> None:
    assert next_text(None, T0) == "–"
    assert next_text(T0 - timedelta(seconds=3), T0) == "now"  # overdue: waiting for budget
    assert next_text(T0 + timedelta(milliseconds=400), T0) == "now"
    assert next_text(T0 + timedelta(seconds=12), T0) == "in 12s"


def test_the_table_has_a_model_column_that_goes_before_eta_on_narrow_screens() -> None:
    """Issue 21 item 5: people sort and scan by model."""
    assert [c.key for c in layout(120)][:4] == ["mark", "task", "state", "model"]
    assert "model" not in [c.key for c in layout(80)]
    assert "eta" in [c.key for c in layout(80)]
    assert "model" not in [c.key for c in layout(160, frozenset({"model"}))]  # v hides it


def test_the_model_cell_says_the_request_or_the_id() -> None:
    from rich.style import Style
    from vidwatch.core.model.records import TaskRequest
    from vidwatch.ui.widgets.columns import row_cells

    made = TaskRecord(
        Task("sora-2:x", T0, request=TaskRequest("sora-2-pro", "a cat")), TaskResult()
    )
    added = TaskRecord(Task("grok:y", T0), TaskResult())
    plain = TaskRecord(Task("task_1", T0), TaskResult())
    columns = [c for c in layout(160) if c.key == "model"]

    def shown(record: TaskRecord) -> str:
        return row_cells(record, columns, T0, Style(), lambda _: Style(), False)[0][1]

    assert [shown(r) for r in (made, added, plain)] == ["sora-2-pro", "grok", "–"]


def test_the_cost_column_shows_when_wide_and_goes_first_when_narrow() -> None:
    assert "cost" in [c.key for c in layout(160)]
    assert "cost" not in [c.key for c in layout(80)]
    assert "eta" in [c.key for c in layout(100)]  # the others stay longer
