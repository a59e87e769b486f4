"""The vidwatch dashboard (Textual)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from app.core.api import QueryClient
from app.core.clipboard import copy_text, open_url
from app.core.config import Config, ConfigError, Paths, load_config
from app.core.models import FINISHED_STATES, State, Task, TaskRecord, utcnow
from app.core.poller import Poller, PollerEvent, PollerStatus, StatusChange, TaskUpdate
from app.core.store import StoreError, TaskStore
from app.ui.detail import DetailPane
from app.ui.dialogs import AddDialog, AddRequest, ConfirmDialog, HelpScreen, LabelDialog
from app.ui.rows import SortKey
from app.ui.task_table import TaskTable

FLUSH_SECONDS = 0.1  # poller updates are batched at most this often
SAVE_DELAY = 1.0  # debounce for saving after results arrive
WATCH_SECONDS = 1.0  # how often the task file is checked for other writers


def stylesheet() -> str:
    """The path of the packaged stylesheet (works for installed packages too)."""
    return str(files("app.styles").joinpath("app.tcss"))


@dataclass
class DashboardOptions:
    paths: Paths
    config: Config
    demo: bool = False
    demo_jobs: int = 36
    demo_seed: int = 7
    extra_warnings: list[str] = field(default_factory=list)


class StatusBar(Static):
    """The header line: counts per state, polling state, request rate, DEMO."""

    def show(
        self, counts: Counter[State], fresh: int, status: PollerStatus | None, demo: bool
    ) -> None:
        text = Text()
        text.append(" vidwatch ", style="bold reverse")
        if demo:
            text.append(" DEMO ", style="bold reverse")
        text.append("  ")
        for state in (State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED, State.UNKNOWN):
            text.append(f"{state.symbol} {counts.get(state, 0)} {state.value}  ")
        if fresh:
            text.append(f"· {fresh} new  ")
        text.append("│ ")
        if status is None:
            text.append("not polling (no API key)")
        else:
            text.append(status.label, style="bold")
            text.append(f" │ {status.requests_per_minute} req/min")
        self.update(text)


class MainScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        app = self.app
        assert isinstance(app, VidwatchApp)
        yield StatusBar(id="status-bar")
        yield Static(id="banner", markup=False)
        with Horizontal(id="body"):
            yield TaskTable(id="table", next_check=app.next_check)
            yield DetailPane(id="detail", next_check=app.next_check)
        yield Input(placeholder="Filter: ID, label, state or prompt (esc clears)", id="filter")
        yield Footer()


class VidwatchApp(App[None]):
    """Watch video jobs: a live table, a detail pane, one-key copy."""

    CSS_PATH = stylesheet()
    TITLE = "vidwatch"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add"),
        Binding("c", "copy", "Copy URL"),
        Binding("C", "copy_all", "Copy all"),
        Binding("o", "open", "Open"),
        Binding("r", "refresh", "Refresh"),
        Binding("R", "refresh_all", "Refresh all", show=False),
        Binding("p", "pause", "Pause/resume"),
        Binding("d,delete", "remove", "Remove"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("l", "label", "Label", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    HELP_ROWS: ClassVar[list[tuple[str, str]]] = [
        ("a", "add task IDs (paste many at once; optional label)"),
        ("c", "copy the highlighted task's video URL"),
        ("C", "copy every finished URL in the current view, one per line"),
        ("o", "open the video URL in a browser (copies instead over SSH)"),
        ("r", "refresh the highlighted task now"),
        ("R", "refresh all unfinished tasks now"),
        ("p", "pause / resume polling (also retries a rejected key)"),
        ("d, delete", "remove the highlighted task (asks first)"),
        ("/", "filter by ID, label, state or prompt"),
        ("escape", "clear the filter"),
        ("s", "cycle the sort: added, state, updated"),
        ("l", "edit the highlighted task's label"),
        ("↑ ↓ j k", "move; pgup/pgdn, home/end jump"),
        ("ctrl+p", "command palette"),
        ("?", "this help"),
        ("q", "quit (saves first)"),
    ]

    def __init__(self, options: DashboardOptions) -> None:
        super().__init__()
        self.options = options
        self.config = options.config
        self.store = TaskStore(options.paths.tasks_file)
        self.poller: Poller | None = None
        self.client: QueryClient | None = None
        self.simulator: object | None = None
        self._pending: dict[str, TaskUpdate] = {}
        self._flash_ids: set[str] = set()
        self._flush_scheduled = False
        self._dirty = False
        self._removed: set[str] = set()
        self._on_disk: set[str] = set()
        self._disk_signature: tuple[int, int, int] | None = None
        self._save_lock = asyncio.Lock()
        self._save_timer_armed = False
        self._save_error: str | None = None
        self._banner_messages: dict[str, str] = {}
        self._demo_dir: Path | None = None
        self._loaded = False

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Screen[None]:
        return MainScreen()

    @property
    def table(self) -> TaskTable:
        return (
            self.screen.query_one(TaskTable)
            if isinstance(self.screen, MainScreen)
            else self.query_one_main(TaskTable)
        )

    def query_one_main(self, kind: type[TaskTable]) -> TaskTable:
        return self.screen_stack[0].query_one(kind)

    async def on_mount(self) -> None:
        for warning in [*self.config.warnings, *self.options.extra_warnings]:
            self.notify(warning, severity="warning", timeout=10)
        if self.options.demo:
            await self._start_demo()
        try:
            loaded = await asyncio.to_thread(self.store.load)
        except StoreError as exc:
            self._set_banner("store", str(exc))
            records: dict[str, TaskRecord] = {}
        else:
            records = loaded.records
            if loaded.warning:
                self._set_banner("store", loaded.warning)
            self._on_disk = set(records)
            self._disk_signature = await asyncio.to_thread(self.store.signature)
        table = self.query_one_main(TaskTable)
        table.set_records(records.values())
        table.focus()
        self._loaded = True
        if self.config.api_key:
            self.client = QueryClient(
                self.config.base_url,
                self.config.api_key,
                timeout=self.config.timeout,
                connections=self.config.policy.concurrency,
                allow_insecure_http=self.config.allow_insecure_http,
            )
            self.poller = Poller(self.client, self.config.policy, records)
            self.poller.subscribe(self._on_poller_event)
            self.run_worker(self.poller.run(), name="poller", exit_on_error=False, group="poller")
        else:
            self._set_banner(
                "key",
                "No API key — showing the saved list without polling. Set QUICKROUTER_API_KEY or "
                f"put api_key in {self.options.paths.config_file} (chmod 600), then restart. "
                "Try `vidwatch --demo` to see it work.",
            )
        self._refresh_header()
        self.set_interval(1.0, self._tick)
        self.set_interval(WATCH_SECONDS, self._watch_file)

    async def _start_demo(self) -> None:
        from app.core.simulator import Simulator

        simulator = Simulator(jobs=self.options.demo_jobs, seed=self.options.demo_seed, speed=3.0)
        base_url = await simulator.start()
        self.simulator = simulator
        self._demo_dir = Path(tempfile.mkdtemp(prefix="vidwatch-demo-"))
        self.store = TaskStore(self._demo_dir / "tasks.toml")
        now = utcnow()
        self.store.add([Task(i, now, f"demo {n + 1:02d}") for n, i in enumerate(simulator.job_ids)])
        self.config = replace(
            self.config,
            base_url=base_url,
            api_key=simulator.api_key,
            key_source="demo",
            policy=replace(self.config.policy, min_interval=1.0, max_interval=8.0),
        )
        self.sub_title = "DEMO"

    async def action_quit(self) -> None:
        await self._shutdown()
        self.exit()

    async def _shutdown(self) -> None:
        if self.poller is not None:
            await self.poller.aclose()
        self._flush_updates()
        await self._save_now()
        if self.client is not None:
            await self.client.aclose()
        if self.simulator is not None:
            stop = getattr(self.simulator, "stop", None)
            if stop is not None:
                await stop()
        if self._demo_dir is not None:
            shutil.rmtree(self._demo_dir, ignore_errors=True)

    # ------------------------------------------------------------------ poller events

    def next_check(self, task_id: str) -> datetime | None:
        return self.poller.next_check(task_id) if self.poller else None

    def _on_poller_event(self, event: PollerEvent) -> None:
        if isinstance(event, StatusChange):
            self._on_status(event.status)
            return
        self._pending[event.record.id] = event
        if event.state_changed:
            self._flash_ids.add(event.record.id)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.set_timer(FLUSH_SECONDS, self._flush_updates)

    def _flush_updates(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        updates = list(self._pending.values())
        self._pending.clear()
        flash = self._flash_ids
        self._flash_ids = set()
        table = self.query_one_main(TaskTable)
        table.upsert([u.record for u in updates], flash=flash & {u.record.id for u in updates})
        self._notify_finished(updates)
        self._sync_detail()
        self._refresh_header()
        self._dirty = True
        self._schedule_save()

    def _notify_finished(self, updates: Iterable[TaskUpdate]) -> None:
        done = [
            u
            for u in updates
            if u.state_changed
            and u.previous is not None
            and u.record.result.state in FINISHED_STATES
        ]
        if not done:
            return
        failed = [u for u in done if u.record.result.state is State.FAILED]
        if len(done) == 1:
            record = done[0].record
            name = record.task.label or record.id
            if failed:
                self.notify(f"Failed: {name}", severity="error", markup=False)
            else:
                self.notify(f"Finished: {name} — press c to copy its URL", markup=False)
        else:
            self.notify(f"{len(done) - len(failed)} finished, {len(failed)} failed", markup=False)
        if self.config.bell:
            self.bell()

    def _on_status(self, status: PollerStatus) -> None:
        if status.auth_error:
            self._set_banner("auth", f"{status.auth_error}. Polling is paused; press p to retry.")
        else:
            self._set_banner("auth", None)
        self._refresh_header()

    def _refresh_header(self) -> None:
        if not self._loaded:
            return
        table = self.query_one_main(TaskTable)
        counts: Counter[State] = Counter()
        fresh = 0
        for record in table.records.values():
            if record.result.checked_at is None:
                fresh += 1
            else:
                counts[record.result.state] += 1
        status = self.poller.status if self.poller else None
        self.query_one_main_bar().show(counts, fresh, status, self.options.demo)

    def query_one_main_bar(self) -> StatusBar:
        return self.screen_stack[0].query_one(StatusBar)

    def _set_banner(self, key: str, message: str | None) -> None:
        if message:
            self._banner_messages[key] = message
        else:
            self._banner_messages.pop(key, None)
        banner = self.screen_stack[0].query_one("#banner", Static)
        banner.update(Text("\n".join(self._banner_messages.values())))
        banner.display = bool(self._banner_messages)

    def _tick(self) -> None:
        self.query_one_main(TaskTable).refresh()
        self._sync_detail()
        self._refresh_header()

    def _sync_detail(self) -> None:
        table = self.query_one_main(TaskTable)
        self.screen_stack[0].query_one(DetailPane).record = table.cursor_record

    @on(TaskTable.Highlighted)
    def _on_highlight(self, event: TaskTable.Highlighted) -> None:
        self._sync_detail()

    # ------------------------------------------------------------------ saving

    def _schedule_save(self) -> None:
        if not self._save_timer_armed:
            self._save_timer_armed = True
            self.set_timer(SAVE_DELAY, self._save_soon)

    async def _save_soon(self) -> None:
        self._save_timer_armed = False
        await self._save_now()

    async def _save_now(self) -> None:
        """Merge our view into the file (off the UI loop) and pick up others' changes."""
        if not self._loaded:
            return
        async with self._save_lock:
            table = self.query_one_main(TaskTable)
            snapshot = dict(table.records)
            removed = set(self._removed)
            try:
                merged = await asyncio.to_thread(self.store.save_records, snapshot, removed)
                signature = await asyncio.to_thread(self.store.signature)
            except StoreError as exc:
                if self._save_error != str(exc):
                    self.notify(str(exc), severity="error", timeout=15, markup=False)
                self._save_error = str(exc)
                self._set_banner("save", f"Cannot save: {exc} Changes are kept in memory.")
                return
            if self._save_error:
                self._save_error = None
                self._set_banner("save", None)
                self.notify("Saving works again.")
            self._removed -= removed
            self._dirty = False
            self._disk_signature = signature
            self._integrate_disk(merged)

    def _integrate_disk(self, on_disk: dict[str, TaskRecord]) -> None:
        """Tasks added or removed by another process since we last looked."""
        table = self.query_one_main(TaskTable)
        added = [r for i, r in on_disk.items() if i not in table.records and i not in self._removed]
        gone = [i for i in self._on_disk if i not in on_disk and i in table.records]
        self._on_disk = set(on_disk)
        if added:
            table.upsert(added)
            if self.poller:
                self.poller.add(added)
        if gone:
            table.remove_rows(gone)
            if self.poller:
                self.poller.remove(gone)
        if added or gone:
            self._refresh_header()
            self._sync_detail()

    async def _watch_file(self) -> None:
        signature = await asyncio.to_thread(self.store.signature)
        if signature == self._disk_signature or self._save_lock.locked():
            return
        try:
            loaded = await asyncio.to_thread(self.store.load)
        except StoreError as exc:
            self._set_banner("store", str(exc))
            return
        self._disk_signature = await asyncio.to_thread(self.store.signature)
        self._integrate_disk(loaded.records)

    # ------------------------------------------------------------------ actions

    def _current(self) -> TaskRecord | None:
        record = self.query_one_main(TaskTable).cursor_record
        if record is None:
            self.notify("No task selected.", severity="warning")
        return record

    def action_add(self) -> None:
        self.push_screen(AddDialog(), self._added)

    async def _added(self, request: AddRequest | None) -> None:
        if request is None:
            return
        table = self.query_one_main(TaskTable)
        now = utcnow()
        new = [
            TaskRecord(Task(i, now, request.label)) for i in request.ids if i not in table.records
        ]
        skipped = len(request.ids) - len(new)
        for record in new:
            self._removed.discard(record.id)
        if new:
            table.upsert(new)
            table.move_to(new[-1].id)
            if self.poller:
                self.poller.add(new)
        parts = [f"Added {len(new)} task{'s' if len(new) != 1 else ''}"]
        if skipped:
            parts.append(f"{skipped} already watched")
        if request.rejected:
            task_id, reason = request.rejected[0]
            parts.append(f"{len(request.rejected)} rejected ({task_id[:40]!r}: {reason})")
        self.notify(
            ", ".join(parts),
            severity="warning" if request.rejected else "information",
            markup=False,
        )
        self._refresh_header()
        await self._save_now()

    async def _copy(self, text: str, what: str) -> None:
        result = await asyncio.to_thread(copy_text, text)
        if result.method == "osc52":
            self.copy_to_clipboard(text)
        self.notify(f"{what}: {result.describe()}", markup=False)

    async def action_copy(self) -> None:
        record = self._current()
        if record is None:
            return
        url = record.result.video_url
        if not url:
            state = record.result.state.value if record.result.checked_at else "not checked yet"
            self.notify(f"Nothing copied: no video URL yet ({state}).", severity="warning")
            return
        await self._copy(url, "URL copied")

    async def action_copy_all(self) -> None:
        table = self.query_one_main(TaskTable)
        urls = [
            r.result.video_url
            for r in table.visible_records
            if r.result.state is State.SUCCEEDED and r.result.video_url
        ]
        if not urls:
            self.notify("Nothing copied: no finished URLs in this view.", severity="warning")
            return
        await self._copy(
            "\n".join(urls) + "\n", f"{len(urls)} URL{'s' if len(urls) != 1 else ''} copied"
        )

    async def action_open(self) -> None:
        record = self._current()
        if record is None:
            return
        url = record.result.video_url
        if not url:
            self.notify("No video URL yet.", severity="warning")
            return
        result = await asyncio.to_thread(open_url, url)
        if result.opened:
            self.notify("Opened in the browser.")
        elif result.should_copy:
            copied = await asyncio.to_thread(copy_text, url)
            if copied.method == "osc52":
                self.copy_to_clipboard(url)
            self.notify(
                f"Not opened ({result.reason}); URL copied instead: {copied.describe()}",
                markup=False,
            )
        else:
            self.notify(f"Not opened: {result.reason}", severity="error", markup=False)

    def action_refresh(self) -> None:
        record = self._current()
        if record is None:
            return
        if self.poller is None:
            self.notify("Not polling: no API key.", severity="warning")
        elif self.poller.refresh(record.id):
            self.notify(f"Refreshing {record.task.label or record.id}", markup=False)
        else:
            self.notify("Already being checked.")

    def action_refresh_all(self) -> None:
        if self.poller is None:
            self.notify("Not polling: no API key.", severity="warning")
            return
        count = self.poller.refresh_all()
        self.notify(f"Refreshing {count} unfinished task{'s' if count != 1 else ''}")

    def action_pause(self) -> None:
        poller = self.poller
        if poller is None:
            self.notify("Not polling: no API key.", severity="warning")
            return
        if poller.status.auth_error:
            self._retry_key(poller)
        elif poller.scheduler.paused:
            poller.resume()
            self.notify("Polling resumed.")
        else:
            poller.pause()
            self.notify("Polling paused. Press p to resume.")
        self._refresh_header()

    def _retry_key(self, poller: Poller) -> None:
        try:
            config = load_config(self.options.paths.config_file)
        except ConfigError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if config.api_key and config.api_key != self.config.api_key and not self.options.demo:
            self.config = replace(self.config, api_key=config.api_key)
            poller.set_key(config.api_key)
            self.notify("Retrying with the new key from the config file.")
        else:
            poller.resume()
            self.notify("Retrying with the same key.")

    def action_remove(self) -> None:
        record = self._current()
        if record is None:
            return

        async def answer(yes: bool | None) -> None:
            if not yes:
                return
            table = self.query_one_main(TaskTable)
            table.remove_rows([record.id])
            if self.poller:
                self.poller.remove([record.id])
            self._removed.add(record.id)
            self.notify(f"Removed {record.task.label or record.id}", markup=False)
            self._refresh_header()
            self._sync_detail()
            await self._save_now()

        self.push_screen(
            ConfirmDialog(f"Stop watching {record.task.label or record.id}?", record.id), answer
        )

    def action_label(self) -> None:
        record = self._current()
        if record is None:
            return

        async def done(label: str | None) -> None:
            if label is None:
                return
            table = self.query_one_main(TaskTable)
            current = table.records.get(record.id)
            if current is None:
                return
            updated = replace(current, task=current.task.with_label(label))
            table.upsert([updated])
            if self.poller:
                self.poller.relabel(record.id, label)
            self._sync_detail()
            await self._save_now()

        self.push_screen(LabelDialog(record.id, record.task.label), done)

    def action_filter(self) -> None:
        box = self.screen_stack[0].query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.screen_stack[0].query_one("#filter", Input)
        table = self.query_one_main(TaskTable)
        box.value = ""
        box.display = False
        table.set_filter("")
        table.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one_main(TaskTable).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        table = self.query_one_main(TaskTable)
        if not event.value.strip():
            event.input.display = False
        table.focus()

    def action_sort(self) -> None:
        table = self.query_one_main(TaskTable)
        table.set_sort(table.sort_key.next())
        self.notify(f"Sorted by {table.sort_key.value}")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.HELP_ROWS))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = [
            ("Add task IDs", "Paste one or many IDs", self.action_add),
            ("Copy URL", "Copy the highlighted task's video URL", self.action_copy),
            ("Copy all URLs", "Copy every finished URL in the view", self.action_copy_all),
            ("Open URL", "Open the video in a browser", self.action_open),
            ("Refresh task", "Check the highlighted task now", self.action_refresh),
            ("Refresh all", "Check every unfinished task now", self.action_refresh_all),
            ("Pause / resume polling", "Toggle polling", self.action_pause),
            ("Remove task", "Stop watching the highlighted task", self.action_remove),
            ("Filter", "Filter the table", self.action_filter),
            ("Cycle sort", "added → state → updated", self.action_sort),
            ("Edit label", "Label the highlighted task", self.action_label),
            ("Keys", "Show every key binding", self.action_help),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)


def run_dashboard(options: DashboardOptions) -> None:
    VidwatchApp(options).run()


_ = SortKey  # re-exported for tests
