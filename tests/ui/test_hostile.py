"""Hostile server text on screen: never markup, never an escape sequence, never an action."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from vidwatch.core.model.records import State
from vidwatch.ui.widgets.detail import DetailPane
from vidwatch.ui.widgets.task_table import TaskTable

from tests.support.dashboard import KEY, FakeGateway, body, make_app, record
from tests.support.waits import until

pytestmark = pytest.mark.ui

ESC = "\x1b"
EVIL_PROMPT = (
    "[@click=app.quit]click me[/] [bold]bold?[/bold] [/]\n"
    f"{ESC}]2;pwned title{ESC}\\ {ESC}]52;c;ZXZpbA=={ESC}\\ {ESC}[31mred{ESC}[0m"
)


def evil_body() -> dict[str, object]:
    return body(
        f"proc[@click=app.quit]essing{ESC}]2;t{ESC}\\",
        url="https://cdn.example/v/[@click=app.quit].mp4",
        prompt=EVIL_PROMPT,
        error_message=f"[/]{ESC}]52;c;ZXZpbA=={ESC}\\boom",
    )


def all_text(widget_texts: list[str]) -> str:
    return "\n".join(widget_texts)


async def test_hostile_server_text_is_shown_literally_and_does_nothing(tmp_path: Path) -> None:
    gateway = FakeGateway({"grok:evil": evil_body()})
    h = make_app(tmp_path, [record("grok:evil", State.QUEUED)], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(200, 40)) as pilot:
        await _until_checked(pilot, h.app.main.query_one(TaskTable))
        table = h.app.main.query_one(TaskTable)
        rows = [table.render_line(y).text for y in range(3)]
        detail = h.app.main.query_one(DetailPane)
        drawn = [detail.render_line(y).text for y in range(detail.size.height)]
        shown = all_text(rows + drawn + [detail.plain])
        assert "[@click=app.quit]click me[/]" in shown  # literally
        assert "[bold]bold?[/bold]" in shown
        assert "https://cdn.example/v/[@click=app.quit].mp4" in shown
        assert ESC not in shown
        assert "\x07" not in shown
        assert "pwned title" not in shown  # the whole OSC sequence is gone, not just ESC
        assert "ZXZpbA==" not in shown
        for y in range(detail.size.height):  # no segment carries an action
            for segment in detail.render_line(y):
                assert not (segment.style and segment.style.meta.get("@click"))
        # Clicking on it everywhere runs nothing.
        for y in range(1, 4):
            await pilot.click(TaskTable, offset=(60, y))
        for y in range(0, detail.size.height, 3):
            await pilot.click(DetailPane, offset=(10, y))
        assert h.app.is_running
        await pilot.press("c")  # copies the literal URL, sanitised
        await pilot.pause()
        assert h.clipboard.copied == ["https://cdn.example/v/[@click=app.quit].mp4"]
        svg = h.app.export_screenshot()
        assert ESC not in svg
        assert "ZXZpbA==" not in svg


async def test_hostile_labels_and_ids_typed_by_the_user_are_literal_too(tmp_path: Path) -> None:
    h = make_app(tmp_path, [record("grok:[/]x", State.RUNNING, label="[@click=app.quit]me")])
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("d")  # the confirmation names the task literally
        question = h.app.screen.query_one(".dialog-title").render()
        assert "[@click=app.quit]me" in str(question)
        await pilot.press("n")
        await pilot.click(TaskTable, offset=(5, 1))
        assert h.app.is_running


async def _until_checked(pilot: Pilot[None], table: TaskTable) -> None:
    def arrived() -> bool:
        record = table.records.get("grok:evil")
        return record is not None and record.result.status.startswith("proc")  # the evil answer

    await until(pilot, arrived, what="the evil answer")
    await pilot.pause()


async def test_toasts_that_quote_a_server_status_are_plain_text(tmp_path: Path) -> None:
    """A status word like ``[/nope]`` reaches toasts through "no URL yet (…)": no crash."""
    records = [
        record("grok:a", State.UNKNOWN, status="[/nope]x"),
        record("grok:b", State.UNKNOWN, status="[@click=app.quit]clickme"),
    ]
    h = make_app(tmp_path, records)
    async with h.app.run_test(size=(160, 30), notifications=True) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert "[/nope]x" in h.last_toast()
        await pilot.press("down", "o")
        await pilot.pause()
        assert "[@click=app.quit]clickme" in h.last_toast()
        await pilot.click(offset=(150, 27))  # where the toasts are
        await pilot.pause()
        assert h.app.is_running
