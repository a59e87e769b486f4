"""The vidwatch dashboard (Textual): wires the headless engine to the screen.

The app builds the engine — the :class:`~vidwatch.core.session.Session` (the one owner
of the task records) and its :class:`~vidwatch.core.polling.poller.Poller` — and connects the
parts: the session's change stream goes through a :class:`~vidwatch.ui.controllers.feed.ChangeFeed`
to the screen (which applies it in one place), the
:class:`~vidwatch.ui.controllers.announcer.Announcer` (toasts, bell, desktop) and the
:class:`~vidwatch.ui.controllers.saver.SaveController` (saving, file watching, the view). The
client and key live in :mod:`~vidwatch.ui.controllers.connection`, the demo in
:mod:`~vidwatch.ui.controllers.demo`, the palette in :mod:`~vidwatch.ui.palette`, the toasts'
manners in :mod:`~vidwatch.ui.widgets.toasts`, and the signal watchdog in
:mod:`~vidwatch.core.runtime.lifeline`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import termios
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import httpx
from rich.text import Text
from textual import events
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import Notification, SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from vidwatch.core.changes import Change
from vidwatch.core.clients import billing_client_for, client_for
from vidwatch.core.config import Config, Paths
from vidwatch.core.create.requests import CreateRequest
from vidwatch.core.downloads.diskspace import MB
from vidwatch.core.media.cache import StillCache
from vidwatch.core.media.previews import Previews
from vidwatch.core.model.money import QUOTA_UNITS
from vidwatch.core.model.records import TaskRequest, utcnow
from vidwatch.core.money.estimates import Quote, batch_quote, over_limit
from vidwatch.core.polling.poller import Poller
from vidwatch.core.runtime.clipboard import copy_text, open_url
from vidwatch.core.runtime.gc_policy import GcPolicy, settle_after_load
from vidwatch.core.runtime.lifeline import Lifeline
from vidwatch.core.runtime.logs import redact_secrets
from vidwatch.core.session import Session
from vidwatch.core.stats import compute, spent_today
from vidwatch.core.store.charge_book import Book, book_path
from vidwatch.core.store.task_file import StoreError, TaskStore
from vidwatch.core.store.view import load_view
from vidwatch.ui.banners import Banner
from vidwatch.ui.controllers.announcer import Announcer
from vidwatch.ui.controllers.connection import ClientFactory, Connection
from vidwatch.ui.controllers.creating import JobCreator, quit_question
from vidwatch.ui.controllers.demo import Demo
from vidwatch.ui.controllers.downloads import AutoDownloads, DownloadsPanel, download_videos
from vidwatch.ui.controllers.feed import ChangeFeed
from vidwatch.ui.controllers.money import BalanceController, BillingFactory
from vidwatch.ui.controllers.saver import SaveController
from vidwatch.ui.controllers.task_actions import TaskActions
from vidwatch.ui.dialogs.confirm import ConfirmDialog
from vidwatch.ui.dialogs.create import Prefill
from vidwatch.ui.palette import key_help, palette_commands
from vidwatch.ui.screens.help import HelpScreen
from vidwatch.ui.screens.main import Copier, MainScreen, Opener
from vidwatch.ui.screens.stats import StatsScreen
from vidwatch.ui.textual_private import CrashHook, terminal_modes
from vidwatch.ui.widgets.still import StillView, prepare, resolve_mode
from vidwatch.ui.widgets.toasts import place_toasts, show_toast

__all__ = ["DashboardExit", "DashboardOptions", "VidwatchApp", "run_dashboard", "stylesheet"]

log = logging.getLogger("vidwatch.ui")


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


class VidwatchApp(CrashHook[None]):
    """Watch video jobs: a live table, a detail pane, one-key copy."""

    CSS_PATH = stylesheet()
    TITLE = "vidwatch"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", tooltip="Show every key"),
        Binding("q", "quit", "Quit", tooltip="Save and quit"),
        Binding("dollar_sign", "stats", "Stats", show=False, tooltip="Spend, costs, running times"),
    ]

    def __init__(
        self,
        options: DashboardOptions,
        *,
        clock: Callable[[], datetime] = utcnow,
        copier: Copier = copy_text,
        opener: Opener = open_url,
        client_factory: ClientFactory = client_for,
        billing_factory: BillingFactory = billing_client_for,
        downloader_transport: httpx.AsyncBaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.options = options
        self.environ = os.environ if environ is None else environ
        self.clock = clock
        self.demo: Demo | None = None
        config = options.config
        store = TaskStore(options.paths.tasks_file)
        durations = None
        if options.demo:
            self.demo = Demo(options.demo_jobs, options.demo_seed, options.demo_speed)
            store, durations = self.demo.store, self.demo.durations()
            config = self.demo.config(config)
        self.poller = Poller(None, config.policy, wall=clock, durations=durations)
        self.session = Session(store, self.poller)
        stills = self.demo.stills if self.demo is not None else options.paths.cache_dir
        self.previews, still = _stills(stills, config, self.environ, downloader_transport)
        still.on_facts = self.session.set_video
        self.main = MainScreen(
            self.session,
            copier=copier,
            opener=opener,
            clock=clock,
            demo=options.demo,
            folder=config.download_dir,
            view=load_view(options.paths.view_file) if not options.demo else None,
            new_job=self._open_new_job,
            still=still,
        )
        self.connection = Connection(
            self,
            self.poller,
            config,
            client_factory,
            config_file=options.paths.config_file,
            banner=self.main.set_banner,
            demo=options.demo,
        )
        demo_folder = self.demo.folder if self.demo is not None else None
        self.creator = JobCreator(
            self,
            self.session,
            config=lambda: self.config,
            client=lambda: self.connection.client,
            # the demo's creates are free, on its simulator: never in the user's record
            sent_dir=lambda: demo_folder / "sent" if demo_folder else options.paths.sent_dir,
            banner=self.main.set_banner,
            estimate=self._estimate,
            refusal=self._refusal,
        )
        self.balance = BalanceController(
            self._show_balance,
            billing_factory,
            session=self.session,
            book=book_path(store.path),
        )
        self.downloader_transport = downloader_transport
        self.auto_downloads = AutoDownloads(
            self,
            self.session,
            lambda: self.main.query_one(DownloadsPanel),
            lambda: self.config,
            downloader_transport,
        )
        self.feed = ChangeFeed(self._deliver, self.set_timer)
        self.announcer = Announcer(
            self,
            self.session,
            lambda: self.main.table,
            config=lambda: self.config,
            environ=self.environ,
            alive=self._alive,
        )
        self.saver = SaveController(
            self,
            self.session,
            banner=self.main.set_banner,
            failing=self._saving_failed,
            alive=self._alive,
            view_file=None if options.demo else options.paths.view_file,
        )
        self.lifeline = Lifeline(self._quit_from_signal, self._save_for_exit)
        self._signal_loop: asyncio.AbstractEventLoop | None = None
        self.gc_policy = GcPolicy()
        self._engine_closed = False

    def _book(self) -> Book:
        keeper = self.balance.keeper
        return keeper.book if keeper is not None else Book()

    def _quote(self, request: CreateRequest, book: Book) -> Quote:
        wanted = TaskRequest(request.model, "", request.fields)
        return batch_quote([wanted], self.session.records.values(), self.config.prices, book)

    def _estimate(self, request: CreateRequest) -> str:
        """What the confirm screen says a job would cost (no request made)."""
        return self._quote(request, self._book()).text(self.clock())

    def _refusal(self, request: CreateRequest) -> str | None:
        """Why ``[create] max_spend`` refuses this job — its estimate alone, or with what
        was spent today — or None (no request made)."""
        limit = self.config.create.max_spend
        if limit is None:
            return None
        book = self._book()
        today = spent_today(self.session.records.values(), book, self.clock(), self.config.prices)
        return over_limit(self._quote(request, book), 1, limit, today)

    def _show_balance(self, text: str) -> None:
        self.main.balance = text

    @property
    def config(self) -> Config:
        """The effective settings (the demo's, a key found later)."""
        return self.connection.config

    @config.setter
    def config(self, config: Config) -> None:
        self.connection.config = config

    @property
    def unsaved_error(self) -> str | None:
        """Why the last save on exit failed (None: everything was saved)."""
        return self.saver.unsaved_error

    def get_default_screen(self) -> Screen[None]:
        return self.main

    def crashed(self, error: BaseException | None) -> None:
        """Instead of Textual's crash report (:class:`CrashHook`): its traceback shows the
        values of local variables, which can hold the API key. The log gets the details
        (redacted); the terminal gets one sentence."""
        log.error("the dashboard stopped after an internal error", exc_info=error)
        what = f"{type(error).__name__}: {error}" if error is not None else "unknown"
        self.panic(
            Text(
                redact_secrets(
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
        like ``[@click=…]`` or ``[/]`` must show as itself, never act or crash. Repeats
        fold into one; a few show at once, clear of the box being typed in."""
        if timeout is None:
            timeout = self.NOTIFICATION_TIMEOUT
        show_toast(self, Notification(message, title, severity, timeout, markup=False))
        self._place_toasts()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._place_toasts()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._place_toasts()

    def on_resize(self, event: events.Resize) -> None:
        self._place_toasts()

    def _place_toasts(self) -> None:
        self._place_toasts_now()
        # Again once laid out: a dialog just pushed, a box just shown have no place yet.
        self.call_after_refresh(self._place_toasts_now)

    def _place_toasts_now(self) -> None:
        with contextlib.suppress(Exception):  # no screen yet, or being taken apart
            place_toasts(self.screen)

    # ------------------------------------------------------------------ start

    async def on_mount(self) -> None:
        for warning in self.config.warnings:
            self.notify(warning, severity="warning", timeout=10, markup=False)
        self.session.subscribe(self.feed.push)
        if self.demo is not None:
            self.config, banner = await self.demo.start(self.config, self.clock)
            self.main.set_banner(Banner.DEMO, banner)
        await self._load()
        self.run_worker(self.creator.show_unresolved(), group="create", exit_on_error=False)
        log.info(
            "dashboard on %d tasks from %s (base URL %s%s)",
            len(self.session.records),
            self.session.store.path,
            self.config.base_url,
            ", demo" if self.demo is not None else "",
        )
        self.connection.start()
        self.session.subscribe(self.balance.on_change)
        self.balance.start(self.config)
        self.run_worker(self.poller.run(), name="poller", group="poller", exit_on_error=False)
        self.set_interval(1.0, self.tick)
        self.saver.start()
        self._signal_loop = asyncio.get_running_loop()
        self.lifeline.install()

    async def _load(self) -> None:
        try:
            loaded = await asyncio.to_thread(self.session.read)
        except StoreError as exc:
            self.saver.cannot_load(str(exc))
        else:
            self.session.adopt(loaded)  # announced: the screen shows the list
        self.saver.loaded = True
        settle_after_load(len(self.session.records))  # 10,000 records: out of the GC's way

    # ------------------------------------------------------------------ changes in

    def _deliver(self, changes: Sequence[Change]) -> None:
        """A batch from the session's stream: the screen, the announcer, the saver."""
        if self.closing:
            return
        self.main.apply_changes(changes)
        self.announcer.on_changes(changes)
        self.auto_downloads.on_changes(changes)
        self.saver.on_changes(changes)

    def _saving_failed(self, failing: bool) -> None:
        self.main.saving_failed = failing

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "poller" and event.state is WorkerState.ERROR:
            log.error("the poller stopped: %r", event.worker.error)
            self.main.set_banner(
                Banner.POLLER,
                "Polling stopped after an internal error (see the log); restart vidwatch.",
            )

    @property
    def closing(self) -> bool:
        """Shutting down: the screens may already be taken apart, so nothing touches them."""
        return self._engine_closed or not self.is_running

    def _alive(self) -> bool:
        return not self.closing

    def tick(self) -> None:
        """Once a second: times move on, and the request counters are brought up to date."""
        if self.closing:
            return
        self.main.status = self.poller.refresh_status()
        self.main.summary = self.poller.durations_summary()
        self.main.tick()
        self.gc_policy.tick()

    def on_main_screen_view_changed(self, event: MainScreen.ViewChanged) -> None:
        self.saver.view_changed(event.view)

    async def _open_new_job(self, prefill: Prefill | None) -> None:
        """``n`` and ``N``: the dialog, taking keys when this returns."""
        await self.creator.open(prefill)

    def on_task_actions_download_requested(self, event: TaskActions.DownloadRequested) -> None:
        panel = self.main.query_one(DownloadsPanel)
        job = download_videos(
            self,
            self.session,
            panel,
            event.records,
            self.config,
            self.downloader_transport,
            previews=self.previews if self.main.still.mode != "off" else None,
        )
        self.run_worker(job, group="downloads", exit_on_error=False)

    # ------------------------------------------------------------------ stop

    async def action_quit(self) -> None:
        """Save and quit; while a create is waiting for its answer, ask first (quitting
        would leave a job that may be made, and paid, without its ID)."""
        question = quit_question(self.creator)
        if question is None:
            await self._quit_now()
            return
        if isinstance(self.screen, ConfirmDialog):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_later(self._quit_now)

        self.push_screen(ConfirmDialog(*question), answered)

    async def _quit_now(self) -> None:
        await self._save_and_close()
        self.exit()

    async def on_unmount(self) -> None:
        await self._save_and_close()
        if self.lifeline.signalled is None:  # else further signals are ignored to the end
            self.lifeline.uninstall()

    async def _save_and_close(self) -> None:
        """Stop polling, save everything, release the network (idempotent)."""
        if self._engine_closed:
            return
        self._engine_closed = True
        self.feed.close()  # the screen is going: the records stay in the session
        await self.poller.aclose()  # answers in flight get a moment, and are kept
        await self.auto_downloads.aclose()  # their parts stay, to resume
        await self.saver.close()
        await self.balance.aclose()
        await self.connection.aclose()
        await self.previews.aclose()  # decoders still running are killed
        if self.demo is not None:
            await self.demo.stop()

    def _quit_from_signal(self) -> None:
        """SIGHUP or SIGTERM (from the signal handler: hand it to the event loop)."""
        loop = self._signal_loop
        if loop is not None:
            loop.call_soon_threadsafe(lambda: self.call_later(self._quit_now))

    def _save_for_exit(self) -> bool:
        """The watchdog's save, from its own thread, while the event loop is stuck. The
        demo's list is not saved but removed with its folder (closing the terminal left
        the folder and a task list in the temporary folder)."""
        saved = False
        if self.demo is not None:
            self.demo.discard()
            saved = True
        elif self.saver.loaded:
            self.session.write(self.session.snapshot())
            saved = True
        # Give the terminal back its settings, if it is still there (Textual's driver
        # for Linux and macOS keeps them).
        modes = terminal_modes(self)
        if modes is not None:
            with contextlib.suppress(Exception):
                termios.tcsetattr(modes[0], termios.TCSANOW, modes[1])
        return saved

    # ------------------------------------------------------------------ app actions

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(key_help(self, self.BINDINGS)))

    def action_stats(self) -> None:
        """``$``: the stats screen, from the list and the charge book (no request)."""
        if isinstance(self.screen, StatsScreen):
            return
        book = self._book()
        units = book.units or QUOTA_UNITS
        stats = compute(self.session.records.values(), book.unmatched, units, self.clock())
        self.push_screen(StatsScreen(stats, copy=self.main.copy))

    def action_pause(self) -> None:
        self.connection.pause_or_resume()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        inherited = super().get_system_commands(screen)
        if screen is not self.main:
            return (c for c in inherited if c.title != "Keys")
        return palette_commands(inherited, self.main, self.action_help)


def _stills(
    folder: Path,
    config: Config,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
) -> tuple[Previews, StillView]:
    """The stills of finished jobs (core/media), cached in ``folder``, and the view that
    shows them."""
    cache = StillCache(folder, config.preview.cache_mb * MB)
    previews = Previews(cache, max_bytes=config.max_download_mb * MB, transport=transport)
    return previews, StillView(previews, mode=resolve_mode(config.preview.mode, environ))


@dataclass(frozen=True)
class DashboardExit:
    crashed: bool  # stopped by an internal error (the log has the details)
    unsaved_error: str | None  # why the last save failed, if it did


def run_dashboard(options: DashboardOptions) -> DashboardExit:
    """Run until the user quits, or a signal ends it (see :mod:`vidwatch.core.runtime.lifeline`)."""
    prepare(resolve_mode(options.config.preview.mode, os.environ))  # before Textual starts
    app = VidwatchApp(options)
    try:
        app.run()
    finally:
        ended = DashboardExit(bool(app.return_code), app.unsaved_error)
        app.lifeline.finished(1 if ended.crashed or ended.unsaved_error else 0)
    return ended
