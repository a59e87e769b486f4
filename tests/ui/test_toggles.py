"""On and off read without colour (issue 21, item 12): the export format showed ``▐●▌``
on every option and the column chooser ``▐X▌`` on every box in a plain capture; CHECKED
and NEXT were ticked but left out at 120 columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.content import Content
from textual.screen import Screen
from textual.widgets import RadioButton
from vidwatch.core.model.records import State
from vidwatch.ui.dialogs.columns import ColumnsDialog
from vidwatch.ui.dialogs.export import ExportDialog
from vidwatch.ui.widgets.columns import layout
from vidwatch.ui.widgets.task_table import TaskTable
from vidwatch.ui.widgets.toggles import PlainSelectionList

from tests.support.dashboard import make_app, record
from tests.support.waits import until

pytestmark = pytest.mark.ui


def formats(screen: Screen[object]) -> dict[str | None, str]:
    """Each format's box as plain text."""
    boxes = {}
    for button in screen.query(RadioButton):
        drawn = button.render()
        assert isinstance(drawn, Content)
        boxes[button.id] = drawn.plain[:3]
    return boxes


async def test_the_export_format_shows_which_is_chosen(tmp_path: Path) -> None:
    h = make_app(tmp_path, [record("grok:a", State.SUCCEEDED)])
    async with h.app.run_test(size=(120, 35)) as pilot:
        await pilot.press("e")
        await until(pilot, lambda: isinstance(h.app.screen, ExportDialog))
        await pilot.pause()
        shown = formats(h.app.screen)
        assert shown == {"fmt-csv": "▐●▌", "fmt-json": "▐ ▌", "fmt-md": "▐ ▌"}
        await pilot.press("down")  # the next format
        await pilot.pause()
        shown = formats(h.app.screen)
        assert shown == {"fmt-csv": "▐ ▌", "fmt-json": "▐●▌", "fmt-md": "▐ ▌"}


async def test_the_column_chooser_shows_which_are_ticked(tmp_path: Path) -> None:
    h = make_app(tmp_path, [record("grok:a", State.RUNNING)])
    async with h.app.run_test(size=(120, 35)) as pilot:
        await pilot.press("v")
        await until(pilot, lambda: isinstance(h.app.screen, ColumnsDialog))
        choices = h.app.screen.query_one(PlainSelectionList)
        await until(pilot, lambda: choices.size.height > 0)

        def boxes() -> dict[str, str]:
            rows = [choices.render_line(y).text for y in range(choices.option_count)]
            return {row[4:].split(":")[0].split(" (")[0]: row[:3] for row in rows}

        def notes() -> list[str]:
            rows = [choices.render_line(y).text for y in range(choices.option_count)]
            return [r[4:].split()[0] for r in rows if "(no room at this width)" in r]

        assert boxes() == {
            "MODEL": "▐X▌",  # on, shown where the prompt keeps its room
            "AGE": "▐X▌",
            "UPDATED": "▐X▌",
            "CHECKED": "▐ ▌",  # off until ticked: no room for them at 120 columns
            "NEXT": "▐ ▌",
            "ETA": "▐X▌",
            "COST": "▐X▌",  # on, shown where the prompt keeps its room
            "PROMPT": "▐X▌",
        }
        # ticked, but the table has no room for them at 120 columns: said, not claimed
        assert sorted(notes()) == ["COST", "MODEL"]
        choices.highlighted = 7
        await pilot.press("space")  # untick PROMPT: room for MODEL
        await until(pilot, lambda: notes() == ["COST"])
        await pilot.press("space")  # and back
        await until(pilot, lambda: sorted(notes()) == ["COST", "MODEL"])
        choices.highlighted = 3
        await pilot.press("space")  # tick CHECKED
        await until(pilot, lambda: boxes()["CHECKED"] == "▐X▌")
        choices.highlighted = 4
        await pilot.press("space", "enter")  # and NEXT
        await until(pilot, lambda: not isinstance(h.app.screen, ColumnsDialog))
        table = h.app.main.query_one(TaskTable)
        await pilot.pause()
        title = table.render_line(0).text
        assert "CHECKED" in title  # shown, not dropped for want of room
        assert "NEXT" in title


def test_ticked_columns_are_kept_while_task_can_narrow() -> None:
    keys = [c.key for c in layout(72)]  # the table's width at 120 columns
    assert {"checked", "next", "eta", "age", "updated"} <= set(keys)
    assert "model" not in keys  # MODEL goes first: it would leave the prompt no room
    assert "model" in [c.key for c in layout(112, frozenset({"checked", "next"}))]
    task = next(c for c in layout(72) if c.key == "task")
    assert task.width >= 14
