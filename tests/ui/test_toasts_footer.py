"""What stays in sight at the most common terminal size: the footer's Help and Quit, and
the box being typed in (toasts keep clear of it and do not pile up)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Input, TextArea
from vidwatch.core.gateway.outcomes import Ok
from vidwatch.core.model.records import State, TaskRecord
from vidwatch.core.polling.events import TaskUpdate
from vidwatch.ui.dialogs.add import AddDialog
from vidwatch.ui.screens.help import HelpScreen
from vidwatch.ui.textual_private import Toast, ToastRack, shown_notifications
from vidwatch.ui.widgets.footer import KeyFooter, ShownKey
from vidwatch.ui.widgets.toasts import MAX_TOASTS

from tests.support.dashboard import Harness, make_app, record
from tests.support.waits import until

pytestmark = pytest.mark.ui


def some(tmp_path: Path) -> Harness:
    return make_app(tmp_path, [record(f"grok:{n}", State.RUNNING) for n in range(5)])


def footer_keys(h: Harness) -> list[ShownKey]:
    return list(h.app.screen.query_one(KeyFooter).shown)


def shown_whole(h: Harness, key: ShownKey) -> bool:
    """Every cell of the key is on screen, drawn by the footer, and shows the key itself."""
    footer = h.app.screen.query_one(KeyFooter)
    region = footer.region
    if not region or key.x + key.width > min(region.width, h.app.screen.size.width):
        return False
    drawn = footer.render().plain[key.x : key.x + key.width]
    return drawn == key.text and all(
        h.app.screen.get_widget_at(region.x + x, region.y)[0] is footer
        for x in range(key.x, key.x + key.width)
    )


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (60, 20)])
async def test_help_and_quit_stay_in_the_footer(tmp_path: Path, size: tuple[int, int]) -> None:
    h = some(tmp_path)
    async with h.app.run_test(size=size) as pilot:
        await until(pilot, lambda: len(footer_keys(h)) >= 3)
        await pilot.pause()
        keys = footer_keys(h)
        by_action = {k.action: k for k in keys}
        assert {"help", "quit"} <= set(by_action)
        assert by_action["help"].key_display == "?"
        assert by_action["quit"].key_display == "q"
        assert all(shown_whole(h, k) for k in keys)  # none cut, none hidden under another
        assert "add" in by_action  # the screen's own keys fill the rest


async def test_the_footer_refits_when_the_terminal_grows(tmp_path: Path) -> None:
    h = some(tmp_path)

    def fitted() -> bool:
        keys = footer_keys(h)
        return len(keys) >= 3 and all(shown_whole(h, k) for k in keys)

    async with h.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, fitted)
        narrow = len(footer_keys(h))
        await pilot.resize_terminal(160, 24)
        await until(pilot, lambda: fitted() and len(footer_keys(h)) > narrow)
        await pilot.resize_terminal(60, 24)
        await until(pilot, lambda: fitted() and len(footer_keys(h)) < narrow)
        assert {"help", "quit"} <= {k.action for k in footer_keys(h)}


async def test_a_click_on_a_footer_key_presses_it_and_the_mouse_over_it_says_what_it_does(
    tmp_path: Path,
) -> None:
    h = some(tmp_path)
    async with h.app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: len(footer_keys(h)) >= 3)
        footer = h.app.screen.query_one(KeyFooter)
        help_key = next(k for k in footer_keys(h) if k.action == "help")
        await pilot.hover(KeyFooter, offset=(help_key.x + 1, 0))
        await until(pilot, lambda: footer.tooltip == help_key.tooltip)
        assert help_key.tooltip
        gap = next(x for x in range(footer.size.width) if footer.key_at(x) is None)
        await pilot.hover(KeyFooter, offset=(gap, 0))  # between the keys: nothing
        await until(pilot, lambda: footer.tooltip is None)
        await pilot.click(KeyFooter, offset=(help_key.x + 1, 0))
        await until(pilot, lambda: isinstance(h.app.screen, HelpScreen))


def covered_cells(h: Harness, box: Widget) -> list[tuple[int, int]]:
    """Cells of ``box`` where a toast is drawn instead."""
    screen = h.app.screen
    region = box.region
    hits = []
    for y in range(region.y, region.bottom):
        for x in range(region.x, region.right):
            widget, _ = screen.get_widget_at(x, y)
            if isinstance(widget, Toast) or any(isinstance(a, Toast) for a in widget.ancestors):
                hits.append((x, y))
    return hits


def toasts(h: Harness) -> list[Toast]:
    return list(h.app.screen.query(Toast))


def drawn(h: Harness, toast: Toast) -> bool:
    """Some cell of the toast is on screen."""
    region = toast.region
    if not region:
        return False
    found, _ = h.app.screen.get_widget_at(region.x + 1, region.y + region.height // 2)
    return found is toast or toast in found.ancestors


async def test_toasts_keep_clear_of_the_filter_box_and_do_not_pile_up(tmp_path: Path) -> None:
    h = some(tmp_path)
    async with h.app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("slash", "c", "o", "w")
        box = h.app.main.query_one("#filter", Input)
        assert h.app.screen.focused is box
        for n in range(6):
            h.app.notify(f"Something happened, number {n}: a sentence long enough to wrap.")
        await until(pilot, lambda: len(toasts(h)) >= 1)
        await pilot.pause()
        assert len(toasts(h)) <= MAX_TOASTS
        assert "number 5" in str(toasts(h)[-1].render())  # the newest is among them
        assert covered_cells(h, box) == []
        await pilot.press("x")  # typing still lands in the box
        assert box.value == "cowx"


async def test_toasts_keep_clear_of_a_dialogs_field(tmp_path: Path) -> None:
    h = some(tmp_path)
    async with h.app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("a")
        await until(pilot, lambda: isinstance(h.app.screen, AddDialog))
        await pilot.pause()
        field = h.app.screen.focused
        assert isinstance(field, TextArea)
        for n in range(4):
            h.app.notify(f"Finished: demo {n:02d} — press c to copy its URL")
        await pilot.pause()  # shown beside the dialog, or held until it closes
        await pilot.pause()
        assert covered_cells(h, field) == []


async def test_the_same_toast_again_is_counted_not_repeated(tmp_path: Path) -> None:
    h = some(tmp_path)
    async with h.app.run_test(size=(80, 24), notifications=True) as pilot:
        for _ in range(3):
            await pilot.press("escape")  # "Nothing to clear. Press q to quit."
        await until(pilot, lambda: len(toasts(h)) >= 1)
        await pilot.pause()
        shown = [str(t.render()) for t in toasts(h)]
        assert len(shown) == 1
        assert "Nothing to clear" in shown[0]
        assert "(×3)" in shown[0]


@pytest.mark.parametrize(("key", "size"), [("a", (120, 40)), ("a", (80, 24)), ("n", (100, 30))])
async def test_toasts_never_cover_a_dialog(tmp_path: Path, key: str, size: tuple[int, int]) -> None:
    """A toast over a dialog hid its title and fields (the new-job dialog in the demo)."""
    from textual.screen import ModalScreen

    h = make_app(tmp_path, [record(f"grok:{n}", State.RUNNING) for n in range(5)], key="sk-test-1")
    async with h.app.run_test(size=size, notifications=True) as pilot:
        await pilot.press(key)
        await until(pilot, lambda: isinstance(h.app.screen, ModalScreen))
        await pilot.pause()
        for n in range(4):
            h.app.notify(f"Finished: demo {n:02d} — press c to copy its URL")
        await pilot.pause()
        await pilot.pause()
        for dialog in h.app.screen.children:
            if not isinstance(dialog, ToastRack):
                assert covered_cells(h, dialog) == []


@pytest.mark.parametrize("size", [(160, 45), (80, 24)])
async def test_toasts_keep_clear_of_the_help_dialog(tmp_path: Path, size: tuple[int, int]) -> None:
    h = make_app(tmp_path, [record("grok:a", State.RUNNING)])
    async with h.app.run_test(size=size, notifications=True) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(h.app.screen, HelpScreen))
        for n in range(3):
            h.app.notify(f"Finished: demo {n:02d}, a sentence long enough to take room")
        await until(pilot, lambda: len(toasts(h)) >= 1)
        await pilot.pause()
        dialog = h.app.screen.query_one("#help")
        assert covered_cells(h, dialog) == []
        if size[1] >= 45:  # room above or below the dialog: they show there
            assert any(drawn(h, t) for t in toasts(h))


async def test_toasts_keep_clear_of_the_filter_box_after_enter(tmp_path: Path) -> None:
    h = make_app(tmp_path, [record(f"grok:{n}", State.RUNNING) for n in range(3)])
    async with h.app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("slash", "g", "r", "o", "k", "enter")
        box = h.app.main.query_one("#filter", Input)
        await until(pilot, lambda: h.app.focused is h.app.main.table)
        assert box.display
        for n in range(3):
            h.app.notify(f"Finished: demo {n:02d}, a sentence long enough to take room")
        await until(pilot, lambda: any(drawn(h, t) for t in toasts(h)))
        assert covered_cells(h, box) == []


# ---------------------------------------------------------------- finishes (issue 21, 8)


def running(n: int) -> list[TaskRecord]:
    return [record(f"grok:{i}", State.RUNNING, label=f"job {i}") for i in range(n)]


def finish(h: Harness, *ids: str, failed: tuple[str, ...] = ()) -> None:
    """Finishes in one batch, as the poller reports them (the wave is announced now or
    held: announce_now sums up what is held)."""
    updates = []
    for task_id in ids + failed:
        state = State.FAILED if task_id in failed else State.SUCCEEDED
        before = h.app.session.records[task_id]
        after = replace(before.result, state=state, status=state.value)
        updates.append(TaskUpdate(TaskRecord(before.task, after), before.result, Ok(after)))
    h.app.announcer.on_changes(updates)


def toast_texts(h: Harness) -> list[str]:
    return [str(t.render()) for t in toasts(h)]


async def test_waves_of_successes_are_one_quiet_toast_without_zeros(tmp_path: Path) -> None:
    """The demo piled up "2 succeeded, 0 failed (×2)" and "Finished: demo 08"."""
    h = make_app(tmp_path, running(6))
    async with h.app.run_test(size=(120, 35), notifications=True) as pilot:
        announcer = h.app.announcer
        finish(h, "grok:1", "grok:2")
        announcer.announce_now()
        await until(pilot, lambda: len(toasts(h)) == 1)
        finish(h, "grok:3", "grok:4")
        announcer.announce_now()  # the same words again: in place, not counted
        finish(h, "grok:5")
        announcer.announce_now()
        await until(pilot, lambda: any("job 5" in t for t in toast_texts(h)))
        await pilot.pause()
        texts = toast_texts(h)
        assert len(texts) == 1, texts  # one summary at a time
        assert all("×" not in t and "0 failed" not in t for t in h.toasts + texts)
        assert h.toasts[:2] == ["2 finished", "2 finished"]
        (shown,) = shown_notifications(h.app)
        assert shown.timeout <= 5  # quiet: it goes soon
        assert shown.severity == "information"


async def test_a_failure_asks_for_attention_and_is_named(tmp_path: Path) -> None:
    h = make_app(tmp_path, running(4))
    async with h.app.run_test(size=(120, 35), notifications=True) as pilot:
        finish(h, "grok:1", failed=("grok:2",))
        await until(pilot, lambda: len(toasts(h)) == 1)
        (shown,) = shown_notifications(h.app)
        assert shown.severity == "error"
        assert shown.message == "Failed: job 2 · 1 succeeded"


@pytest.mark.parametrize("size", [(120, 35), (160, 45)])
async def test_toasts_never_cover_the_detail_pane(tmp_path: Path, size: tuple[int, int]) -> None:
    h = make_app(tmp_path, running(30))
    async with h.app.run_test(size=size, notifications=True) as pilot:
        detail = h.app.main.detail
        await until(pilot, lambda: bool(detail.region))
        for n in range(3):
            h.app.notify(f"Something happened, number {n}: a sentence long enough to wrap.")
        await until(pilot, lambda: len(toasts(h)) == 3 and all(drawn(h, t) for t in toasts(h)))
        await pilot.pause()
        assert covered_cells(h, detail) == []
        await pilot.press("slash")  # the filter box open: still clear of the pane
        await pilot.pause()
        await pilot.pause()
        assert covered_cells(h, detail) == []


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
async def test_a_toast_reaches_the_edge_of_its_room(tmp_path: Path, size: tuple[int, int]) -> None:
    """No column of the table shows beside a toast (a row's "…" looked like part of it):
    its right edge is the screen's, or the detail pane's where that shows."""
    h = make_app(tmp_path, running(30))
    async with h.app.run_test(size=size, notifications=True) as pilot:
        h.app.notify("Something happened")
        await until(pilot, lambda: len(toasts(h)) == 1 and drawn(h, toasts(h)[0]))
        await pilot.pause()
        detail = h.app.main.detail
        edge = detail.region.x if detail.display and detail.region else size[0]
        assert toasts(h)[0].region.right == edge


@pytest.mark.parametrize("size", [(120, 35), (80, 24)])
async def test_a_toast_shows_once_while_a_dialog_is_open(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """A toast shown before a dialog opened stayed drawn on the screen behind it, beside
    its copy on the dialog's screen: every message twice, side by side."""
    from textual.screen import ModalScreen

    h = make_app(tmp_path, running(5), key="sk-test-1")

    def racks_showing() -> list[object]:
        return [
            screen
            for screen in h.app.screen_stack
            for rack in screen.query(ToastRack)
            if rack.display and list(rack.query(Toast))
        ]

    async with h.app.run_test(size=size, notifications=True) as pilot:
        h.app.notify("Sorted by state.", timeout=60)
        await until(pilot, lambda: len(toasts(h)) == 1 and drawn(h, toasts(h)[0]))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(h.app.screen, ModalScreen))
        await until(pilot, lambda: racks_showing() == [h.app.screen])  # the dialog's own
        await pilot.press("escape")
        await until(pilot, lambda: h.app.screen is h.app.main)
        await until(pilot, lambda: racks_showing() == [h.app.main])  # back behind none


class _WideKeys(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "bell", "添加任务"),
        Binding("b", "bell", "复制链接地址", key_display="b"),
        Binding("c", "toggle_dark", "打开视频文件"),
        Binding("question_mark", "help", "帮助"),
    ]

    def compose(self) -> ComposeResult:
        yield KeyFooter()

    def action_help(self) -> None:
        self.bell()


async def test_keys_with_wide_characters_are_placed_by_their_cells() -> None:
    app = _WideKeys()
    async with app.run_test(size=(40, 5)) as pilot:
        footer = app.query_one(KeyFooter)
        await until(pilot, lambda: bool(footer.shown))
        shown = footer.shown
        assert all(k.width == cell_len(k.text) for k in shown)
        assert max(k.x + k.width for k in shown) <= 40
        assert any(k.action == "help" for k in shown)  # pinned, at the right
        assert len(shown) < len(footer.keys)  # what does not fit whole is left out
        line = footer.render()
        assert cell_len(line.plain) <= 40
        assert all(k.text in line.plain for k in shown)
