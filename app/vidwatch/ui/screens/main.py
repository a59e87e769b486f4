"""The main screen: header, banner, task table, detail pane, filter, footer.

State flows down: every change to the list arrives from the session's change stream,
batched by the app, and is applied in one place (:meth:`MainScreen.apply_changes`);
the screen binds its reactives into the header (``data_bind``) and the detail pane.
Events flow up: the table says which task is highlighted
(:class:`TaskTable.Highlighted`); this screen says when the view changed
(:class:`MainScreen.ViewChanged`) so the app remembers it. The task actions live in
:mod:`vidwatch.ui.controllers.task_actions`, the keys in :mod:`vidwatch.ui.keys`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Static

from vidwatch.core.changes import Added, Change, DiskChange, Loaded, changed_ids
from vidwatch.core.model.query import QueryError
from vidwatch.core.model.records import State, TaskRecord, utcnow
from vidwatch.core.polling.events import PollerStatus, StatusChange, TaskUpdate
from vidwatch.core.polling.scheduler import Eta
from vidwatch.core.session import Session
from vidwatch.core.store.view import View
from vidwatch.core.text.wording import plural
from vidwatch.ui.banners import Banner
from vidwatch.ui.controllers.downloads import DownloadsPanel
from vidwatch.ui.controllers.task_actions import (
    Copier,
    NewJobOpener,
    Opener,
    TaskActions,
    empty_hint,
)
from vidwatch.ui.dialogs.columns import ColumnsDialog
from vidwatch.ui.dialogs.create import Prefill
from vidwatch.ui.keys import ALTERNATES, MAIN_BINDINGS, TYPED_ACTIONS
from vidwatch.ui.widgets.columns import OPTIONAL_COLUMNS
from vidwatch.ui.widgets.detail import NO_TASKS, DetailPane
from vidwatch.ui.widgets.footer import KeyFooter
from vidwatch.ui.widgets.header import StateCounts, StatusBar
from vidwatch.ui.widgets.rows import SortKey
from vidwatch.ui.widgets.still import StillView
from vidwatch.ui.widgets.task_table import TaskTable
from vidwatch.ui.widgets.toasts import KEEP_CLEAR

__all__ = ["Copier", "MainScreen", "Opener"]

NARROW_WIDTH = 100  # below this the detail pane folds away
LOW_HEIGHT = 12  # and below this
SHORT_HEIGHT = 20  # below this the banner keeps to two lines
TINY_HEIGHT = 8  # below this the banner keeps to one line and the footer folds away


async def _no_new_job(prefill: Prefill | None) -> None:
    """Without an app that creates jobs (a screen on its own)."""


class MainScreen(TaskActions):
    """The dashboard. Its bindings act on the highlighted task or the current view."""

    BINDINGS: ClassVar[list[BindingType]] = MAIN_BINDINGS
    TYPED_ACTIONS: ClassVar[frozenset[str]] = TYPED_ACTIONS
    # Bindings that share a key with the one listed in help and the palette.
    ALTERNATES: ClassVar[frozenset[str]] = ALTERNATES

    class ViewChanged(Message):
        """Filter, sort or columns changed: remember them."""

        def __init__(self, view: View) -> None:
            super().__init__()
            self.view = view

    counts: reactive[StateCounts] = reactive(())
    fresh: reactive[int] = reactive(0)
    status: reactive[PollerStatus] = reactive(PollerStatus)
    demo: reactive[bool] = reactive(False)
    saving_failed: reactive[bool] = reactive(False)
    summary: reactive[str] = reactive("")
    current: reactive[TaskRecord | None] = reactive(None)
    no_task_hint: reactive[str] = reactive(NO_TASKS)
    marked: reactive[int] = reactive(0)
    balance: reactive[str] = reactive("")

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
        new_job: NewJobOpener = _no_new_job,
        still: StillView | None = None,
    ) -> None:
        super().__init__(
            session,
            copier=copier,
            opener=opener,
            clock=clock,
            folder=folder or Path.home(),
            new_job=new_job,
        )
        self.initial_view = view or View()
        self.still = still or StillView()  # the highlighted job's still (widgets/still.py)
        self._banners: dict[Banner, str] = {}
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
            MainScreen.balance,
        )
        yield Static(id="banner", markup=False)
        with Horizontal(id="body"):
            yield TaskTable(
                id="table", next_check=self._next_check, eta=self._eta, clock=self.clock
            )
            with Vertical(id="side"):
                yield self.still.data_bind(record=MainScreen.current)
                yield DetailPane(
                    id="detail",
                    next_check=self._next_check,
                    eta=self._eta,
                    idle=self._idle,
                    clock=self.clock,
                ).data_bind(record=MainScreen.current, hint=MainScreen.no_task_hint)
        yield Input(
            placeholder="Filter: words, state:failed, age:<1h, label:cow, -state:succeeded "
            "— esc clears",
            id="filter",
            select_on_focus=False,  # / again edits the filter set, never replaces it
        )
        yield DownloadsPanel(id="downloads")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.detail.add_class(KEEP_CLEAR)  # read at length: never under a toast
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
    def detail(self) -> DetailPane:
        return self.query_one(DetailPane)

    def _next_check(self, task_id: str) -> datetime | None:
        poller = self.session.poller
        due = poller.next_check(task_id)
        if due is None and poller.is_polling(task_id):
            return self.clock()  # being asked right now
        return due

    def _eta(self, task_id: str) -> Eta | None:
        return self.session.poller.eta(task_id)

    def _idle(self, record: TaskRecord) -> str:
        """The detail pane's next check when none is planned: ``– (why)``."""
        poller = self.session.poller
        if record.result.final:
            why = "finished"
        elif poller.client is None:
            why = "not polling: no API key"
        elif poller.status.auth_error:
            why = "key rejected; p to retry"
        elif poller.status.url_error:
            why = "wrong base URL; fix it, then p"
        elif poller.paused:
            why = "paused; p to resume"
        else:
            given_up = poller.given_up(record.id)
            why = f"given up: {given_up}; r to retry" if given_up else ""
        return f"– ({why})" if why else "–"

    # ------------------------------------------------------------------ state in

    def apply_changes(self, changes: Sequence[Change]) -> None:
        """Every change to the list reaches the table here, and only here.

        A change says which tasks changed; the rows show what the session holds now
        (a label edited since a poll answered stays; a task removed stays gone).
        """
        records = self.session.records
        touched: dict[str, None] = {}
        flash: set[str] = set()
        reload = False
        go_to: str | None = None
        from_elsewhere = 0
        for change in changes:
            if isinstance(change, TaskUpdate):  # by far the most common: kept cheap
                touched[change.record.id] = None
                if change.state_changed:
                    flash.add(change.record.id)
                continue
            touched.update(dict.fromkeys(changed_ids(change)))
            match change:
                case Loaded(warning=warning):
                    reload = True
                    if warning:
                        self.set_banner(Banner.STORE, warning)
                case Added(records=added):
                    go_to = added[-1].id  # the user's own: show the last one
                case DiskChange(added=added, warning=warning):
                    from_elsewhere += len(added)
                    if warning:
                        self.set_banner(Banner.STORE, warning)
                case StatusChange(status=status):
                    self._show_status(status)
        table = self.table
        if reload:
            table.set_records(records.values())
        elif touched:
            gone = [i for i in touched if i not in records]
            if gone:
                table.remove_rows(gone)
            table.upsert([records[i] for i in touched if i in records], flash=flash)
        if go_to is not None and go_to in records:
            table.move_to(go_to)
        if from_elsewhere:
            self.notify(f"{plural(from_elsewhere, 'task')} added in another window.")
        if reload or touched:
            self._recount()
            self._follow_cursor()

    def _show_status(self, status: PollerStatus) -> None:
        self.status = status
        if status.auth_error:
            self.set_banner(
                Banner.AUTH, f"{status.auth_error}. Polling is paused; press p to retry."
            )
        else:
            self.set_banner(Banner.AUTH, None)
        if status.url_error:
            self.set_banner(
                Banner.URL,
                f"{status.url_error}. Polling is paused (no task was marked); "
                "press p once base_url is fixed.",
            )
        else:
            self.set_banner(Banner.URL, None)

    def set_banner(self, key: Banner, message: str | None) -> None:
        """Show ``message`` in banner ``key`` (``None``: clear it); several read in
        :class:`Banner`'s order, whichever came first."""
        if message:
            self._banners[key] = message
        else:
            self._banners.pop(key, None)
        text = self.banner_text()
        banner = self.query_one("#banner", Static)
        if text != self._banner_shown:  # the poller reports its status often
            self._banner_shown = text
            banner.update(Text(text))
            banner.display = bool(text)

    def banner_text(self) -> str:
        return "\n".join(self._banners[key] for key in sorted(self._banners))

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
        self.no_task_hint = empty_hint(table)

    @on(TaskTable.Highlighted)
    def _highlighted(self, event: TaskTable.Highlighted) -> None:
        self._follow_cursor()

    @on(TaskTable.MarksChanged)
    def _marks_changed(self, event: TaskTable.MarksChanged) -> None:
        self.marked = event.count

    def action_columns(self) -> None:
        def chosen(hidden: frozenset[str] | None) -> None:
            if hidden is not None:
                self.table.set_hidden(hidden)
                self._view_changed()

        self.app.push_screen(
            ColumnsDialog(OPTIONAL_COLUMNS, self.table.hidden, self.table.shown_columns), chosen
        )

    # ------------------------------------------------------------------ pause / resume

    @staticmethod
    def _stopped(status: PollerStatus) -> bool:
        return status.paused or status.offline or bool(status.auth_error or status.url_error)

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

    def action_closer_look(self) -> None:
        """``enter``: the highlighted finished job, full screen (screens/closer.py)."""
        record = self.table.cursor_record
        if record is None:
            return
        if record.result.state is not State.SUCCEEDED:
            self.notify("A closer look is for finished jobs.", severity="warning")
            return
        previews = self.still.previews
        if previews is None or self.still.mode == "off":
            self.notify("Stills are off ([preview] mode in the config).", severity="warning")
            return
        from vidwatch.ui.screens.closer import CloserLook

        self.app.push_screen(CloserLook(self, previews, self.still.mode, record.id))

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
        """Open the filter box, or edit the filter set: the cursor at its end."""
        box = self.query_one("#filter", Input)
        box.display = True
        box.cursor_position = len(box.value)
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
