"""The still of the highlighted finished job, its facts and what differs from what was asked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from textual_image.widget import HalfcellImage
from vidwatch.core.media.settings import PreviewSettings
from vidwatch.core.model.records import State, TaskRecord, TaskRequest
from vidwatch.simulator.videos import padded, video_file
from vidwatch.ui.screens.closer import CloserLook
from vidwatch.ui.widgets.still import StillView, resolve_mode

from tests.support.dashboard import make_app, record
from tests.support.video_host import VideoHost
from tests.support.waits import until

pytestmark = pytest.mark.ui

URL = "https://cdn.example/v/cow.mp4?sig=1"
HALF = PreviewSettings(mode="halfblock")


def finished(task_id: str = "grok:cow", minutes: int = 0) -> TaskRecord:
    done = record(task_id, State.SUCCEEDED, label="cow", url=URL, minutes=minutes)
    asked = TaskRequest("grok-video-3", "a cow", {"aspect_ratio": "9:16", "duration": 10})
    return replace(done, task=replace(done.task, request=asked))


async def test_a_finished_job_shows_its_still_and_facts_and_keeps_them(tmp_path: Path) -> None:
    host = VideoHost(padded(video_file("cow", "16:9", 4.0, False), 2_000_000))
    h = make_app(tmp_path, [finished()], preview=HALF, video_host=host.transport())
    async with h.app.run_test(size=(160, 40)) as pilot:
        still = h.app.main.query_one(StillView)
        await until(pilot, lambda: still.shown is not None, timeout=30, what="a still")
        assert still.shown is not None
        assert still.shown.why is None, still.shown.why
        image = still.query_one(HalfcellImage)  # drawn with textual-image
        await until(pilot, lambda: image.region.height > 2, what="the still laid out")
        words = str(still.query_one("#still-words").render())
        assert "256×144 (16:9)" in words
        assert "asked for 9:16, the video is 16:9 (256×144)" in words
        assert "asked for 10 s, the video is 4.0 s" in words
        assert h.app.session.records["grok:cow"].task.video is not None
    assert host.sent <= 3 * 1024 * 1024
    assert not any("authorization" in headers for headers in host.headers)


async def test_a_still_shown_after_a_job_without_one_is_laid_out(tmp_path: Path) -> None:
    host = VideoHost(padded(video_file("cow", "16:9", 4.0, False), 2_000_000))
    records = [record("grok:run", State.RUNNING), finished(minutes=5)]  # the newest first
    h = make_app(tmp_path, records, preview=HALF, video_host=host.transport())
    async with h.app.run_test(size=(160, 40)) as pilot:
        still = h.app.main.query_one(StillView)
        await pilot.pause()
        assert not still.display  # a running job: nothing to see yet
        await pilot.press("down")
        await until(pilot, lambda: still.shown is not None, timeout=30, what="a still")
        image = still.query_one(HalfcellImage)
        await until(pilot, lambda: image.region.height > 2, what="the still laid out")
        await pilot.press("up", "down")  # away and back: from memory, at once
        await until(pilot, lambda: still.display and still.query(HalfcellImage))
        # the same widget shows it again: none is mounted per key press (the cost of a
        # cursor moving over finished jobs, a bench row)
        assert list(still.query(HalfcellImage)) == [image]
        await until(pilot, lambda: image.display and image.region.height > 2, what="laid out again")


async def test_a_hostile_video_host_costs_the_still_only(tmp_path: Path) -> None:
    host = VideoHost(b"<html>please sign in</html>" * 50, content_type="text/html")
    h = make_app(
        tmp_path,
        [finished(), record("grok:run", State.RUNNING)],
        preview=HALF,
        video_host=host.transport(),
    )
    async with h.app.run_test(size=(160, 40)) as pilot:
        still = h.app.main.query_one(StillView)
        await until(pilot, lambda: still.shown is not None, timeout=30, what="a reason")
        words = str(still.query_one("#still-words").render())
        assert words.startswith("No still: ")
        assert not still.query(HalfcellImage)
        await pilot.press("down")  # the dashboard goes on; a running job has no still
        await until(pilot, lambda: not still.display)


async def test_off_shows_nothing_and_asks_no_host(tmp_path: Path) -> None:
    host = VideoHost(b"")
    h = make_app(tmp_path, [finished()], video_host=host.transport())
    async with h.app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert not h.app.main.query_one(StillView).display
    assert host.headers == []


def test_auto_picks_half_blocks_where_graphics_cannot_work() -> None:
    web = {"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver", "TERM": "xterm-kitty"}
    assert resolve_mode("auto", web) == "halfblock"
    assert resolve_mode("auto", {"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "xterm-kitty"}) == (
        "halfblock"
    )
    assert resolve_mode("auto", {"TERM": "xterm-256color"}) == "halfblock"  # unknown
    assert resolve_mode("auto", {"TERM": "xterm-kitty"}) == "kitty"
    assert resolve_mode("auto", {"TERM": "foot"}) == "sixel"
    assert resolve_mode("sixel", web) == "sixel"  # said outright: obeyed
    assert resolve_mode("off", {"TERM": "xterm-kitty"}) == "off"


async def test_enter_opens_a_closer_look_with_a_filmstrip_and_arrows_walk_the_finished(
    tmp_path: Path,
) -> None:
    host = VideoHost(padded(video_file("cow", "16:9", 4.0, True), 2_000_000))
    records = [finished("grok:a", minutes=1), record("grok:run", State.RUNNING, minutes=2)]
    records.append(finished("grok:b", minutes=3))
    h = make_app(tmp_path, records, preview=HALF, video_host=host.transport())
    async with h.app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(h.app.screen, CloserLook))
        closer = h.app.screen
        assert isinstance(closer, CloserLook)
        await until(pilot, lambda: closer.shown is not None, timeout=30, what="a closer look")
        assert closer.shown is not None
        assert closer.shown.strip is not None  # the filmstrip
        assert len(closer.query(HalfcellImage)) == 2
        facts = str(closer.query_one("#closer-facts").render())
        assert "sound (aac)" in facts
        assert "asked for 10 s, the video is 4.0 s" in facts
        await pilot.press("right")  # the next finished job: the running one is passed over
        await until(pilot, lambda: closer.task_id == "grok:b")
        assert h.app.main.table.cursor_id == "grok:b"
        await pilot.press("escape")
        await until(pilot, lambda: h.app.screen is h.app.main)


async def test_a_download_from_the_dashboard_writes_its_still_beside_it(tmp_path: Path) -> None:
    host = VideoHost(padded(video_file("cow", "16:9", 4.0, False), 400_000))
    h = make_app(tmp_path, [finished()], preview=HALF, video_host=host.transport())
    async with h.app.run_test(size=(160, 40)) as pilot:
        await pilot.press("D")
        session = h.app.session
        await until(pilot, lambda: session.records["grok:cow"].task.saved_to, timeout=30)
        video = Path(session.records["grok:cow"].task.saved_to or "")
        still = video.with_suffix(".jpg")
        await until(pilot, still.is_file, timeout=30, what="NAME.jpg beside the video")
        assert still.read_bytes().startswith(b"\xff\xd8\xff")
        # the facts reach the task through the session, after the still is written
        await until(pilot, lambda: session.records["grok:cow"].task.video is not None)


async def test_at_80x24_the_closer_look_keeps_the_facts_and_the_prompt_in_view(
    tmp_path: Path,
) -> None:
    """The still is sized to the screen, so the filmstrip, the facts and the prompt (grok
    echoes the one it was sent) are not pushed below it; a taller screen grows it again."""
    host = VideoHost(padded(video_file("cow", "16:9", 4.0, True), 400_000))
    echoed = record("grok:cow", State.SUCCEEDED, label="cow", url=URL)
    echoed = replace(echoed, result=replace(echoed.result, sent_prompt="a cow on the moon"))
    h = make_app(tmp_path, [echoed], preview=HALF, video_host=host.transport())
    async with h.app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(h.app.screen, CloserLook))
        closer = h.app.screen
        assert isinstance(closer, CloserLook)
        await until(pilot, lambda: len(closer.query(HalfcellImage)) == 2, timeout=30)
        facts, prompt = closer.query_one("#closer-facts"), closer.query_one("#closer-prompt")
        await until(pilot, lambda: facts.region.height > 0 and prompt.region.height > 0)
        assert facts.region.bottom <= 23  # above the hint line
        assert prompt.region.y < 23
        assert "256×144 (16:9)" in str(facts.render())
        assert "a cow on the moon" in str(prompt.render())
        small = closer.query(HalfcellImage).first().region.height
        await pilot.resize_terminal(160, 45)
        await until(pilot, lambda: closer.query(HalfcellImage).first().region.height > small)


async def test_a_cursor_sweeping_past_finished_jobs_asks_no_host_for_them(
    tmp_path: Path,
) -> None:
    """A still that is not kept is made once the cursor rests on its job: the jobs passed
    over on the way cost no request and no decoder."""
    host = VideoHost(padded(video_file("cow", "16:9", 4.0, False), 400_000))
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return host.handle(request)

    records = [record("grok:run", State.RUNNING)]  # highlighted first
    records += [
        replace(
            finished(f"grok:{name}", minutes=n),
            result=replace(finished().result, video_url=f"https://cdn.example/v/{name}.mp4?sig=1"),
        )
        for n, name in enumerate(("a", "b", "c"), start=1)
    ]
    h = make_app(tmp_path, records, preview=HALF, video_host=httpx.MockTransport(handle))
    async with h.app.run_test(size=(160, 40)) as pilot:
        still = h.app.main.query_one(StillView)
        still.settle = 60.0  # passed over: never made
        loop = asyncio.get_running_loop()

        def asked_or_after(end: float) -> Callable[[], bool]:
            return lambda: bool(asked) or loop.time() > end

        for name in ("a", "b"):
            still.record = h.app.session.records[f"grok:{name}"]
            # long enough for a still begun at once to ask its host
            await until(pilot, asked_or_after(loop.time() + 0.5))
        still.settle = 0.0
        still.record = h.app.session.records["grok:c"]
        await until(pilot, lambda: still.shown is not None, timeout=30, what="c's still")
    assert asked
    assert {path.rsplit("/", 1)[-1] for path in asked} == {"c.mp4"}


async def test_arrows_held_in_the_closer_look_read_nothing_of_the_jobs_passed_over(
    tmp_path: Path,
) -> None:
    host = VideoHost(padded(video_file("cow", "16:9", 4.0, True), 400_000))
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path.rsplit("/", 1)[-1])
        return host.handle(request)

    records = [
        replace(
            finished(f"grok:{name}", minutes=n),
            result=replace(finished().result, video_url=f"https://cdn.example/v/{name}.mp4?s=1"),
        )
        for n, name in enumerate(("a", "b", "c"))
    ]
    h = make_app(tmp_path, records, preview=HALF, video_host=httpx.MockTransport(handle))
    async with h.app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")  # opened: a's closer look is made at once
        await until(pilot, lambda: isinstance(h.app.screen, CloserLook))
        closer = h.app.screen
        assert isinstance(closer, CloserLook)
        await until(pilot, lambda: closer.shown is not None, timeout=30, what="a's look")
        closer.settle = h.app.main.query_one(StillView).settle = 60.0
        await pilot.press("right")  # b, passed over
        loop = asyncio.get_running_loop()
        end = loop.time() + 0.5  # long enough for a look begun at once to ask its host
        await until(pilot, lambda: "b.mp4" in asked or loop.time() > end)
        closer.settle = 0.0
        await pilot.press("right")  # c, where the keys rest
        await until(pilot, lambda: closer.task_id == "grok:c" and closer.shown is not None)
    assert "b.mp4" not in asked
    assert "c.mp4" in asked
