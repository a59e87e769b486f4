"""The detail pane says how long a signed video link still works (issue 21 item 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from textual.app import App, ComposeResult
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult
from vidwatch.ui.widgets.detail import DetailPane

SIGNED = datetime(2026, 2, 6, 12, 0, tzinfo=UTC)


class PaneApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.now = SIGNED - timedelta(hours=2, minutes=5)

    def compose(self) -> ComposeResult:
        yield DetailPane(clock=lambda: self.now)


def done(url: str) -> TaskRecord:
    return TaskRecord(Task("grok:1", SIGNED), TaskResult(State.SUCCEEDED, "completed", url))


@pytest.mark.ui
async def test_the_detail_pane_counts_down_a_signed_links_time_left() -> None:
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(DetailPane)
        pane.record = done(f"https://cdn.example/v.mp4?Expires={int(SIGNED.timestamp())}")
        await pilot.pause()
        assert "link expires in 2h05m" in pane.section_text("url")
        app.now = SIGNED + timedelta(minutes=3)
        pane.refresh_times()  # every second in the dashboard
        assert "link expired 3m ago" in pane.section_text("url")
        pane.record = done("https://cdn.example/v.mp4")  # a link that does not say
        await pilot.pause()
        assert "link expire" not in pane.section_text("url")
