"""The vidwatch dashboard (Textual): wires the headless engine to the screen.

The app owns the engine — the :class:`~vidwatch.core.session.Session` (task list and
file), its :class:`~vidwatch.core.poller.Poller` and the HTTP client — and the
timing around it: poller updates batched onto the screen, saves debounced and
run in a thread, the task file watched for other writers. The screen only draws
and reacts to keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import httpx
from rich.text import Text
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from vidwatch.core.client import QueryClient, client_for
from vidwatch.core.clipboard import copy_text, open_url
from vidwatch.core.config import Config, ConfigError, Paths, load_config
from vidwatch.core.downloads import MB, Downloader
from vidwatch.core.durations import DurationModel
from vidwatch.core.logs import add_secret, redact
from vidwatch.core.models import FINISHED_STATES, State, Task, TaskRecord, utcnow
from vidwatch.core.notify import desktop_sequence, notify_send, terminal_style
from vidwatch.core.outcomes import Ok
from vidwatch.core.poller import Poller, PollerEvent, PollerStatus, StatusChange, TaskUpdate
from vidwatch.core.session import DiskChange, Session
from vidwatch.core.store import StoreError, TaskStore
from vidwatch.core.view import View, load_view, save_view
from vidwatch.ui.dialogs import HelpScreen
from vidwatch.ui.downloads import DownloadsPanel
from vidwatch.ui.main_screen import Copier, MainScreen, Opener
from vidwatch.ui.task_table import TaskTable

__all__ = ["DashboardExit", "DashboardOptions", "VidwatchApp", "run_dashboard", "stylesheet"]

log = logging.getLogger("vidwatch.ui")

FLUSH_SECONDS = 0.1  # poller updates reach the screen at most this often
SAVE_DELAY = 1.0  # results are saved this long after they arrive (debounce)
EDIT_SAVE_DELAY = 0.05  # the user's own edits are saved almost at once
WATCH_SECONDS = 1.0  # how often the task file is checked for other writers
SAVE_RETRY_SECONDS = 5.0  # after a failed save
ANNOUNCE_GAP = 2.0  # seconds between "finished" toasts: a wave of finishes is summed up
VIEW_SAVE_DELAY = 1.0  # seconds: the view is written once typing settles
GC_FREEZE_TICKS = 60  # seconds between moving long-lived objects out of the GC's way
GC_FULL_TICKS = 900  # seconds between full collections
DEMO_MIN_INTERVAL, DEMO_MAX_INTERVAL = 1.0, 8.0  # the demo moves fast
DEMO_MEDIAN = 90.0  # the simulator's median job, in simulated seconds


ClientFactory = Callable[[Config], QueryClient]


def make_client(config: Config) -> QueryClient:
    return client_for(config)


def stylesheet() -> str:
    """The path of the packaged stylesheet (works for installed packages too)."""
    return str(files("vidwatch.styles").joinpath("app.tcss"))


@dataclass(frozen=True)
class DashboardOptions:
    paths: Paths
    config: Config
    demo: bool = False
    demo_jobs: int = 36
    demo_seed: int = 7
    demo_speed: float = 3.0


class VidwatchApp(App[None]):
    """Watch video jobs: a live table, a detail pane, one-key copy."""

    CSS_PATH = stylesheet()
    TITLE = "vidwatch"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", tooltip="Show every key"),
        Binding("q", "quit", "Quit", tooltip="Save and quit"),
    ]

    def __init__(
        self,
        options: DashboardOptions,
        *,
        clock: Callable[[], datetime] = utcnow,
        copier: Copier = copy_text,
        opener: Opener = open_url,
        client_factory: ClientFactory = make_client,
        downloader_transport: httpx.AsyncBaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.options = options
        self.environ = os.environ if environ is None else environ
        self.client_factory = client_factory
        self.config = options.config
        self.clock = clock
        self.simulator: object | None = None
        self.client: QueryClient | None = None
        self._demo_dir: Path | None = None
        if options.demo:
            self._demo_dir = Path(tempfile.mkdtemp(prefix="vidwatch-demo-"))
            store = TaskStore(self._demo_dir / "tasks.toml")
            policy = replace(
                self.config.policy,
                min_interval=DEMO_MIN_INTERVAL,
                max_interval=DEMO_MAX_INTERVAL,
            )
            self.config = replace(self.config, policy=policy)
        else:
            store = TaskStore(options.paths.tasks_file)
        durations = None
        if options.demo:  # the simulator runs faster than real jobs: so do their durations
            durations = DurationModel(prior_median=DEMO_MEDIAN / options.demo_speed)
        self.poller = Poller(None, self.config.policy, wall=clock, durations=durations)
        self.session = Session(store, self.poller)
        self.main = MainScreen(
            self.session,
            copier=copier,
            opener=opener,
            clock=clock,
            demo=options.demo,
            folder=self.config.download_dir,
            view=load_view(options.paths.view_file) if not options.demo else None,
        )
        self.downloader_transport = downloader_transport
        self._pending: dict[str, TaskUpdate] = {}
        self._unsaved_view: View | None = None  # changed, not written yet
        self._batch_announced: frozenset[str] = frozenset()
        self._finished: list[TaskRecord] = []  # finishes not announced yet
        self._announced_at = -ANNOUNCE_GAP  # monotonic time of the last "finished" toast
        self._announce_armed = False
        self._flash: set[str] = set()
        self._flush_armed = False
        self._save_timer_armed = False
        self._save_error: str | None = None
        self.unsaved_error: str | None = None  # the last save on exit failed
        self._loaded = False
        self._engine_closed = False
        self._ticks = 0

    def get_default_screen(self) -> Screen[None]:
        return self.main

    def _fatal_error(self) -> None:
        """Textual's crash handler, replaced on purpose: its traceback shows the values of
        local variables, which can hold the API key. The log gets the details (redacted);
        the terminal gets one sentence."""
        error = sys.exc_info()[1]
        log.error("the dashboard stopped after an internal error", exc_info=error)
        what = f"{type(error).__name__}: {error}" if error is not None else "unknown"
        self.panic(
            Text(
                redact(
                    f"vidwatch stopped after an internal error ({what}). Your list was saved "
                    "up to the last change; the log has the details (vidwatch paths)."
                )
            )
        )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast is plain text: a status word or reason from the server that looks
        like ``[@click=…]`` or ``[/]`` must show as itself, never act or crash."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # ------------------------------------------------------------------ start

    async def on_mount(self) -> None:
        for warning in self.config.warnings:
            self.notify(warning, severity="warning", timeout=10, markup=False)
        if self.options.demo:
            await self._start_demo()
        await self._load()
        log.info(
            "dashboard on %d tasks from %s (base URL %s%s)",
            len(self.session.records),
            self.session.store.path,
            self.config.base_url,
            ", demo" if self.options.demo else "",
        )
        self.poller.subscribe(self._on_poller_event)
        if self.config.api_key:
            self._go_online(self.config)
        else:
            self.main.set_banner(
                "key",
                "No API key: showing the saved list without polling. Set QUICKROUTER_API_KEY "
                f"or put api_key in {self.options.paths.config_file} (chmod 600), then press p. "
                "To see vidwatch at work, run: vidwatch --demo",
            )
        self.run_worker(self.poller.run(), name="poller", group="poller", exit_on_error=False)
        self.set_interval(1.0, self.tick)
        self.set_interval(WATCH_SECONDS, self._watch_file)
        self._install_signal_handlers()

    async def _load(self) -> None:
        try:
            loaded = await asyncio.to_thread(self.session.read)
        except StoreError as exc:
            self.main.set_banner("store", f"{exc} Nothing will be saved until this is fixed.")
            self.main.saving_failed = True
            self._save_error = str(exc)
        else:
            warning = self.session.adopt(loaded)
            if warning:
                self.main.set_banner("store", warning)
        self.main.show_records(self.session.records.values())
        self._loaded = True
        _settle_garbage_collector()

    async def _start_demo(self) -> None:
        from vidwatch.core.simulator import Simulator

        options = self.options
        simulator = Simulator(
            jobs=options.demo_jobs, seed=options.demo_seed, speed=options.demo_speed
        )
        base_url = await simulator.start()
        self.simulator = simulator
        now = self.clock()
        tasks = [Task(i, now, f"demo {n + 1:02d}") for n, i in enumerate(simulator.job_ids)]
        await asyncio.to_thread(self.session.store.add, tasks)
        self.config = replace(
            self.config, base_url=base_url, api_key=simulator.api_key, key_source="demo"
        )
        self.main.set_banner(
            "demo",
            f"DEMO: {len(tasks)} simulated jobs from the built-in simulator at {base_url}, "
            "in a task list of their own (yours is untouched). Set QUICKROUTER_API_KEY to "
            "watch your real jobs.",
        )

    def _go_online(self, config: Config) -> None:
        try:
            client = self.client_factory(config)
        except ValueError as exc:
            self.main.set_banner("key", str(exc))
            return
        self.client = client
        self.main.set_banner("key", None)
        self.poller.set_client(client)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, lambda: self.call_later(self.action_quit))

    # ------------------------------------------------------------------ stop

    async def action_quit(self) -> None:
        await self._save_and_close()
        self.exit()

    async def on_unmount(self) -> None:
        await self._save_and_close()

    async def _save_and_close(self) -> None:
        """Stop polling, save everything, release the network (idempotent)."""
        if self._engine_closed:
            return
        self._engine_closed = True
        await self._save_view()  # a view changed just before quitting is kept too
        await self.poller.aclose()
        if self._pending:  # results not drawn yet are in the poller's records: save them
            self._pending.clear()
            self.session.mark_dirty()
        if self._loaded:
            try:  # waits for a save under way; saves again if it failed or more changed
                await self.session.save_if_dirty()
            except StoreError as exc:
                # The screen is going away: the CLI reports this after the app exits.
                self.unsaved_error = str(exc)
                log.error("final save failed: %s", exc)
            except Exception as exc:
                self.unsaved_error = f"an internal error ({type(exc).__name__}); see the log"
                log.exception("final save failed")
        if self.client is not None:
            await self.client.aclose()
        stop = getattr(self.simulator, "stop", None)
        if stop is not None:
            await stop()
        if self._demo_dir is not None:
            shutil.rmtree(self._demo_dir, ignore_errors=True)

    # ------------------------------------------------------------------ poller events

    def _on_poller_event(self, event: PollerEvent) -> None:
        if isinstance(event, StatusChange):
            self._on_status(event.status)
            return
        self._pending[event.record.id] = event
        if event.state_changed:
            self._flash.add(event.record.id)
        if not self._flush_armed:
            self._flush_armed = True
            self.set_timer(FLUSH_SECONDS, self._flush_updates)

    def _flush_updates(self) -> None:
        self._flush_armed = False
        if not self._pending or self._screen_gone:
            return  # closing: the records are saved from the poller, the screen is going
        updates = list(self._pending.values())
        self._pending.clear()
        flash, self._flash = self._flash, set()
        # The current record, not the update's copy: a label edited (or a task removed)
        # since the poll answered must not be undone (or brought back) by it.
        records = self.session.records
        current = [records[u.record.id] for u in updates if u.record.id in records]
        self.main.apply_updates(current, flash)
        self._announce_finished(updates)
        self._announce_batch(updates)
        self.session.mark_dirty()
        self._schedule_save(SAVE_DELAY)

    def _announce_finished(self, updates: Iterable[TaskUpdate]) -> None:
        """A toast, the bell and a desktop notification for jobs that just finished; at
        most one every ANNOUNCE_GAP seconds, so a wave of finishes is one summary."""
        self._finished += [
            u.record
            for u in updates
            if u.state_changed
            and u.previous is not None
            and u.record.result.state in FINISHED_STATES
        ]
        if not self._finished or self._announce_armed:
            return
        wait = self._announced_at + ANNOUNCE_GAP - time.monotonic()
        if wait > 0:
            self._announce_armed = True
            self.set_timer(wait, self._announce_now)
        else:
            self._announce_now()

    def _announce_now(self) -> None:
        self._announce_armed = False
        if self._screen_gone:
            return
        done, self._finished = self._finished, []
        if not done:
            return
        self._announced_at = time.monotonic()
        failed = [r for r in done if r.result.state is State.FAILED]
        if len(done) == 1:
            record = done[0]
            name = record.task.label or record.id
            if failed:
                self.notify(f"Failed: {name}", severity="error")
                self.desktop("vidwatch: a job failed", name)
            else:
                # c copies the highlighted row: offer it only when that is this task
                here = self.main.table.cursor_id == record.id
                self.notify(f"Finished: {name}" + (" — press c to copy its URL" if here else ""))
                self.desktop("vidwatch: a video is ready", name)
        else:
            summary = f"{len(done) - len(failed)} succeeded, {len(failed)} failed"
            self.notify(summary, severity="warning" if failed else "information")
            self.desktop("vidwatch", summary)
        if self.config.bell:
            self.bell()

    def _announce_batch(self, updates: Iterable[TaskUpdate]) -> None:
        """One summary when the last of the marked tasks finishes (not when tasks that
        had already finished are marked)."""
        marked = frozenset(self.main.table.marked)
        if not marked or marked == self._batch_announced:
            return
        if not any(u.state_changed and u.record.id in marked for u in updates):
            return
        records = [self.session.records[i] for i in marked if i in self.session.records]
        if not records or not all(r.result.final for r in records):
            return
        self._batch_announced = marked
        failed = sum(1 for r in records if r.result.state is State.FAILED)
        which = (
            "The marked task is" if len(records) == 1 else f"All {len(records)} marked tasks are"
        )
        summary = f"{which} done: {len(records) - failed} succeeded, {failed} failed."
        self.notify(summary, timeout=10)
        self.desktop("vidwatch: your batch is done", summary)

    def desktop(self, title: str, body: str) -> None:
        """A desktop notification, the way the config says (OSC 9/777 or notify-send)."""
        mode = self.config.desktop_notifications
        if mode == "off":
            return
        if mode == "notify-send":
            self.run_worker(
                asyncio.to_thread(notify_send, title, body), group="notify", exit_on_error=False
            )
            return
        style = terminal_style(self.environ) or ("osc9" if mode == "terminal" else None)
        if style is None:
            return
        sequence = desktop_sequence(title, body, style, in_tmux=bool(self.environ.get("TMUX")))
        driver = self._driver
        if driver is not None:
            driver.write(sequence)
            driver.flush()

    def _on_status(self, status: PollerStatus) -> None:
        if self._screen_gone:
            return
        self.main.status = status
        if status.auth_error:
            self.main.set_banner(
                "auth", f"{status.auth_error}. Polling is paused; press p to retry."
            )
        else:
            self.main.set_banner("auth", None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "poller" and event.state is WorkerState.ERROR:
            log.error("the poller stopped: %r", event.worker.error)
            self.main.set_banner(
                "poller", "Polling stopped after an internal error (see the log); restart vidwatch."
            )

    @property
    def _screen_gone(self) -> bool:
        """Shutting down: the screens may already be taken apart, so nothing touches them."""
        return self._engine_closed or not self.is_running

    def tick(self) -> None:
        """Once a second: times move on, and the request counters are brought up to date."""
        if self._screen_gone:
            return
        self.main.status = self.poller.refresh_status()
        self.main.summary = self.poller.durations_summary()
        self.main.tick()
        self._ticks += 1
        if self._ticks % GC_FREEZE_TICKS == 0:
            gc.freeze()  # survivors of the last minute join the objects gen-2 passes skip
        if self._ticks % GC_FULL_TICKS == 0:
            _settle_garbage_collector()

    # ------------------------------------------------------------------ saving

    def on_main_screen_edited(self, event: MainScreen.Edited) -> None:
        self._schedule_save(EDIT_SAVE_DELAY)

    # ------------------------------------------------------------------ the remembered view

    def on_main_screen_view_changed(self, event: MainScreen.ViewChanged) -> None:
        if self.options.demo:
            return  # the demo never touches the user's files
        armed = self._unsaved_view is not None
        self._unsaved_view = event.view
        if not armed:  # else a save is coming anyway, and takes the latest view
            self.set_timer(VIEW_SAVE_DELAY, self._save_view)

    async def _save_view(self) -> None:
        """Write the latest view (from the message: the screen may be gone by now)."""
        view, self._unsaved_view = self._unsaved_view, None
        if view is None:
            return
        try:
            await asyncio.to_thread(save_view, self.options.paths.view_file, view)
        except OSError as exc:
            log.warning("cannot remember the view in %s: %s", self.options.paths.view_file, exc)

    # ------------------------------------------------------------------ downloads

    def on_main_screen_download_requested(self, event: MainScreen.DownloadRequested) -> None:
        self.run_worker(self._download(event.records), group="downloads", exit_on_error=False)

    async def _download(self, records: list[TaskRecord]) -> None:
        panel = self.main.query_one(DownloadsPanel)
        for record in records:
            panel.start(record.id, record.task.label or record.id)

        async def refresh(task_id: str) -> str | None:
            outcome = await self.poller.ask(task_id)
            return outcome.result.video_url if isinstance(outcome, Ok) else None

        downloader = Downloader(
            self.config.download_dir,
            parallel=self.config.max_downloads,
            refresh=refresh,
            max_bytes=self.config.max_download_mb * MB,
            transport=self.downloader_transport,
        )
        saved = failed = 0
        try:
            results = await downloader.download_all(records, panel.progress)
        finally:
            await downloader.aclose()
            for record in records:
                panel.finish(record.id)
        for result in results:
            name = self._task_name(result.task_id)
            if result.ok and result.path is not None:
                saved += 1
                updated = self.session.set_saved(result.task_id, str(result.path))
                if updated is not None:
                    self.main.apply_updates([updated])
                if len(results) == 1:
                    self.notify(f"{name}: {result.message}.")
            else:
                failed += 1
                self.notify(f"Not downloaded: {name}: {result.message}.", severity="error")
        if len(results) > 1:
            self.notify(
                f"Downloaded {saved} of {len(results)} to {self.config.download_dir}"
                + (f"; {failed} failed." if failed else "."),
                severity="warning" if failed else "information",
            )
        self.session.mark_dirty()
        self._schedule_save(EDIT_SAVE_DELAY)

    def _task_name(self, task_id: str) -> str:
        record = self.session.records.get(task_id)
        return (record.task.label or record.id) if record is not None else task_id

    def _schedule_save(self, delay: float) -> None:
        if not self._save_timer_armed:
            self._save_timer_armed = True
            self.set_timer(delay, self._save_soon)

    async def _save_soon(self) -> None:
        self._save_timer_armed = False
        await self._save_now()

    async def _save_now(self) -> None:
        """Merge our list into the file (in a thread) and pick up others' changes."""
        if not self._loaded or not self.session.dirty or self._engine_closed:
            return
        try:
            change = await self.session.save_async()
        except StoreError as exc:
            self._saving_failed(str(exc))
            return
        except Exception as exc:  # a defect must not take the dashboard down
            log.exception("saving failed")
            self._saving_failed(f"An internal error ({type(exc).__name__}); see the log.")
            return
        if self._screen_gone:  # the final save in _save_and_close reports what is left
            return
        if self._save_error is not None:
            self._save_error = None
            self.main.saving_failed = False
            self.main.set_banner("save", None)
            self.main.set_banner("store", None)
            self.notify("Saving works again.")
        self._apply(change)

    def _saving_failed(self, message: str) -> None:
        if self._screen_gone:
            return
        if self._save_error != message:
            self.notify(message, severity="error", timeout=15, markup=False)
        self._save_error = message
        self.main.saving_failed = True
        self.main.set_banner(
            "save", f"Cannot save: {message} Everything is kept in memory; retrying."
        )
        self._schedule_save(SAVE_RETRY_SECONDS)

    async def _watch_file(self) -> None:
        if not self._loaded or self._screen_gone:
            return
        try:
            change = await self.session.check_disk()
        except StoreError as exc:
            if not self._screen_gone:
                self.main.set_banner("store", str(exc))
            return
        if not self._screen_gone:
            self._apply(change)

    def _apply(self, change: DiskChange) -> None:
        if change.warning:
            self.main.set_banner("store", change.warning)
        if change.added or change.removed:
            self.main.apply_disk_change(change)
        if change.updated:
            self.main.apply_updates(change.updated)

    # ------------------------------------------------------------------ app actions

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.key_help()))

    def key_help(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every binding, from the bindings themselves."""
        rows: list[tuple[str, str]] = []
        marking = [b for b in TaskTable.BINDINGS if isinstance(b, Binding) and b.tooltip]
        for binding in [*MainScreen.BINDINGS, *marking, *self.BINDINGS]:
            assert isinstance(binding, Binding)
            if binding.action in MainScreen.ALTERNATES:
                continue
            keys = ", ".join(self.get_key_display(Binding(k, "")) for k in binding.key.split(","))
            rows.append((keys, binding.tooltip or binding.description))
        rows += [
            ("↑ ↓ j k", "move the cursor; pgup/pgdn and home/end jump"),
            ("tab", "move between the table and the detail pane (scroll a long prompt)"),
            ("ctrl+p", "command palette: every action by name"),
        ]
        return rows

    def action_pause(self) -> None:
        poller = self.poller
        if poller.client is None or poller.status.auth_error:
            self._retry_key()
        elif poller.scheduler.paused:
            poller.resume()
            self.notify("Polling resumed.")
        else:
            poller.pause()
            self.notify("Polling paused. Press p to resume.")

    def _retry_key(self) -> None:
        """Re-read the config: a fixed or new key (or the same one, if it came from the
        environment or the command line) starts polling again."""
        if self.options.demo:
            self.poller.resume()
            self.notify("Retrying.")
            return
        try:
            fresh = load_config(self.options.paths.config_file)
        except ConfigError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        key = fresh.api_key or self.config.api_key
        if not key:
            self.notify(
                f"Still no API key: set QUICKROUTER_API_KEY or api_key in "
                f"{self.options.paths.config_file}.",
                severity="warning",
            )
            return
        add_secret(key)
        changed = key != self.config.api_key
        self.config = replace(self.config, api_key=key, key_source=fresh.key_source)
        if self.poller.client is None:
            self._go_online(replace(fresh, api_key=key, policy=self.config.policy))
            if self.poller.client is not None:
                self.notify("API key found: polling started.")
        elif changed:
            self.poller.set_key(key)
            self.notify("Retrying with the new key from the config file.")
        else:
            self.poller.resume()
            self.notify("Retrying with the same key.")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Keys":  # ours below lists every key, not the focused few
                yield command
        if screen is not self.main:
            return
        for binding in MainScreen.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.action in MainScreen.ALTERNATES:
                continue
            action = binding.action
            title = binding.description
            if action == "pause_polling":  # one entry that toggles, named for what it does now
                action = "resume_polling" if self.main.polling_stopped else action
                title = "Resume" if self.main.polling_stopped else "Pause"
            yield SystemCommand(
                title,
                f"{binding.tooltip} ({binding.key.split(',')[0]})",
                _runner(self.main, action),
            )
        yield SystemCommand("Keys", "Show every key binding (?)", self.action_help)


def _runner(screen: MainScreen, action: str) -> Callable[[], object]:
    async def run() -> None:
        await screen.run_from_palette(action)

    return run


@dataclass(frozen=True)
class DashboardExit:
    crashed: bool  # stopped by an internal error (the log has the details)
    unsaved_error: str | None  # why the last save failed, if it did


def _settle_garbage_collector() -> None:
    """Collect everything once, then freeze what is left.

    With 10,000 tasks a full (generation 2) collection walks every record and took
    40 ms, long enough to delay a key press; frozen objects are not walked. Records
    replaced later are still freed by reference counting (they hold no cycles); the
    full collection every quarter of an hour catches any cycle that was frozen.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def run_dashboard(options: DashboardOptions) -> DashboardExit:
    """Run until the user quits."""
    app = VidwatchApp(options)
    app.run()
    return DashboardExit(bool(app.return_code), app.unsaved_error)
