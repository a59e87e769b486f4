"""The main screen: header, banner, task table, detail pane, filter, footer.

State flows down: the app hands this screen typed records and the poller's
status; the screen binds its reactives into the header (``data_bind``) and the
detail pane. Events flow up: the table says which task is highlighted
(:class:`TaskTable.Highlighted`); this screen says when the list was edited
(:class:`MainScreen.Edited`) so the app saves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from vidwatch.core.clipboard import CopyResult, OpenResult
from vidwatch.core.export import export, write_export
from vidwatch.core.models import State, TaskRecord, utcnow
from vidwatch.core.poller import PollerStatus
from vidwatch.core.query import QueryError
from vidwatch.core.scheduler import Eta
from vidwatch.core.session import AddReport, DiskChange, Session
from vidwatch.core.view import View
from vidwatch.ui.detail import NO_TASKS, DetailPane
from vidwatch.ui.dialogs import (
    AddDialog,
    AddRequest,
    ColumnsDialog,
    ConfirmDialog,
    ExportDialog,
    ExportRequest,
    LabelDialog,
)
from vidwatch.ui.downloads import DownloadsPanel
from vidwatch.ui.header import StateCounts, StatusBar
from vidwatch.ui.rows import SortKey, state_text
from vidwatch.ui.task_table import OPTIONAL_COLUMNS, TaskTable

__all__ = ["Copier", "MainScreen", "Opener"]

Copier = Callable[[str], CopyResult]
Opener = Callable[[str], OpenResult]

NARROW_WIDTH = 100  # below this the detail pane folds away
LOW_HEIGHT = 12  # and below this
SHORT_HEIGHT = 20  # below this the banner keeps to two lines
TINY_HEIGHT = 8  # below this the banner keeps to one line and the footer folds away


def describe_add(report: AddReport, rejected: Sequence[tuple[str, str]]) -> str:
    parts = [f"Added {len(report.added)} task{'' if len(report.added) == 1 else 's'}"]
    if report.skipped:
        parts.append(f"{len(report.skipped)} already watched")
    if rejected:
        task_id, reason = rejected[0]
        more = f" and {len(rejected) - 1} more" if len(rejected) > 1 else ""
        parts.append(f"{len(rejected)} rejected ({task_id[:40]!r}: {reason}{more})")
    return ", ".join(parts) + "."


def no_url_reason(record: TaskRecord) -> str:
    """Why a task has no URL to copy or open, in a few words."""
    result = record.result
    if result.checked_at is None:
        return "the task has not been checked yet"
    if result.state is State.FAILED:
        return "the job failed"
    if result.state is State.SUCCEEDED:
        return "the job finished but the server sent no usable URL"
    return f"no video URL yet (the job is {state_text(record)[2:]})"


class MainScreen(Screen[None]):
    """The dashboard. Its bindings act on the highlighted task or the current view."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", tooltip="Add task IDs (paste many at once; optional label)"),
        Binding(
            "c",
            "copy",
            "Copy URL",
            tooltip="Copy the video URL of the highlighted task (or of every marked one)",
        ),
        Binding(
            "C",
            "copy_all",
            "Copy all",
            tooltip="Copy every finished URL in the current view, one per line",
        ),
        Binding(
            "o", "open", "Open", tooltip="Open the video URL in a browser (copies it over SSH)"
        ),
        Binding(
            "D",
            "download",
            "Download",
            tooltip="Download the video of the highlighted task (or of every marked one)",
        ),
        Binding(
            "r", "refresh", "Refresh", tooltip="Check the highlighted task (or the marked) now"
        ),
        Binding(
            "R", "refresh_all", "Refresh all", show=False, tooltip="Check every unfinished task now"
        ),
        Binding(
            "p",
            "pause_polling",
            "Pause",
            tooltip="Pause or resume polling (after a rejected key: retry, re-reading the config)",
        ),
        # The same key once polling is paused (or waits for a key): the footer says so.
        Binding("p", "resume_polling", "Resume", tooltip="Resume polling"),
        Binding(
            "d,delete",
            "remove",
            "Remove",
            tooltip="Stop watching the highlighted task, or the marked ones (asks first)",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="Filter: words, state:failed, age:<1h, label:cow, -state:succeeded",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear",
            show=False,
            tooltip="Clear the filter, then the marks",
        ),
        Binding("s", "sort", "Sort", tooltip="Cycle the sort: added, state, updated"),
        Binding("l", "label", "Label", show=False, tooltip="Edit the highlighted task's label"),
        Binding(
            "e",
            "export",
            "Export",
            show=False,
            tooltip="Export the marked tasks (or the view) as CSV, JSON or Markdown",
        ),
        Binding("v", "columns", "Columns", show=False, tooltip="Choose the table's columns"),
    ]
    # Priority bindings run as the app receives the key, before the keys typed after it are
    # routed: a paste or type-ahead after / or a lands in the box that opens, never on the
    # table (where d would ask to remove). Escape stays ordinary; while the filter box has
    # the focus, check_action hands every letter to it.
    BINDINGS = [
        dataclasses.replace(b, priority=True) if isinstance(b, Binding) and b.key != "escape" else b
        for b in BINDINGS
    ]
    TYPED_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        b.action for b in BINDINGS if isinstance(b, Binding) and b.priority
    )

    class Edited(Message):
        """The list changed here (add, remove, label): save it soon."""

    class ViewChanged(Message):
        """Filter, sort or columns changed: remember them."""

        def __init__(self, view: View) -> None:
            super().__init__()
            self.view = view

    class DownloadRequested(Message):
        """Download these finished videos."""

        def __init__(self, records: list[TaskRecord]) -> None:
            super().__init__()
            self.records = records

    counts: reactive[StateCounts] = reactive(())
    fresh: reactive[int] = reactive(0)
    status: reactive[PollerStatus] = reactive(PollerStatus)
    # Bindings that share a key with the one listed in help and the palette.
    ALTERNATES: ClassVar[frozenset[str]] = frozenset({"resume_polling"})
    demo: reactive[bool] = reactive(False)
    saving_failed: reactive[bool] = reactive(False)
    summary: reactive[str] = reactive("")
    current: reactive[TaskRecord | None] = reactive(None)
    no_task_hint: reactive[str] = reactive(NO_TASKS)
    marked: reactive[int] = reactive(0)

    def __init__(
        self,
        session: Session,
        *,
        copier: Copier,
        opener: Opener,
        clock: Callable[[], datetime] = utcnow,
        demo: bool = False,
        folder: Path | None = None,
        view: View | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.folder = folder or Path.home()  # where downloads and exports go
        self.initial_view = view or View()
        self.copier = copier
        self.opener = opener
        self.clock = clock
        self._banners: dict[str, str] = {}
        self._palette = False  # a palette command is running (see check_action)
        self._banner_shown = ""
        self.set_reactive(MainScreen.demo, demo)
        self.set_reactive(MainScreen.status, session.poller.status)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar").data_bind(
            MainScreen.counts,
            MainScreen.fresh,
            MainScreen.status,
            MainScreen.demo,
            MainScreen.saving_failed,
            MainScreen.summary,
            MainScreen.marked,
        )
        yield Static(id="banner", markup=False)
        with Horizontal(id="body"):
            yield TaskTable(
                id="table", next_check=self._next_check, eta=self._eta, clock=self.clock
            )
            yield DetailPane(
                id="detail", next_check=self._next_check, eta=self._eta, clock=self.clock
            ).data_bind(record=MainScreen.current, hint=MainScreen.no_task_hint)
        yield Input(
            placeholder="Filter: words, state:failed, age:<1h, label:cow, -state:succeeded "
            "— esc clears",
            id="filter",
        )
        yield DownloadsPanel(id="downloads")
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()
        self._fit(self.size.width, self.size.height)
        self._apply_view(self.initial_view)

    def _apply_view(self, view: View) -> None:
        table = self.table
        table.set_hidden(view.hidden & {key for key, _ in OPTIONAL_COLUMNS})
        with contextlib.suppress(ValueError):
            table.sort_key = SortKey(view.sort)
        try:
            table.set_filter(view.filter)
        except QueryError:
            table.set_filter("")
        else:
            if view.filter:
                box = self.query_one("#filter", Input)
                with box.prevent(Input.Changed):
                    box.value = view.filter
                box.display = True

    def current_view(self) -> View:
        table = self.table
        return View(table.filter_text, table.sort_key.value, table.hidden)

    def _view_changed(self) -> None:
        self.post_message(self.ViewChanged(self.current_view()))

    def on_resize(self, event: object) -> None:
        self._fit(self.size.width, self.size.height)

    def _fit(self, width: int, height: int) -> None:
        self.set_class(width < NARROW_WIDTH or height < LOW_HEIGHT, "-narrow")
        self.set_class(height < SHORT_HEIGHT, "-short")
        self.set_class(height < TINY_HEIGHT, "-tiny")

    @property
    def table(self) -> TaskTable:
        return self.query_one(TaskTable)

    @property
    def detail(self) -> DetailPane:
        return self.query_one(DetailPane)

    def _next_check(self, task_id: str) -> datetime | None:
        return self.session.poller.next_check(task_id)

    def _eta(self, task_id: str) -> Eta | None:
        return self.session.poller.eta(task_id)

    # ------------------------------------------------------------------ state in

    def show_records(self, records: Iterable[TaskRecord]) -> None:
        self.table.set_records(records)
        self._recount()

    def apply_updates(self, records: Sequence[TaskRecord], flash: Iterable[str] = ()) -> None:
        """Results arrived (batched by the app)."""
        self.table.upsert(records, flash=flash)
        self._recount()
        self._follow_cursor()

    def apply_disk_change(self, change: DiskChange) -> None:
        if change.removed:
            self.table.remove_rows(change.removed)
        if change.added:
            self.table.upsert(change.added)
            count = len(change.added)
            self.notify(f"{count} task{'' if count == 1 else 's'} added in another window.")
        self._recount()
        self._follow_cursor()

    def set_banner(self, key: str, message: str | None) -> None:
        if message:
            self._banners[key] = message
        else:
            self._banners.pop(key, None)
        text = "\n".join(self._banners.values())
        banner = self.query_one("#banner", Static)
        if text != self._banner_shown:  # the poller reports its status often
            self._banner_shown = text
            banner.update(Text(text))
            banner.display = bool(text)

    def banner_text(self) -> str:
        return "\n".join(self._banners.values())

    def tick(self) -> None:
        """Once a second: relative times move on."""
        self.table.refresh()
        self.detail.refresh_times()

    def _recount(self) -> None:
        table = self.table
        self.counts, self.fresh = table.state_counts(), table.fresh

    def _follow_cursor(self) -> None:
        table = self.table
        self.current = table.cursor_record
        self.no_task_hint = NO_TASKS if not table.records or table.row_count else HIDDEN_BY_FILTER

    @on(TaskTable.Highlighted)
    def _highlighted(self, event: TaskTable.Highlighted) -> None:
        self._follow_cursor()

    # ------------------------------------------------------------------ helpers

    def _selected(self) -> TaskRecord | None:
        record = self.table.cursor_record
        if record is None:
            self.notify(self.no_task_hint, severity="warning")
        return record

    def _targets(self) -> list[TaskRecord]:
        """What a bulk action acts on: the marked tasks, else the highlighted one."""
        marked = self.table.marked_records
        if marked:
            return marked
        record = self._selected()
        return [record] if record is not None else []

    def _edited(self) -> None:
        self.session.mark_dirty()
        self.post_message(self.Edited())

    async def copy(self, text: str, what: str) -> None:
        """Copy and say truthfully how it went."""
        result = await asyncio.to_thread(self.copier, text)
        if result.method == "osc52":
            self.app.copy_to_clipboard(text)
        self.notify(f"{what} {result.describe()}.")

    @on(TaskTable.MarksChanged)
    def _marks_changed(self, event: TaskTable.MarksChanged) -> None:
        self.marked = event.count

    # ------------------------------------------------------------------ actions

    def action_add(self) -> None:
        self.app.push_screen(AddDialog(), self._added)

    def _added(self, request: AddRequest | None) -> None:
        if request is None:
            return
        report = self.session.add(request.ids, request.label, now=self.clock())
        if report.added:
            self.table.upsert([self.session.records[i] for i in report.added])
            self.table.move_to(report.added[-1])
            self._recount()
            self._edited()
        self.notify(
            describe_add(report, request.rejected),
            severity="warning" if request.rejected else "information",
        )

    async def action_copy(self) -> None:
        if self.table.marked:
            urls = [r.result.video_url for r in self.table.marked_records if r.result.video_url]
            if not urls:
                self.notify(
                    "Nothing copied: no marked task has a video URL yet.", severity="warning"
                )
                return
            await self.copy("\n".join(urls) + "\n", f"{plural(len(urls), 'URL')} of marked tasks")
            return
        record = self._selected()
        if record is None:
            return
        url = record.result.video_url
        if not url:
            self.notify(f"Nothing copied: {no_url_reason(record)}.", severity="warning")
            return
        await self.copy(url, "URL copied")

    async def action_copy_all(self) -> None:
        urls = [
            r.result.video_url
            for r in self.table.visible_records
            if r.result.state is State.SUCCEEDED and r.result.video_url
        ]
        if not urls:
            self.notify("Nothing copied: no finished URLs in this view.", severity="warning")
            return
        await self.copy("\n".join(urls) + "\n", plural(len(urls), "URL"))

    async def action_open(self) -> None:
        record = self._selected()
        if record is None:
            return
        url = record.result.video_url
        if not url:
            self.notify(f"Nothing to open: {no_url_reason(record)}.", severity="warning")
            return
        result = await asyncio.to_thread(self.opener, url)
        if result.opened:
            self.notify("Opened in the browser.")
        elif result.should_copy:
            await self.copy(url, f"Not opened ({result.reason}); the URL was copied instead")
        else:
            self.notify(f"Not opened: {result.reason}.", severity="error")

    def action_download(self) -> None:
        targets = self._targets()
        if not targets:
            return
        ready = [r for r in targets if r.result.state is State.SUCCEEDED and r.result.video_url]
        if not ready:
            if len(targets) == 1:
                self.notify(
                    f"Nothing to download: {no_url_reason(targets[0])}.", severity="warning"
                )
            else:
                self.notify("Nothing to download: no marked task has a video.", severity="warning")
            return
        note = skipped_note(targets, ready)
        self.notify(f"Downloading {plural(len(ready), 'video')} to {self.folder}{note}.")
        self.post_message(self.DownloadRequested(ready))

    def action_refresh(self) -> None:
        targets = self._targets()
        if not targets:
            return
        poller = self.session.poller
        if poller.client is None:
            self.notify("Not polling: no API key.", severity="warning")
            return
        started = [r for r in targets if poller.refresh(r.id)]
        if len(targets) == 1:
            record = targets[0]
            if started:
                self.notify(f"Checking {record.task.label or record.id} now.")
            else:
                self.notify("It is being checked right now.")
        else:
            self.notify(f"Checking {plural(len(started), 'marked task')} now.")

    def action_refresh_all(self) -> None:
        poller = self.session.poller
        if poller.client is None:
            self.notify("Not polling: no API key.", severity="warning")
            return
        count = poller.refresh_all()
        self.notify(f"Checking {plural(count, 'unfinished task')} now.")

    def action_remove(self) -> None:
        targets = self._targets()
        if not targets:
            return
        if len(targets) == 1:
            record = targets[0]
            name = record.task.label or record.id
            question, detail = f"Stop watching {name}?", (record.id if record.task.label else "")
        else:
            name = plural(len(targets), "marked task")
            question, detail = (
                f"Stop watching {name}?",
                "They stay on the server; only vidwatch forgets them.",
            )
        ids = [r.id for r in targets]

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            removed = self.session.remove(ids)
            self.table.remove_rows(removed)
            self._recount()
            self._follow_cursor()
            self._edited()
            self.notify(f"Stopped watching {name}.")

        self.app.push_screen(ConfirmDialog(question, detail), answer)

    def action_label(self) -> None:
        record = self._selected()
        if record is None:
            return

        def done(label: str | None) -> None:
            if label is None:
                return
            updated = self.session.relabel(record.id, label)
            if updated is not None:
                self.table.upsert([updated])
                self._follow_cursor()
                self._edited()

        self.app.push_screen(LabelDialog(record.id, record.task.label), done)

    def action_export(self) -> None:
        marked = self.table.marked_records
        records = marked or self.table.visible_records
        if not records:
            self.notify("Nothing to export: the view is empty.", severity="warning")
            return
        what = plural(len(records), "marked task" if marked else "task") + (
            "" if marked else " in view"
        )
        stem = f"vidwatch-{self.clock().astimezone():%Y%m%d-%H%M%S}"

        async def chosen(request: ExportRequest | None) -> None:
            if request is None:
                return
            text = export(records, request.fmt)
            try:
                path = await asyncio.to_thread(write_export, request.path, text)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                self.notify(
                    f"Not exported: cannot write {request.path} ({reason}).", severity="error"
                )
                return
            self.notify(f"Exported {what} to {path}.")

        self.app.push_screen(ExportDialog(what, str(self.folder), stem), chosen)

    def action_columns(self) -> None:
        def chosen(hidden: frozenset[str] | None) -> None:
            if hidden is not None:
                self.table.set_hidden(hidden)
                self._view_changed()

        self.app.push_screen(ColumnsDialog(OPTIONAL_COLUMNS, self.table.hidden), chosen)

    # ------------------------------------------------------------------ pause / resume

    @staticmethod
    def _stopped(status: PollerStatus) -> bool:
        return status.paused or status.offline or bool(status.auth_error)

    def watch_status(self, old: PollerStatus, new: PollerStatus) -> None:
        if self._stopped(old) != self._stopped(new):
            self.refresh_bindings()  # the footer shows p Pause or p Resume

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.TYPED_ACTIONS and isinstance(self.focused, Input) and not self._palette:
            return False  # a letter typed into the filter box
        if action == "pause_polling":
            return not self._stopped(self.status)
        if action == "resume_polling":
            return self._stopped(self.status)
        return True

    async def run_from_palette(self, action: str) -> None:
        """A command chosen by name runs even while the filter box has the focus."""
        self._palette = True
        try:
            await self.run_action(action)
        finally:
            self._palette = False

    @property
    def polling_stopped(self) -> bool:
        return self._stopped(self.status)

    async def action_pause_polling(self) -> None:
        await self.app.run_action("app.pause")

    async def action_resume_polling(self) -> None:
        await self.app.run_action("app.pause")

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        # Now, not after a refresh: keys typed right after / are already queued.
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value or box.display:
            box.value = ""
            box.display = False
            box.border_title = ""
            self.table.set_filter("")
            self.table.focus()
            self._follow_cursor()
            self._view_changed()
        elif self.table.clear_marks():
            self.notify("Marks cleared.", timeout=2)
        else:
            self.notify("Nothing to clear. Press q to quit.", timeout=2)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        try:
            self.table.set_filter(event.value)
        except QueryError as exc:
            applied = self.table.filter_text.strip()
            shown = f"still showing {applied!r}" if applied else "still showing every task"
            # The user's own text: never markup ("[/]" would stop the dashboard).
            event.input.border_title = Text(f"{exc} · {shown}")
            event.input.add_class("-invalid")
            return
        event.input.border_title = ""
        event.input.remove_class("-invalid")
        self._follow_cursor()
        self._view_changed()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    def action_sort(self) -> None:
        self.table.set_sort(self.table.sort_key.next())
        self.notify(f"Sorted by {self.table.sort_key.value}.", timeout=2)
        self._view_changed()


HIDDEN_BY_FILTER = "The filter hides every task. Press esc to clear it."


def skipped_note(targets: Sequence[TaskRecord], ready: Sequence[TaskRecord]) -> str:
    """Why some marked tasks are left out: ' (1 failed, 2 not finished yet)'."""
    chosen = {r.id for r in ready}
    left = [r for r in targets if r.id not in chosen]
    if not left:
        return ""
    failed = sum(r.result.state is State.FAILED for r in left)
    done = sum(r.result.state is State.SUCCEEDED for r in left)  # finished, no URL
    waiting = len(left) - failed - done
    parts = [
        f"{failed} failed" if failed else "",
        f"{done} without a URL" if done else "",
        f"{waiting} not finished yet" if waiting else "",
    ]
    return f" ({', '.join(p for p in parts if p)})"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
