"""The dashboard driven through Textual's Pilot: every binding, as a user presses it."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from textual import events
from textual.widget import Widget
from textual.widgets import Input
from vidwatch.core.model.records import Problem, State, Task, TaskRecord, TaskResult
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.events import StatusChange
from vidwatch.core.runtime.clipboard import OpenResult
from vidwatch.core.store.task_file import TaskStore
from vidwatch.ui.app import VidwatchApp
from vidwatch.ui.dialogs.add import AddDialog
from vidwatch.ui.dialogs.confirm import ConfirmDialog
from vidwatch.ui.dialogs.label import LabelDialog
from vidwatch.ui.screens.help import HelpScreen
from vidwatch.ui.screens.main import MainScreen
from vidwatch.ui.widgets.detail import DetailPane
from vidwatch.ui.widgets.footer import KeyFooter
from vidwatch.ui.widgets.header import StatusBar
from vidwatch.ui.widgets.rows import SortKey
from vidwatch.ui.widgets.task_table import TaskTable

from tests.support.dashboard import KEY, T0, FakeGateway, Harness, body, make_app, record
from tests.support.waits import DEADLINE, eventually, until

pytestmark = pytest.mark.ui

URL_A = "https://cdn.example/a.mp4?sig=1"
URL_C = "https://cdn.example/c.mp4?sig=3"


def three(tmp_path: Path, **kw: object) -> Harness:
    return make_app(
        tmp_path,
        [
            record("grok:a", State.SUCCEEDED, label="cow", url=URL_A, prompt="```\nA cow\n```"),
            record("sora-2:b", State.RUNNING, prompt="a cat"),
            record("veo3.1-fast:c", State.SUCCEEDED, url=URL_C),
        ],
        **kw,  # type: ignore[arg-type]
    )


def table(h: Harness) -> TaskTable:
    return h.app.main.table


def focused(h: Harness) -> Widget | None:
    return h.app.focused


def screen_text(h: Harness) -> str:
    t = table(h)
    return "\n".join(t.render_line(y).text for y in range(t.size.height))


# --------------------------------------------------------------------------- start


async def test_opens_on_the_stored_list_with_counts_and_a_key_banner(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        assert table(h).view_ids == ["grok:a", "sora-2:b", "veo3.1-fast:c"]
        bar = h.app.main.query_one(StatusBar)
        assert dict(bar.counts) == {State.SUCCEEDED: 2, State.RUNNING: 1}
        assert bar.status.offline
        assert "offline" in bar.render().plain
        banner = h.app.main.banner_text()
        assert "No API key" in banner
        assert "QUICKROUTER_API_KEY" in banner
        assert h.gateway.calls == []  # nothing is polled without a key
        assert h.app.main.current is not None
        assert h.app.main.current.id == "grok:a"


async def test_the_detail_pane_follows_the_cursor(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        detail = h.app.main.query_one(DetailPane)
        await pilot.press("down")
        await until(pilot, lambda: detail.record is not None and detail.record.id == "sora-2:b")
        facts = detail.section_text("facts")
        assert "sora-2:b" in facts
        assert "running" in facts
        await pilot.press("down")
        await until(pilot, lambda: URL_C in detail.section_text("url"))


async def test_a_task_the_server_does_not_know_has_one_name_in_row_and_detail(
    tmp_path: Path,
) -> None:
    lost = TaskRecord(
        Task("grok:gone", T0),
        TaskResult(State.UNKNOWN, "", checked_at=T0, problem=Problem.NOT_FOUND, error="404"),
    )
    h = make_app(tmp_path, [lost, record("grok:new")])
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        detail = h.app.main.query_one(DetailPane)
        assert "! not found" in screen_text(h)
        facts = detail.section_text("facts")
        assert "! not found (counted as ? unknown)" in facts
        await pilot.press("down")
        assert "· new (not checked yet)" in detail.section_text("facts")


# --------------------------------------------------------------------------- keys


async def test_a_adds_pasted_ids_with_a_label_and_reports_rejects(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("a")
        assert isinstance(h.app.screen, AddDialog)
        h.app.screen.query_one("#add-ids").insert("grok:new1, grok:new2\ngrok:a bad\x07id")  # type: ignore[attr-defined]
        h.app.screen.query_one("#add-label", Input).value = "batch 7"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(h.app.screen, MainScreen)
        assert table(h).view_ids[-2:] == ["grok:new1", "grok:new2"]
        assert table(h).cursor_id == "grok:new2"
        assert "Added 2 tasks, 1 already watched, 1 rejected" in h.last_toast()
        assert "control character" in h.last_toast()
        await until(pilot, lambda: "grok:new2" in h.stored())
        assert h.stored()["grok:new1"].task.label == "batch 7"


async def test_the_add_dialog_scrolls_to_the_label_on_a_short_terminal(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(60, 15)) as pilot:
        await pilot.press("a")
        dialog = h.app.screen.query_one("#dialog")
        await pilot.press("x", "tab", *"cows")
        await pilot.pause()
        label = h.app.screen.query_one("#add-label", Input)
        assert label.has_focus
        assert dialog.scrollable_content_region.contains_region(label.region)
        await pilot.press("tab", "tab")  # on to the buttons, also reachable
        await pilot.pause()
        button = h.app.focused
        assert button is not None
        assert dialog.scrollable_content_region.contains_region(button.region)


async def test_escape_cancels_the_add_dialog(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("a", "x", "escape")  # something typed: asked first
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))
        assert len(table(h).view_ids) == 3


async def test_c_copies_the_highlighted_url_and_says_how(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert h.clipboard.copied == [URL_A]
        assert "tmux buffer" in h.last_toast()
        await pilot.press("down", "c")
        await pilot.pause()
        assert h.clipboard.copied == [URL_A]  # nothing copied for a running job
        assert "Nothing copied" in h.last_toast()
        assert "running" in h.last_toast()


async def test_c_falls_back_to_osc52_and_says_so(tmp_path: Path) -> None:
    h = three(tmp_path)
    h.clipboard.method = "osc52"
    sent: list[str] = []
    async with h.app.run_test(size=(160, 30)) as pilot:
        h.app.copy_to_clipboard = sent.append  # type: ignore[method-assign,assignment]
        await pilot.press("c")
        await pilot.pause()
        assert sent == [URL_A]
        assert "OSC 52" in h.last_toast()


async def test_shift_c_copies_every_finished_url_in_the_view(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("C")
        await pilot.pause()
        assert h.clipboard.copied == [f"{URL_A}\n{URL_C}\n"]
        assert "2 URLs" in h.last_toast()
        await pilot.press("slash", *"veo", "enter", "C")
        await pilot.pause()
        assert h.clipboard.copied[-1] == f"{URL_C}\n"


async def test_o_opens_or_copies_instead_and_refuses_nothing_to_open(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("o")
        await pilot.pause()
        assert h.browser.opened == [URL_A]
        assert "Opened" in h.last_toast()
        h.browser.result = OpenResult(False, True, "over SSH a browser would open elsewhere")
        await pilot.press("o")
        await pilot.pause()
        assert h.clipboard.copied == [URL_A]
        assert h.last_toast().startswith("Not opened (over SSH")
        assert "copied the URL to the tmux buffer" in h.last_toast()
        assert "SSH" in h.last_toast()
        h.browser.result = OpenResult(False, False, "refused: it starts with '-'")
        await pilot.press("o")
        await pilot.pause()
        assert "Not opened: refused" in h.last_toast()
        await pilot.press("down", "o")
        await pilot.pause()
        assert "Nothing to open" in h.last_toast()


async def test_r_and_shift_r_poll_now(tmp_path: Path) -> None:
    gateway = FakeGateway(
        {
            "grok:a": body("completed", URL_A),
            "sora-2:b": body("processing"),
            "veo3.1-fast:c": body("completed", URL_C),
        }
    )
    slow = Policy(min_interval=30, max_interval=60, concurrency=4, max_requests_per_second=100)
    h = three(tmp_path, key=KEY, gateway=gateway, policy=slow)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: gateway.calls.count("sora-2:b") == 1)
        assert "grok:a" not in gateway.calls  # finished tasks are left alone
        await pilot.press("r")  # the cursor is on grok:a: a finished task, checked on request
        await until(pilot, lambda: "grok:a" in gateway.calls)
        assert "Checking cow now." in h.toasts
        await pilot.press("R")
        await until(pilot, lambda: gateway.calls.count("sora-2:b") == 2)
        assert any("Checking 1 unfinished task now" in t for t in h.toasts)
        assert set(gateway.seen_keys) == {f"Bearer {KEY}"}


async def test_the_request_rate_in_the_header_falls_when_polling_goes_quiet(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway({"sora-2:b": body("completed", URL_A)})
    h = three(tmp_path, key=KEY, gateway=gateway)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: gateway.calls.count("sora-2:b") == 1)
        h.app.tick()
        assert h.app.main.status.requests_per_minute == 1
        clock = h.app.poller.clock
        h.app.poller.clock = lambda: clock() + 61.0  # a minute later, every task finished
        h.app.tick()
        assert h.app.main.status.requests_per_minute == 0
        await pilot.pause()
        assert "0 req/min" in str(h.app.main.query_one(StatusBar).render())


async def test_p_pauses_and_resumes(tmp_path: Path) -> None:
    gateway = FakeGateway({"sora-2:b": body("processing")})
    h = make_app(tmp_path, [record("sora-2:b", State.RUNNING)], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: len(gateway.calls) >= 1)
        assert footer_keys(h)["p"] == "Pause"
        await pilot.press("p")
        bar = h.app.main.query_one(StatusBar)
        assert bar.status.paused
        assert "paused" in bar.render().plain
        await pilot.pause()
        assert footer_keys(h)["p"] == "Resume"
        palette = {c.title: c for c in h.app.get_system_commands(h.app.main)}
        assert "Pause" not in palette  # named for what it does now
        await palette["Resume"].callback()
        await pilot.pause()
        assert not bar.status.paused
        await pilot.press("p")
        await pilot.pause()
        assert bar.status.paused
        await until(pilot, lambda: not h.app.poller.is_polling("sora-2:b"))  # none in flight
        frozen = len(gateway.calls)
        await pilot.pause(0.4)  # a window in which nothing may be asked
        assert len(gateway.calls) == frozen
        await pilot.press("p")
        assert not bar.status.paused
        await until(pilot, lambda: len(gateway.calls) > frozen + 2)
        assert footer_keys(h)["p"] == "Pause"


async def test_the_footer_works_its_keys_out_again_only_when_they_change(tmp_path: Path) -> None:
    # Textual's footer is built again at every focus change: a dozen widgets mounted and
    # styled per key press that moves the focus, whether the keys changed or not.
    gateway = FakeGateway({"sora-2:b": body("processing")})
    h = make_app(tmp_path, [record("sora-2:b", State.RUNNING)], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(160, 30)) as pilot:
        footer = h.app.main.query_one(KeyFooter)

        def shown() -> str:
            return next((k.description for k in footer.shown if k.key == "p"), "")

        await until(pilot, lambda: shown() == "Pause")
        before = footer.keys
        for _ in range(3):
            h.app.main.refresh_bindings()
            await pilot.pause()
        h.app.main.focus_next()
        await pilot.pause()
        assert footer.keys is before  # the same keys: nothing worked out again
        await pilot.press("p")
        await until(pilot, lambda: shown() == "Resume")  # a changed key is shown at once
        assert len(footer.query("*")) == 0  # one widget draws the line


async def test_a_rejected_key_shows_a_banner_and_p_retries_with_the_new_one(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway({"sora-2:b": body("processing")}, status=401)
    h = make_app(tmp_path, [record("sora-2:b", State.RUNNING)], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: "rejected" in h.app.main.banner_text())
        assert "press p to retry" in h.app.main.banner_text()
        assert "key rejected" in h.app.main.query_one(StatusBar).render().plain
        assert KEY not in h.app.main.banner_text()
        calls = len(gateway.calls)
        await pilot.pause(0.3)  # a window in which nothing may be asked
        assert len(gateway.calls) == calls  # everything waits for the user
        h.config_file.parent.mkdir(parents=True)
        h.config_file.write_text('api_key = "sk-fixed-key-0001"\n', encoding="utf-8")
        h.config_file.chmod(0o600)
        gateway.status = 200
        await pilot.press("p")
        await until(pilot, lambda: "Bearer sk-fixed-key-0001" in gateway.seen_keys)
        await until(pilot, lambda: "rejected" not in h.app.main.banner_text())


async def test_p_without_a_key_explains_and_starts_once_a_key_is_configured(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway({"sora-2:b": body("completed", URL_A)})
    h = make_app(tmp_path, [record("sora-2:b", State.RUNNING)], gateway=gateway)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("p")
        assert "Still no API key" in h.last_toast()
        h.config_file.parent.mkdir(parents=True)
        h.config_file.write_text(f'api_key = "{KEY}"\n', encoding="utf-8")
        h.config_file.chmod(0o600)
        await pilot.press("p")
        await until(pilot, lambda: table(h).records["sora-2:b"].result.video_url == URL_A)
        assert "No API key" not in h.app.main.banner_text()


@pytest.mark.parametrize("key", ["d", "delete"])
async def test_d_removes_after_confirmation(tmp_path: Path, key: str) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press(key)
        assert isinstance(h.app.screen, ConfirmDialog)
        await pilot.press("n")
        assert table(h).view_ids[0] == "grok:a"
        await pilot.press(key, "y")
        await pilot.pause()
        assert table(h).view_ids == ["sora-2:b", "veo3.1-fast:c"]
        assert table(h).cursor_id == "sora-2:b"
        await until(pilot, lambda: "grok:a" not in h.stored())
        assert "Stopped watching cow" in h.last_toast()


async def test_slash_filters_and_escape_clears(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("slash")
        assert focused(h) is h.app.main.query_one("#filter", Input)
        await pilot.press(*"running")
        assert table(h).view_ids == ["sora-2:b"]
        assert h.app.main.current is not None
        assert h.app.main.current.id == "sora-2:b"
        await pilot.press("escape")
        assert table(h).view_ids == ["grok:a", "sora-2:b", "veo3.1-fast:c"]
        assert table(h).cursor_id == "sora-2:b"  # the cursor stays on its task
        assert focused(h) is table(h)
        await pilot.press("slash", *"COW", "enter")  # label, case-insensitive
        assert table(h).view_ids == ["grok:a"]
        assert focused(h) is table(h)
        await pilot.press("escape")
        assert len(table(h).view_ids) == 3


async def test_the_last_row_is_on_screen_with_a_scrollbar_and_the_filter_open(
    tmp_path: Path,
) -> None:
    """More rows than fit: the vertical scrollbar must not bring a horizontal one that
    covers the last line, with or without the filter box taking room."""
    records = [record(f"grok:{n:02}", State.RUNNING, label=f"job {n:02}") for n in range(40)]
    h = make_app(tmp_path, records)
    async with h.app.run_test(size=(120, 24)) as pilot:
        t = table(h)
        for keys in (("end",), ("slash", "escape", "end")):
            await pilot.press(*keys)
            await pilot.pause()
            assert t.show_vertical_scrollbar
            assert not t.show_horizontal_scrollbar
            line = t.cursor_index - int(t.scroll_y) + 1  # line 0 is the header
            assert 1 <= line < t.scrollable_content_region.height
            assert t.cursor_id == "grok:39"
        await pilot.press("slash")
        await pilot.pause()
        assert not t.show_horizontal_scrollbar
        line = t.cursor_index - int(t.scroll_y) + 1
        assert 1 <= line < t.scrollable_content_region.height


async def test_a_filter_that_hides_every_task_says_so_in_the_detail_pane(
    tmp_path: Path,
) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("slash", *"zzz")
        await pilot.pause()
        detail = h.app.main.query_one(DetailPane)
        assert detail.record is None
        text = "\n".join(detail.render_line(y).text for y in range(3))
        assert "filter hides every task" in text
        assert "Press a to add" not in text
        await pilot.press("enter", "c")
        assert "filter hides every task" in h.last_toast()
        await pilot.press("escape")
        await pilot.pause()
        assert detail.record is not None


async def test_keys_typed_right_after_slash_land_in_the_filter(tmp_path: Path) -> None:
    """Type-ahead (a paste, a slow SSH link): the keys after / are already queued when
    / is handled. They must reach the filter box, never the table (d would remove)."""
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        for key, char in (("slash", "/"), ("i", "i"), ("d", "d"), ("enter", "\r")):
            h.app.post_message(events.Key(key, char))
        await pilot.pause()
        await pilot.pause()
        assert h.app.main.query_one("#filter", Input).value == "id"
        assert isinstance(h.app.screen, MainScreen)  # no "Stop watching?" dialog
        assert len(h.app.session.records) == 3


async def test_enter_typed_ahead_of_the_remove_question_means_no(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        for key, char in (("d", "d"), ("enter", "\r")):
            h.app.post_message(events.Key(key, char))
        await pilot.pause()
        await pilot.pause()
        assert isinstance(h.app.screen, MainScreen)
        assert len(h.app.session.records) == 3  # the focused answer is No


async def test_s_cycles_the_sort_and_keeps_the_cursor(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("down")  # sora-2:b
        await pilot.press("s")
        assert table(h).sort_key is SortKey.STATE
        assert table(h).view_ids[0] == "sora-2:b"  # running before succeeded
        assert table(h).cursor_id == "sora-2:b"
        await pilot.press("s")
        assert table(h).sort_key is SortKey.UPDATED
        await pilot.press("s")
        assert table(h).sort_key is SortKey.ADDED
        assert "Sorted by added" in h.last_toast()


async def test_l_edits_the_label(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("down", "l")
        assert isinstance(h.app.screen, LabelDialog)
        await pilot.press(*"cat take 2", "enter")
        await pilot.pause()
        assert table(h).records["sora-2:b"].task.label == "cat take 2"
        assert "cat take 2" in screen_text(h)
        await until(pilot, lambda: h.stored()["sora-2:b"].task.label == "cat take 2")
        await pilot.press("l", "escape")
        assert table(h).records["sora-2:b"].task.label == "cat take 2"


async def test_question_mark_lists_every_binding(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 40)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(h.app.screen, HelpScreen))
        assert isinstance(h.app.screen, HelpScreen)
        keys = [k for k, _ in h.app.screen.rows]
        for expected in ("a", "c", "C", "o", "r", "R", "p", "/", "esc", "s", "l", "?", "q"):
            assert expected in keys
        assert any("delete" in k or "del" in k for k in keys)
        for expected in ("D", "e", "v"):  # issue 6: download, export, columns
            assert expected in keys
        helps = dict(h.app.screen.rows)
        assert "Mark or unmark" in helps["space"]
        assert "next" in next(v for k, v in helps.items() if "shift" in k)
        assert "Mark every task" in helps["*"]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))


async def test_every_action_is_in_the_command_palette(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 40)):
        titles = {c.title for c in h.app.get_system_commands(h.app.main)}
        for title in ("Add", "Copy URL", "Copy all", "Open", "Refresh", "Refresh all"):
            assert title in titles
        for title in ("Remove", "Filter", "Sort", "Label", "Keys"):
            assert title in titles
        commands = [c.title for c in h.app.get_system_commands(h.app.main)]
        assert commands.count("Keys") == 1  # Textual's own "Keys" gives way to ours
        assert commands.count("Pause") + commands.count("Resume") == 1  # p: one entry
        assert "Resume" in commands  # no key yet: p retries, as after a pause


def footer_keys(h: Harness) -> dict[str, str]:
    """What the footer offers: key -> description."""
    return {
        key: b.binding.description
        for key, b in h.app.main.active_bindings.items()
        if b.enabled and b.binding.show
    }


async def test_palette_commands_work_while_the_filter_box_has_the_focus(
    tmp_path: Path,
) -> None:
    """Letters typed in the box do nothing; a command chosen by name must still run."""
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 40)) as pilot:
        await pilot.press("slash", "c")
        assert isinstance(h.app.focused, Input)
        commands = {c.title: c for c in h.app.get_system_commands(h.app.main)}
        assert "Resume" in commands  # no key: p retries, whatever has the focus
        await commands["Add"].callback()
        await pilot.pause()
        assert isinstance(h.app.screen, AddDialog)


async def test_q_saves_and_quits(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        h.app.session.add(["late:1"], now=T0)  # in memory only, not yet saved
        await pilot.press("q")
        await pilot.pause()
    assert h.app.return_code == 0
    assert "late:1" in h.stored()


async def test_timers_that_fire_while_the_app_shuts_down_touch_no_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the window (not q) takes the screens apart before the app unmounts; the
    clock tick, a poller status and the file watcher can still fire in that gap."""
    h = three(tmp_path)
    fired: list[str] = []
    close_all = VidwatchApp._close_all

    async def close_then_fire(app: VidwatchApp) -> None:
        await close_all(app)
        app.tick()
        app.feed.push(StatusChange(app.poller.status))
        app.feed.flush()
        await app.saver.watch_file()
        app.announcer.finished = [app.session.records["grok:a"]]  # a finish toast to show
        app.announcer.announce_now()
        fired.append("all")

    monkeypatch.setattr(VidwatchApp, "_close_all", close_then_fire)
    async with h.app.run_test(size=(160, 30)) as pilot:
        h.app.session.add(["late:1"], now=T0)
        await pilot.pause()
    assert fired == ["all"]
    assert h.app.return_code in (0, None)
    assert "late:1" in h.stored()


async def test_keys_in_a_dialog_do_not_reach_the_table(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("d")
        await pilot.press("c", "a", "s")  # not copy, add or sort while the question is open
        assert isinstance(h.app.screen, ConfirmDialog)
        assert h.clipboard.copied == []
        await pilot.press("n")
        assert table(h).sort_key is SortKey.ADDED


# --------------------------------------------------------------------------- live behaviour


async def test_cursor_stays_on_its_task_while_updates_arrive(tmp_path: Path) -> None:
    ids = [f"grok:{i:03d}" for i in range(40)]
    gateway = FakeGateway({i: body("pending") for i in ids})
    calm = Policy(min_interval=30, max_interval=60, concurrency=8, max_requests_per_second=1000)
    h = make_app(
        tmp_path, [record(i, State.QUEUED) for i in ids], key=KEY, gateway=gateway, policy=calm
    )
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: len(gateway.calls) == len(ids))
        await pilot.press("s")  # by state: rows move as their states change
        for _ in range(7):
            await pilot.press("down")
        chosen = table(h).cursor_id
        assert chosen == "grok:007"
        for n, task_id in enumerate(ids):
            gateway.bodies[task_id] = body("completed" if n % 3 else "failed", URL_A)
        await pilot.press("R")  # every task answers with a new state, rows re-sort
        await until(pilot, lambda: all(r.result.finished for r in table(h).records.values()))
        assert table(h).view_ids[0] == "grok:000"  # failures sort first
        assert table(h).cursor_id == chosen
        assert h.app.main.current is not None
        assert h.app.main.current.id == chosen
        assert h.app.main.current.result.finished
        await pilot.press("down")
        assert table(h).cursor_id != chosen


async def test_a_finished_job_gets_a_toast_and_the_bell(tmp_path: Path) -> None:
    gateway = FakeGateway({"grok:x": body("processing")})
    h = make_app(tmp_path, [record("grok:x", State.RUNNING, label="x")], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: bool(gateway.calls))
        gateway.bodies["grok:x"] = body("completed", URL_A)
        await until(pilot, lambda: any(t.startswith("Finished: x") for t in h.toasts))
        assert h.bells == 1
        row = next(line for line in screen_text(h).splitlines() if " x " in line)
        assert "✔ succeeded" in row


async def test_the_bell_can_be_turned_off(tmp_path: Path) -> None:
    gateway = FakeGateway({"grok:x": body("processing")})
    h = make_app(tmp_path, [record("grok:x", State.RUNNING)], key=KEY, gateway=gateway, bell=False)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: bool(gateway.calls))
        gateway.bodies["grok:x"] = body("failed", fail_reason="content policy")
        await until(pilot, lambda: any(t.startswith("Failed") for t in h.toasts))
        assert h.bells == 0


async def test_ids_added_in_another_terminal_appear_at_the_next_file_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is checked every second (WATCH_SECONDS): counting checks, not seconds,
    proves "within about a second" without a timed assertion."""
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        checks = [0]
        found: dict[str, int] = {}  # which check (by number) saw each edit
        check_disk = h.app.session.check_disk

        async def counted() -> object:
            checks[0] += 1
            number = checks[0]
            change = await check_disk()
            if any(r.id == "other:2" for r in change.added):
                found.setdefault("added", number)
            if "sora-2:b" in change.removed:
                found.setdefault("removed", number)
            return change

        monkeypatch.setattr(h.app.session, "check_disk", counted)
        before = checks[0]
        TaskStore(h.tasks).add([Task("other:1", T0), Task("other:2", T0)])
        await until(pilot, lambda: "other:2" in table(h).view_ids)
        # the first check that started after the write (or the one under way) saw it
        assert found["added"] - before <= 2
        before = checks[0]
        TaskStore(h.tasks).remove(["sora-2:b"])
        await until(pilot, lambda: "sora-2:b" not in table(h).view_ids)
        assert found["removed"] - before <= 2
    assert set(h.stored()) == {"grok:a", "veo3.1-fast:c", "other:1", "other:2"}


async def test_a_video_downloaded_in_another_terminal_shows_and_stays_noted(
    tmp_path: Path,
) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        TaskStore(h.tasks).set_saved({"grok:a": str(tmp_path / "a.mp4")})  # vidwatch download
        await until(pilot, lambda: h.app.session.records["grok:a"].task.saved_to is not None)
        await pilot.pause()
        assert "◆" in screen_text(h)
        h.app.session.relabel("grok:a", "renamed")  # the dashboard saves its own change
        await h.app.session.save_async()
    assert TaskStore(h.tasks).load().records["grok:a"].task.saved_to == str(tmp_path / "a.mp4")


async def test_results_are_saved_as_they_arrive(tmp_path: Path) -> None:
    gateway = FakeGateway({"grok:x": body("completed", URL_A)})
    h = make_app(tmp_path, [record("grok:x")], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: h.stored()["grok:x"].result.video_url == URL_A)


async def test_a_folder_that_cannot_be_written_keeps_the_app_running(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        shutil.rmtree(h.tasks.parent)
        h.tasks.parent.write_text("a file where the folder was", encoding="utf-8")
        await pilot.press("a")
        h.app.screen.query_one("#add-ids").insert("grok:z")  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Cannot save" in h.app.main.banner_text())
        assert "NOT SAVING" in h.app.main.query_one(StatusBar).render().plain
        assert "grok:z" in table(h).view_ids  # kept in memory
        assert h.app.is_running


async def test_a_narrow_terminal_folds_the_detail_pane(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(60, 15)) as pilot:
        await pilot.pause()
        assert h.app.main.has_class("-narrow")
        assert not h.app.main.query_one(DetailPane).display
        await pilot.press("down", "c", "s", "question_mark", "escape")
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert not h.app.main.has_class("-narrow")
        assert h.app.main.query_one(DetailPane).display


async def test_p_with_a_broken_key_in_the_config_explains_and_keeps_running(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway({"sora-2:b": body("processing")}, status=401)
    h = make_app(tmp_path, [record("sora-2:b", State.RUNNING)], key=KEY, gateway=gateway)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: "rejected" in h.app.main.banner_text())
        h.config_file.parent.mkdir(parents=True)
        h.config_file.write_text('api_key = "sk-new\u200bkey-1234"\n', encoding="utf-8")
        h.config_file.chmod(0o600)
        await pilot.press("p")
        await pilot.pause()
        assert "cannot be sent" in h.last_toast()
        assert "sk-new" not in h.last_toast()
        assert h.app.is_running
        assert h.app.poller.status.auth_error  # still waiting for a usable key


async def test_a_crash_says_one_sentence_and_never_shows_local_variables(
    tmp_path: Path,
) -> None:
    h = three(tmp_path, key=KEY, gateway=FakeGateway(hang=True))
    shown: list[str] = []
    panic = h.app.panic

    def recording_panic(*renderables: object) -> None:
        shown.extend(str(r) for r in renderables)
        panic(*renderables)  # type: ignore[arg-type]

    h.app.panic = recording_panic  # type: ignore[method-assign]
    secret_local = KEY  # what Textual's own crash report would print

    def explode() -> None:
        raise RuntimeError(f"boom near {secret_local[:3]}")

    async def run() -> None:
        async with h.app.run_test(size=(160, 30)):
            h.app.main.tick = explode  # type: ignore[method-assign]
            await eventually(lambda: shown)  # the next once-a-second tick raises

    with pytest.raises(RuntimeError, match="boom"):
        await run()
    text = " ".join(shown)
    assert "vidwatch stopped after an internal error (RuntimeError: boom near sk-)" in text
    assert KEY not in text
    assert "secret_local" not in text
    assert h.app.return_code == 1


async def test_quitting_while_a_failing_save_runs_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vidwatch.core.store.task_file import StoreError

    h = three(tmp_path)

    saving, quitting = threading.Event(), threading.Event()

    def slow_failure(*args: object, **kwargs: object) -> None:
        saving.set()
        quitting.wait(DEADLINE)  # the disk answers once the user has pressed q
        raise StoreError("Cannot save the task list to /x: the disk is full.")

    async with h.app.run_test(size=(160, 30)) as pilot:
        monkeypatch.setattr(h.app.session.store, "save_records", slow_failure)
        h.app.session.add(["grok:late"])  # an edit: saved at once
        await eventually(saving.is_set)  # the save is under way (in its thread)
        h.app.post_message(events.Key("q", "q"))  # q, queued while the save runs
        quitting.set()
        await pilot.pause()
    assert h.app.unsaved_error is not None
    assert "the disk is full" in h.app.unsaved_error


@pytest.mark.parametrize("size", [(60, 15), (40, 10), (24, 8), (12, 5)])
async def test_small_terminals_degrade_gracefully(tmp_path: Path, size: tuple[int, int]) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=size) as pilot:
        await pilot.pause()
        assert not h.app.main.query_one(DetailPane).display
        keys = ["down", "up", "c", "C", "s", "o", "r", "R", "p", "p", "question_mark"]
        keys += ["escape", "slash", "x", "escape", "a", "escape", "d", "n", "l", "escape"]
        for key in keys:
            await pilot.press(key)
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        await pilot.resize_terminal(*size)
        await pilot.pause()
        h.app.main.tick()
        h.app.export_screenshot()  # everything still renders
        assert h.app.is_running
        assert isinstance(h.app.screen, MainScreen)
        t = table(h)
        assert t.scrollable_content_region.height >= 2  # the header line and a task, at least
        bar = h.app.main.query_one(StatusBar)
        shown = bar.render().plain[: bar.size.width]
        assert "offline" in shown  # what polling does is never cut off


async def test_a_narrow_header_keeps_the_polling_state_and_the_counts(tmp_path: Path) -> None:
    h = three(tmp_path)
    async with h.app.run_test(size=(60, 15)) as pilot:
        await pilot.pause()
        bar = h.app.main.query_one(StatusBar)
        line = bar.render().plain
        assert len(line) <= 60
        assert "offline" in line
        assert "✔ 2" in line
        assert "▶ 1" in line
        await pilot.resize_terminal(160, 30)
        await pilot.pause()
        assert "✔ 2 succeeded" in bar.render().plain
        h.app.main.demo = True
        await pilot.resize_terminal(14, 6)
        await pilot.pause()
        assert bar.render().plain[:14].startswith(" vw  offline")  # before DEMO, not cut
