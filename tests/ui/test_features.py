"""Issue 6 in the dashboard: marks and bulk actions, export, downloads, notifications,
remembered views, the filter language, ETAs and the timeline."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import Input
from vidwatch.core.config import Config, Paths
from vidwatch.core.model.records import State, Task, TaskResult, Transition
from vidwatch.core.polling.budget import Policy
from vidwatch.core.store.task_file import TaskStore
from vidwatch.core.store.view import DEFAULT_HIDDEN, View, load_view, save_view
from vidwatch.simulator.server import Simulator
from vidwatch.ui.app import DashboardOptions, VidwatchApp
from vidwatch.ui.dialogs.columns import ColumnsDialog
from vidwatch.ui.dialogs.confirm import ConfirmDialog
from vidwatch.ui.dialogs.export import ExportDialog
from vidwatch.ui.textual_private import terminal_driver
from vidwatch.ui.widgets.detail import DetailPane
from vidwatch.ui.widgets.header import StatusBar
from vidwatch.ui.widgets.task_table import TaskTable

from tests.support.dashboard import (
    KEY,
    NO_STILLS,
    T0,
    FakeGateway,
    Harness,
    body,
    make_app,
    record,
)
from tests.support.waits import until

pytestmark = pytest.mark.ui

URL = "https://cdn.example/v/{}.mp4"


def four(tmp_path: Path, **kw: object) -> Harness:
    return make_app(
        tmp_path,
        [
            record("grok:a", State.SUCCEEDED, label="cow", url=URL.format("a")),
            record("grok:b", State.RUNNING, label="cat"),
            record("grok:c", State.SUCCEEDED, label="dog", url=URL.format("c")),
            record("grok:d", State.FAILED, label="eel"),
        ],
        **kw,  # type: ignore[arg-type]
    )


def table(h: Harness) -> TaskTable:
    return h.app.main.table


# --------------------------------------------------------------------------- marks


async def test_space_shift_and_star_mark_rows_and_escape_clears(tmp_path: Path) -> None:
    h = four(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("space")  # marks cow, moves to cat
        assert table(h).marked == {"grok:a"}
        assert table(h).cursor_id == "grok:b"
        await pilot.press("shift+down")  # cat and dog
        assert table(h).marked == {"grok:a", "grok:b", "grok:c"}
        assert h.app.main.marked == 3
        assert "■ 3 marked" in h.app.main.query_one(StatusBar).render().plain
        rows = [table(h).render_line(y).text for y in range(1, 5)]
        assert [row[0] for row in rows] == ["■", "■", "■", " "]
        await pilot.press("escape")  # no filter: clears the marks
        assert table(h).marked == set()
        await pilot.press("asterisk")
        assert len(table(h).marked) == 4
        await pilot.press("asterisk")  # again: all unmarked
        assert table(h).marked == set()
        await pilot.press("slash", *"state:succeeded", "enter", "asterisk")
        assert table(h).marked == {"grok:a", "grok:c"}  # all in view, not all


async def test_bulk_copy_refresh_and_remove_act_on_the_marks(tmp_path: Path) -> None:
    gateway = FakeGateway({f"grok:{x}": body("processing") for x in "abcd"})
    slow = Policy(min_interval=30, max_interval=60, max_requests_per_second=100)
    h = four(tmp_path, key=KEY, gateway=gateway, policy=slow)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: gateway.calls.count("grok:b") == 1)
        await pilot.press("space", "down", "space")  # cow and dog
        await pilot.press("c")
        await pilot.pause()
        assert h.clipboard.copied == [f"{URL.format('a')}\n{URL.format('c')}\n"]
        await pilot.press("r")
        await until(pilot, lambda: "grok:a" in gateway.calls and "grok:c" in gateway.calls)
        assert "Checking 2 marked tasks now." in h.toasts
        await pilot.press("d")
        assert isinstance(h.app.screen, ConfirmDialog)
        assert "2 marked tasks" in str(h.app.screen.query_one(".dialog-title").render())
        await pilot.press("y")
        await pilot.pause()
        assert table(h).view_ids == ["grok:b", "grok:d"]
        assert table(h).marked == set()
        await until(pilot, lambda: set(h.stored()) == {"grok:b", "grok:d"})


# --------------------------------------------------------------------------- export


async def test_e_exports_the_marks_or_the_view(tmp_path: Path) -> None:
    h = four(tmp_path)
    out = tmp_path / "out" / "batch.csv"
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("e")
        assert isinstance(h.app.screen, ExportDialog)
        assert "4 tasks in view" in str(h.app.screen.query_one(".dialog-title").render())
        h.app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await until(pilot, out.exists)
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert [r["id"] for r in rows] == ["grok:a", "grok:b", "grok:c", "grok:d"]
        await pilot.press("space", "e")  # one mark: just that one, as JSON
        screen = h.app.screen
        assert isinstance(screen, ExportDialog)
        await pilot.click("#fmt-json")
        box = screen.query_one(Input)
        assert box.value.endswith(".json")
        box.value = str(tmp_path / "one.json")
        await pilot.press("ctrl+s")  # the radio buttons have the focus now
        await until(pilot, (tmp_path / "one.json").exists)
        assert '"id": "grok:a"' in (tmp_path / "one.json").read_text(encoding="utf-8")
        assert any("Exported 1 marked task" in t for t in h.toasts)


async def test_up_and_down_pick_the_export_format_from_the_path_box(tmp_path: Path) -> None:
    h = four(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("e")
        screen = h.app.screen
        assert isinstance(screen, ExportDialog)
        box = screen.query_one(Input)
        assert box.has_focus
        await pilot.press("down")
        assert box.value.endswith(".json")
        await pilot.press("down")
        assert box.value.endswith(".md")
        await pilot.press("down")  # round again
        assert box.value.endswith(".csv")
        await pilot.press("up")
        assert box.value.endswith(".md")
        box.value = str(tmp_path / "view.md")
        await pilot.press("enter")
        await until(pilot, (tmp_path / "view.md").exists)
        assert (tmp_path / "view.md").read_text(encoding="utf-8").startswith("|")


# --------------------------------------------------------------------------- downloads


async def test_shift_d_downloads_the_video_and_remembers_where(tmp_path: Path) -> None:
    sim = Simulator(jobs=0, seed=31, video_size=200_000)
    base_url = await sim.start()
    try:
        job = sim.add_job(queue_time=0, duration=0.05, fails=False)
        tasks = tmp_path / "tasks.toml"
        TaskStore(tasks).add([Task(job, sim.wall_time(0), "my clip")])
        folder = tmp_path / "videos"
        config = Config(
            base_url=base_url,
            api_key=sim.api_key,
            policy=Policy(min_interval=0.1, max_interval=0.2, max_requests_per_second=50),
            download_dir=folder,
            preview=NO_STILLS,
        )
        app = VidwatchApp(DashboardOptions(Paths(tmp_path / "c.toml", tasks, tmp_path), config))
        toasts: list[str] = []
        notify = app.notify

        def recording_notify(message: str, **kwargs: Any) -> None:
            toasts.append(message)
            notify(message, **kwargs)

        app.notify = recording_notify  # type: ignore[method-assign]
        async with app.run_test(size=(160, 30)) as pilot:
            await until(pilot, lambda: app.main.table.records[job].result.final)
            await pilot.press("D")
            await until(pilot, lambda: app.session.records[job].task.saved_to is not None)
            saved = Path(app.session.records[job].task.saved_to or "")
            assert saved.parent == folder
            assert saved.name.startswith("my clip [")
            assert saved.read_bytes() == sim.jobs[job].video(200_000)
            assert app.main.table.render_line(1).text[1] == "◆"
            await pilot.press("D")  # again: already there, nothing fetched
            await until(pilot, lambda: "my clip: already on disk." in toasts)
        assert sim.stats.videos == 1
        assert sim.stats.key_sent_to_video_host == 0
        assert TaskStore(tasks).load().records[job].task.saved_to == str(saved)
    finally:
        await sim.stop()


async def test_shift_d_on_an_unfinished_task_says_why(tmp_path: Path) -> None:
    h = four(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("down", "D")
        assert "Nothing to download" in h.last_toast()
        assert "running" in h.last_toast()


async def test_shift_d_on_marks_says_why_some_are_left_out(tmp_path: Path) -> None:
    h = four(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: len(table(h).view_ids) == 4)  # `*` marks what is loaded
        await pilot.press("asterisk", "D")
        await until(pilot, lambda: any(t.startswith("Downloading") for t in h.toasts))
        toast = next(t for t in h.toasts if t.startswith("Downloading"))
        assert toast.startswith("Downloading 2 videos")
        assert toast.endswith("(1 failed, 1 not finished yet).")


# --------------------------------------------------------------------------- notifications


async def test_a_finished_job_and_a_finished_batch_reach_the_desktop(tmp_path: Path) -> None:
    gateway = FakeGateway({"grok:x": body("processing"), "grok:y": body("processing")})
    h = make_app(
        tmp_path,
        [record("grok:x", State.RUNNING, label="x"), record("grok:y", State.RUNNING, label="y")],
        key=KEY,
        gateway=gateway,
    )
    h.app.config = replace(h.app.config, desktop_notifications="terminal")
    written: list[str] = []
    async with h.app.run_test(size=(160, 30)) as pilot:
        driver = terminal_driver(h.app)
        assert driver is not None
        driver.write = written.append  # type: ignore[method-assign,assignment]
        await until(pilot, lambda: len(gateway.calls) >= 2)
        await pilot.press("asterisk")  # the batch: both
        gateway.bodies["grok:x"] = body("completed", URL.format("x"))
        await until(pilot, lambda: any("a video is ready" in w for w in written))
        assert not any("batch" in w for w in written)  # y is still running
        gateway.bodies["grok:y"] = body("failed", fail_reason="policy")
        await until(pilot, lambda: any("batch is done" in w for w in written))
    ready = next(w for w in written if "a video is ready" in w)
    assert ready.startswith("\x1b]9;")
    assert ready.endswith("\x07")
    assert "x" in ready
    assert any("All 2 marked tasks are done: 1 succeeded, 1 failed." in t for t in h.toasts)


async def test_marking_finished_tasks_does_not_announce_a_batch(tmp_path: Path) -> None:
    gateway = FakeGateway({"grok:x": body("completed", URL.format("x"))})
    h = make_app(
        tmp_path,
        [record("grok:x", State.SUCCEEDED, label="x"), record("grok:y", State.RUNNING)],
        key=KEY,
        gateway=gateway,
    )
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("space")  # x, finished long ago
        await until(pilot, lambda: len(gateway.calls) >= 3)  # y is polled, updates flow
        asked = gateway.calls.count("grok:x")
        await pilot.press("r")  # x asked again: same answer
        await until(pilot, lambda: gateway.calls.count("grok:x") > asked)
        await pilot.pause(0.3)  # a window for the answer to reach the screen: no toast may come
        assert not any("marked" in t for t in h.toasts)


async def test_the_finish_toast_offers_c_only_for_the_highlighted_task(tmp_path: Path) -> None:
    ids = ["grok:a", "grok:b"]
    gateway = FakeGateway({i: body("processing") for i in ids})
    h = make_app(
        tmp_path, [record(i, State.RUNNING, label=i[-1]) for i in ids], key=KEY, gateway=gateway
    )
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: len(gateway.calls) >= 2)
        assert table(h).cursor_id == "grok:a"
        gateway.bodies["grok:b"] = body("completed", URL.format("b"))
        await until(pilot, lambda: any(t.startswith("Finished: b") for t in h.toasts))
        assert "Finished: b" in h.toasts  # c would copy a's URL (none yet): not offered


async def test_a_wave_of_finishes_is_one_toast_and_one_bell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wave must land inside the gap however loaded the machine: the gap is an hour,
    # and the test ends it itself (as the timer would) once the wave has landed.
    monkeypatch.setattr("vidwatch.ui.controllers.announcer.ANNOUNCE_GAP", 3600.0)
    ids = ["grok:a", "grok:b", "grok:c", "grok:d"]
    gateway = FakeGateway({i: body("processing") for i in ids})
    h = make_app(
        tmp_path, [record(i, State.RUNNING, label=i[-1]) for i in ids], key=KEY, gateway=gateway
    )
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: len(gateway.calls) >= 4)
        gateway.bodies["grok:a"] = body("completed", URL.format("a"))
        await until(pilot, lambda: "Finished: a — press c to copy its URL" in h.toasts)
        for job in ids[1:]:  # three more at once, polled within a moment
            answer = body("failed") if job == "grok:d" else body("completed", URL.format(job))
            gateway.bodies[job] = answer
        await until(pilot, lambda: all(h.app.session.records[j].result.final for j in ids))
        await until(pilot, lambda: len(h.app.announcer.finished) == 3)  # the screen heard
        assert len(h.toasts) == 1  # held back: the last toast was moments ago
        h.app.announcer.announce_now()  # the gap is over
        await until(pilot, lambda: len(h.toasts) == 2)
        assert h.toasts[1] == "Failed: d · 2 succeeded"  # no "0 …", the failure named
        assert h.bells == 2
        await pilot.pause(0.5)  # a window in which no other toast may come
        assert len(h.toasts) == 2


# --------------------------------------------------------------------------- the view


async def test_filter_sort_and_columns_are_remembered_between_runs(tmp_path: Path) -> None:
    h = four(tmp_path)
    view_file = h.app.options.paths.view_file
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("slash", *"-state:failed", "enter", "s")
        await pilot.press("v")
        assert isinstance(h.app.screen, ColumnsDialog)
        await pilot.press("down", "down", "space", "enter")  # past MODEL and AGE: hide UPDATED
        assert "updated" in table(h).hidden
        assert "UPDATED" not in table(h).render_line(0).text
        hidden = DEFAULT_HIDDEN | {"updated"}
        await until(pilot, lambda: load_view(view_file).hidden == hidden)
    assert load_view(view_file) == View("-state:failed", "state", hidden)
    again = make_app(tmp_path / "second", [], config_file=h.config_file)
    TaskStore(again.tasks).replace_all(list(h.stored().values()))
    async with again.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        t = again.app.main.table
        assert t.filter_text == "-state:failed"
        assert t.sort_key.value == "state"
        assert "grok:d" not in t.view_ids
        assert "UPDATED" not in t.render_line(0).text
        assert again.app.main.query_one("#filter", Input).value == "-state:failed"


async def test_a_view_changed_just_before_quitting_is_kept(tmp_path: Path) -> None:
    h = four(tmp_path)
    view_file = h.app.options.paths.view_file
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("s", "q")  # quit well within the debounce delay
    assert load_view(view_file).sort == "state"


async def test_a_bad_filter_explains_itself_and_keeps_the_view(tmp_path: Path) -> None:
    h = four(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("slash", *"state:failed")
        box = h.app.main.query_one("#filter", Input)
        assert table(h).view_ids == ["grok:d"]
        box.value = "state:succeeded age:soon"  # pasted
        await pilot.pause()
        assert "age:<1h" in str(box.border_title)
        assert "still showing 'state:succeeded'" in str(box.border_title)
        assert box.has_class("-invalid")
        assert table(h).view_ids == ["grok:a", "grok:c"]  # the terms that parse apply
        box.value = "state:succeeded age:<1h"
        await pilot.pause()
        assert box.border_title == ""
        assert not box.has_class("-invalid")
        assert table(h).view_ids == ["grok:a", "grok:c"]
        box.value = "state:succeeded age"  # on the way to age:<1h: a word nothing matches
        await pilot.pause()
        assert table(h).view_ids == []
        box.value = "state:succeeded age:"
        await pilot.pause()
        assert table(h).view_ids == ["grok:a", "grok:c"]  # not the empty 'age' of before
        assert "still showing 'state:succeeded'" in str(box.border_title)
        box.value = "[/] [b]x age:<5"  # typed text in the box's title is never markup
        await pilot.pause()
        shown = Text.from_markup(str(box.border_title)).plain  # as the border draws it
        assert "still showing '[/] [b]x'" in shown
        h.app.export_screenshot()  # drawn without a MarkupError
        assert h.app.is_running
        box.value = "zzz age:<5"  # the usable part matches nothing
        await pilot.pause()
        hint = table(h).render_line(2).text
        assert "finished part of the filter" in hint
        assert "No task matches 'zzz'" not in hint


async def test_a_saved_view_with_a_broken_filter_opens_unfiltered(tmp_path: Path) -> None:
    h = four(tmp_path)
    save_view(h.app.options.paths.view_file, View("age:soon", "nonsense", frozenset({"x"})))
    h2 = four(tmp_path / "two", config_file=h.app.options.paths.config_file)
    async with h2.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        assert len(table(h2).view_ids) == 4
        assert table(h2).sort_key.value == "added"


# --------------------------------------------------------------------------- ETA and timeline


async def test_running_jobs_show_an_eta_and_the_header_how_long_jobs_take(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway({"grok:r": body("processing")})
    h = make_app(tmp_path, [record("grok:r", State.RUNNING)], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(180, 30)) as pilot:
        for seconds in (60, 80, 90, 100, 120):
            h.app.poller.scheduler.durations.observe("grok", seconds)
        await until(pilot, lambda: bool(gateway.calls))
        h.app.tick()
        await pilot.pause()
        header = h.app.main.query_one(StatusBar).render().plain
        assert "jobs take 1m30s (p90 2m, 5 seen)" in header
        row = table(h).render_line(1).text
        assert "~" in row or "late" in row  # the ETA column
        facts = h.app.main.query_one(DetailPane).section_text("facts")
        assert "ETA" in facts


async def test_the_detail_pane_shows_the_timeline(tmp_path: Path) -> None:
    history = (
        Transition(State.QUEUED, "pending", T0 - timedelta(seconds=100)),
        Transition(State.RUNNING, "processing", T0 - timedelta(seconds=92)),
        Transition(State.SUCCEEDED, "completed", T0 - timedelta(seconds=2)),
    )
    done = record("grok:t", State.SUCCEEDED, url=URL.format("t"))
    done = replace(done, result=replace(done.result, history=history))
    h = make_app(tmp_path, [done])
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        timeline = h.app.main.query_one(DetailPane).section_text("timeline")
    lines = timeline.splitlines()
    assert lines[0] == "Timeline"
    assert "◷ queued" in lines[1]
    assert "▶ running" in lines[2]
    assert "+8s" in lines[2]
    assert "✔ succeeded" in lines[3]
    assert "+1m30s" in lines[3]
    assert lines[4] == "ran 1m30s, 1m38s in all"


def test_a_result_without_history_has_no_timeline() -> None:
    assert TaskResult().ran_for() is None


@pytest.mark.parametrize("size", [(60, 15), (120, 30)])
async def test_the_new_keys_never_crash_small_or_large(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    h = four(tmp_path)
    async with h.app.run_test(size=size) as pilot:
        for key in ("space", "shift+down", "shift+up", "asterisk", "D", "e", "escape", "v"):
            await pilot.press(key)
        await pilot.press("escape", "escape")
        assert h.app.is_running
