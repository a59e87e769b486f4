"""``/`` with a filter set edits it, the cursor at its end (issue 21, item 13): the
filter was selected whole and the first key typed replaced it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input
from vidwatch.core.model.records import State

from tests.support.dashboard import make_app, record
from tests.support.waits import until

pytestmark = pytest.mark.ui


async def test_slash_edits_the_current_filter_from_its_end(tmp_path: Path) -> None:
    records = [record(f"grok:{n}", State.RUNNING, label=f"cow {n}") for n in range(3)]
    h = make_app(tmp_path, records)
    async with h.app.run_test(size=(120, 35)) as pilot:
        box = h.app.main.query_one("#filter", Input)
        await pilot.press("slash", *"cow", "enter")
        await until(pilot, lambda: h.app.focused is h.app.main.table)
        assert box.value == "cow"
        await pilot.press("slash", "space", "1")  # at once, as a quick typist does
        await until(pilot, lambda: box.value == "cow 1")
        assert box.cursor_position == len("cow 1")
        assert box.selection.is_empty
