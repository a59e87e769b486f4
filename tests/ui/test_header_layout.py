"""The header's layout follows the width, never the numbers of the moment (issue 21,
item 11): at 120 columns it flipped between the worded line and the compact one as
counts changed, and how long jobs take never showed."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from vidwatch.core.model.records import State
from vidwatch.core.polling.events import PollerStatus
from vidwatch.ui.widgets.header import StatusBar

from tests.support.waits import until

pytestmark = pytest.mark.ui

SUMMARY = "jobs take 1m30s (p90 3m12s, 42 seen)"


def counts(queued: int, running: int, succeeded: int, failed: int) -> tuple[tuple[State, int], ...]:
    return (
        (State.QUEUED, queued),
        (State.RUNNING, running),
        (State.SUCCEEDED, succeeded),
        (State.FAILED, failed),
    )


class Header(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()


@pytest.mark.parametrize("width", [100, 120, 149])
async def test_the_layout_holds_as_the_numbers_grow(width: int) -> None:
    app = Header()
    async with app.run_test(size=(width, 5)) as pilot:
        main = bar = app.query_one(StatusBar)
        await until(pilot, lambda: bar.size.width == width)
        main.demo = True
        main.status = PollerStatus(requests_per_minute=35)
        main.summary = SUMMARY
        lines = []
        for numbers in [(4, 6, 0, 0), (0, 13, 23, 1), (1200, 3400, 5100, 300), (0, 0, 9999, 1)]:
            main.counts = counts(*numbers)
            main.fresh = 27 if numbers[0] else 0
            await pilot.pause()
            lines.append(bar.render().plain)
        assert all(line.startswith(" vidwatch  live  DEMO") for line in lines), lines
        assert all("│ ◷ " in line and "▶ " in line for line in lines)
        assert not any("running" in line for line in lines)  # no flip to words
        if width >= 120:  # room for how long jobs take, with the demo's numbers
            assert SUMMARY in lines[1][:width]


async def test_wide_is_worded_and_narrow_compact_whatever_the_numbers() -> None:
    app = Header()
    async with app.run_test(size=(160, 5)) as pilot:
        main = bar = app.query_one(StatusBar)
        main.status = PollerStatus(requests_per_minute=266)
        main.summary = SUMMARY
        main.counts = counts(1200, 3400, 5100, 300)
        await pilot.pause()
        line = bar.render().plain
        assert "▶ 3400 running" in line
        assert "│ live │ 266 req/min │ jobs take" in line
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: bar.size.width == 80)
        main.counts = counts(0, 1, 0, 0)
        await pilot.pause()
        assert bar.render().plain.startswith(" vw  live")
