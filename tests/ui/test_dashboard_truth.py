"""The dashboard tells the truth: an unreachable server is not `live`, a URL is checked
where it is used, a task left alone says why, the sort shows in the table."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import httpx
import pytest
from textual.pilot import Pilot
from vidwatch.core.gateway.outcomes import Ok
from vidwatch.core.model.records import State
from vidwatch.core.polling.events import TaskUpdate
from vidwatch.core.polling.scheduler import NOT_FOUND_LIMIT
from vidwatch.ui.widgets.detail import DetailPane
from vidwatch.ui.widgets.header import StatusBar
from vidwatch.ui.widgets.task_table import TaskTable

from tests.support.dashboard import KEY, FakeGateway, Harness, body, make_app, record

pytestmark = pytest.mark.ui

URL_A = "https://cdn.example/v/a.mp4"
URL_C = "https://cdn.example/v/c.mp4"
BAD_URLS = [
    ("javascript:alert(1)", "not 'javascript'"),
    ("https://cdn.example/a.mp4\nhttps://evil.example/b.mp4", "line breaks"),
    ("https://a@evil.example/x", "really leads to evil.example"),
]


async def until(pilot: Pilot[None], check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


def header(h: Harness) -> str:
    return h.app.main.query_one(StatusBar).render().plain


def detail(h: Harness) -> DetailPane:
    return h.app.main.query_one(DetailPane)


# --------------------------------------------------------------------------- unreachable


@dataclass
class FlakyGateway(FakeGateway):
    """A gateway that can be switched off: then every request fails as aiohttp's does
    when nothing listens (httpx.ConnectError: the client makes it a NetworkError)."""

    down: bool = True

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.calls.append(request.url.params.get("id", ""))
            raise httpx.ConnectError(
                "Cannot connect to host gateway.example:443 ssl:default "
                "[Connect call failed ('203.0.113.9', 443)]",
                request=request,
            )
        return await super().handler(request)


async def test_an_unreachable_server_is_offline_in_the_header_not_live(tmp_path: Path) -> None:
    gateway = FlakyGateway({"grok:a": body("processing")})
    h = make_app(tmp_path, [record("grok:a", State.RUNNING)], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: "offline: cannot reach gateway.example" in header(h))
        assert " live" not in header(h)
        row = h.app.main.table.render_line(1).text
        error = h.app.session.records["grok:a"].result.error or ""
        problem = detail(h).section_text("problem")
        for shown in (row, error, problem):  # as a person would say it, nowhere raw
            for internal in ("ssl:default", "ConnectError", "Connect call", "will retry"):
                assert internal not in shown
        assert error == "cannot reach gateway.example: the connection was refused"
        assert "Cannot reach gateway.example: the connection was refused" in problem
        assert "! cannot re" in row  # the PROMPT column, where a standing problem shows
        gateway.down = False  # the network is back: the next answer clears it
        await until(pilot, lambda: "live" in header(h))
        assert "offline" not in header(h)


async def test_offline_fits_the_header_at_80_columns(tmp_path: Path) -> None:
    gateway = FlakyGateway({"grok:a": body("processing")})
    h = make_app(tmp_path, [record("grok:a", State.RUNNING)], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "offline: cannot reach gateway.example" in header(h))
        bar = h.app.main.query_one(StatusBar)
        assert bar.render().cell_len <= bar.size.width  # whole, not cut off


# --------------------------------------------------------------------------- URLs at use


def finished_pair(tmp_path: Path) -> Harness:
    h = make_app(
        tmp_path,
        [
            record("grok:a", State.SUCCEEDED, url=URL_A),
            record("grok:b", State.SUCCEEDED, url="https://cdn.example/v/b.mp4"),
            record("grok:c", State.SUCCEEDED, url=URL_C),
            record("grok:d", State.RUNNING),
        ],
    )
    fetched: list[str] = []

    def never(request: httpx.Request) -> httpx.Response:  # nothing may be fetched here
        fetched.append(str(request.url))
        return httpx.Response(500)

    h.app.downloader_transport = httpx.MockTransport(never)
    h.fetched = fetched  # type: ignore[attr-defined]
    return h


def inject(h: Harness, task_id: str, url: str) -> None:
    """A URL in memory that the store never checked (a hand-edited file, a bug)."""
    session = h.app.session
    before = session.records[task_id].result
    result = replace(before, video_url=url)
    record_now = session.store_result(task_id, result)
    assert record_now is not None
    h.app.main.apply_changes([TaskUpdate(record_now, before, Ok(result))])


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
async def test_copy_open_and_download_refuse_a_bad_url_with_the_reason(
    tmp_path: Path, url: str, reason: str
) -> None:
    h = finished_pair(tmp_path)
    async with h.app.run_test(size=(160, 30), notifications=True) as pilot:
        await pilot.pause()
        inject(h, "grok:b", url)
        await pilot.press("down")  # on grok:b
        await until(pilot, lambda: h.app.main.table.cursor_id == "grok:b")
        await pilot.press("c")
        await until(pilot, lambda: "Nothing copied" in h.last_toast())
        assert "refused" in h.last_toast()
        assert reason in h.last_toast()
        await pilot.press("o")
        await until(pilot, lambda: "Nothing to open" in h.last_toast())
        assert "refused" in h.last_toast()
        assert reason in h.last_toast()
        await pilot.press("D")
        await until(pilot, lambda: "Nothing to download" in h.last_toast())
        assert "refused" in h.last_toast()
        assert reason in h.last_toast()
        await pilot.pause()
        assert h.clipboard.copied == []
        assert h.browser.opened == []
        assert h.fetched == []  # type: ignore[attr-defined]
        assert not any(t.startswith("Downloading") for t in h.toasts)
        # The detail pane says why, and never draws the URL itself; no ● in the row.
        shown = detail(h).section_text("url")
        assert shown.startswith("Video URL\nrefused: ")
        assert "evil.example/b" not in shown
        assert "javascript" not in shown.split(":", 1)[0]
        row = h.app.main.table.render_line(2).text
        assert "●" not in row


async def test_marked_copies_leave_out_bad_urls_and_say_what_was_skipped(tmp_path: Path) -> None:
    h = finished_pair(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        inject(h, "grok:b", "javascript:alert(1)")
        await pilot.press("asterisk", "c")  # all four marked: a, b (bad), c, d (running)
        await until(pilot, lambda: bool(h.clipboard.copied))
        assert h.clipboard.copied == [f"{URL_A}\n{URL_C}\n"]
        toast = h.last_toast()
        assert toast.startswith("Copied 2 URLs of marked tasks to the tmux buffer")
        assert toast.endswith("; 2 skipped (1 with an unusable URL, 1 not finished yet)."), toast
        await pilot.press("escape", "escape", "C")  # every finished URL in the view
        await until(pilot, lambda: len(h.clipboard.copied) == 2)
        assert h.clipboard.copied[-1] == f"{URL_A}\n{URL_C}\n"
        assert "1 skipped (unusable URL)" in h.last_toast()


async def test_marked_download_of_only_bad_urls_is_refused(tmp_path: Path) -> None:
    h = finished_pair(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        inject(h, "grok:a", "https://a@evil.example/x")
        inject(h, "grok:b", "javascript:alert(1)")
        await pilot.press("space", "space", "D")
        await until(pilot, lambda: "Nothing to download" in h.last_toast())
        assert "2 with an unusable URL" in h.last_toast()
        await pilot.pause()
        assert h.fetched == []  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- next check


async def test_next_check_says_now_rather_than_0s(tmp_path: Path) -> None:
    gateway = FakeGateway(hang=True)  # the first asks never end: the others are overdue
    records = [record(f"grok:{n}", State.RUNNING) for n in range(8)]
    h = make_app(tmp_path, records, key=KEY, gateway=gateway)

    def shows(task_id: str) -> bool:
        record_shown = detail(h).record
        return record_shown is not None and record_shown.id == task_id

    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: len(gateway.calls) >= 4)  # FAST: four at a time
        await pilot.pause()
        for n in range(8):  # each one is being asked, or waits for its turn: "now"
            task_id = f"grok:{n}"
            h.app.main.table.move_to(task_id)
            await until(pilot, partial(shows, task_id))
            facts = detail(h).section_text("facts").splitlines()
            assert [line for line in facts if line.startswith("Next check")] == ["Next check now"]


async def test_a_task_given_up_on_says_why_and_what_to_do(tmp_path: Path) -> None:
    gateway = FakeGateway()  # knows no task: 404 each time
    h = make_app(tmp_path, [record("grok:gone")], key=KEY, gateway=gateway)

    def unwrapped(section: str) -> str:
        return " ".join(detail(h).section_text(section).split())

    async with h.app.run_test(size=(160, 30)) as pilot:
        why = f"given up: not found {NOT_FOUND_LIMIT} times"
        await until(pilot, lambda: why in unwrapped("problem"))
        assert f"({why}) Check the ID" in unwrapped("problem")  # what happened, what to do
        assert unwrapped("problem").endswith("Press r to ask again.")  # the dashboard's key
        assert f"Next check – ({why}; r to retry)" in unwrapped("facts")
        stored = h.app.session.records["grok:gone"].result.error or ""
        assert stored.endswith(f"({why})")  # the record keeps the fact, not the key


async def test_without_a_key_next_check_says_why_there_is_none(tmp_path: Path) -> None:
    h = make_app(tmp_path, [record("grok:a", State.RUNNING)])
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        assert "Next check – (not polling: no API key" in detail(h).section_text("facts")


# --------------------------------------------------------------------------- the sort


async def test_the_sorted_column_is_marked_in_the_table_header(tmp_path: Path) -> None:
    h = make_app(tmp_path, [record("grok:a", State.RUNNING), record("grok:b", State.FAILED)])
    async with h.app.run_test(size=(160, 30)) as pilot:
        table = h.app.main.query_one(TaskTable)

        def titles() -> str:
            return table.render_line(0).text

        await pilot.pause()
        assert "AGE ▼" in titles()  # added order: oldest first
        await pilot.press("s")
        await pilot.pause()
        assert "STATE ▲" in titles()
        assert "AGE ▼" not in titles()
        await pilot.press("s")
        await pilot.pause()
        assert "UPDATED▲" in titles()
        assert "STATE ▲" not in titles()


def test_a_wide_character_cut_in_half_leaves_no_gap_before_the_ellipsis() -> None:
    from rich.style import Style
    from vidwatch.ui.widgets.columns import Column, strip_of

    cells = [(Column("prompt", "PROMPT", 12), "一只橘猫在雨夜的", Style())]
    strip = strip_of(cells, 13, Style())
    assert strip.text.rstrip() == "一只橘猫在…"


async def test_help_writes_keys_one_way(tmp_path: Path) -> None:
    """The help shows ``shift+↓``: its text says ``shift+↑`` too, not ``shift+up``."""
    from vidwatch.ui.palette import key_help

    h = make_app(tmp_path, [record("grok:a", State.RUNNING)])
    async with h.app.run_test(size=(160, 30)):
        rows = dict(key_help(h.app, h.app.BINDINGS))
        assert "shift+↓" in rows
        assert "shift+↑" in rows["shift+↓"]
        for keys, text in rows.items():
            for word in ("shift+up", "shift+down"):
                assert word not in text, (keys, text)
