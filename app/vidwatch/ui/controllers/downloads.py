"""Downloads in the dashboard: the panel, the job that fills it (``D``), and the videos
saved as soon as their jobs finish (``[downloads] auto``).

The panel holds one row per download under way, with Textual's progress bar. It
appears above the footer while something downloads and folds away when all are
done. Progress arrives per chunk; the bars are updated at most ten times a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static

from vidwatch.core.changes import Change
from vidwatch.core.config import Config
from vidwatch.core.downloads.auto import AutoSaver
from vidwatch.core.downloads.fetch import MB, Downloader, DownloadResult
from vidwatch.core.media.previews import Previews
from vidwatch.core.media.stills import beside, write_still
from vidwatch.core.model.records import State, TaskRecord
from vidwatch.core.polling.events import TaskUpdate
from vidwatch.core.session import Session

log = logging.getLogger("vidwatch.downloads")

__all__ = ["AutoDownloads", "DownloadsPanel", "download_videos"]

EVERY = 0.1  # seconds between updates of one bar


def size_text(done: int, total: int | None) -> str:
    mb = 1024 * 1024
    return f"{done / mb:.1f}/{total / mb:.1f} MB" if total else f"{done / mb:.1f} MB"


class _Row(Horizontal):
    def __init__(self, name: str) -> None:
        super().__init__(classes="download-row")
        self.name_text = name
        self.last_update = 0.0

    def compose(self) -> ComposeResult:
        yield Static(Text(self.name_text), classes="download-name")
        yield ProgressBar(total=None, show_eta=False, classes="download-bar")
        yield Static("", classes="download-size")


class DownloadsPanel(Vertical):
    DEFAULT_CLASSES = "downloads"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: dict[str, _Row] = {}

    def on_mount(self) -> None:
        self.display = False

    @property
    def active(self) -> int:
        return len(self._rows)

    def start(self, task_id: str, name: str) -> None:
        if task_id in self._rows:
            return
        row = _Row(name)
        self._rows[task_id] = row
        self.mount(row)
        self.display = True
        self.border_title = f"Downloading {len(self._rows)}"

    def progress(self, task_id: str, done: int, total: int | None) -> None:
        row = self._rows.get(task_id)
        now = time.monotonic()
        if row is None or not row.is_mounted or now - row.last_update < EVERY:
            return
        row.last_update = now
        row.query_one(ProgressBar).update(total=total, progress=done)
        row.query_one(".download-size", Static).update(size_text(done, total))

    def finish(self, task_id: str) -> None:
        row = self._rows.pop(task_id, None)
        if row is not None:
            row.remove()
        self.border_title = f"Downloading {len(self._rows)}"
        if not self._rows:
            self.display = False


async def download_videos(
    app: App[Any],
    session: Session,
    panel: DownloadsPanel,
    records: list[TaskRecord],
    config: Config,
    transport: httpx.AsyncBaseTransport | None = None,
    previews: Previews | None = None,
) -> None:
    """Download these videos with a bar each; note where each was saved in the session
    (which announces it) and say how it went; with ``previews``, write ``NAME.jpg``
    beside each video (and note its facts)."""
    for record in records:
        panel.start(record.id, record.task.label or record.id)
    downloader = Downloader(
        config.download_dir,
        parallel=config.max_downloads,
        refresh=session.fresh_url,  # a signed link may have expired
        max_bytes=config.max_download_mb * MB,
        transport=transport,
    )
    try:
        results = await downloader.download_all(records, panel.progress)
    finally:
        await downloader.aclose()
        for record in records:
            panel.finish(record.id)
    failed = 0
    for result in results:
        known = session.records.get(result.task_id)
        name = (known.task.label or known.id) if known is not None else result.task_id
        if result.ok and result.path is not None:
            session.set_saved(result.task_id, str(result.path))
            if len(results) == 1:
                app.notify(f"{name}: {result.message}.")
        else:
            failed += 1
            app.notify(f"Not downloaded: {name}: {result.message}.", severity="error")
    if previews is not None:
        await _stills_beside(session, previews, [r.path for r in results if r.ok and r.path])
    if len(results) > 1:
        app.notify(
            f"Downloaded {len(results) - failed} of {len(results)} to {config.download_dir}"
            + (f"; {failed} failed." if failed else "."),
            severity="warning" if failed else "information",
        )


class AutoDownloads:
    """``[downloads] auto = true``: each video whose job finishes while the dashboard
    watches it is saved at once (a bar in the panel, the ``◆`` mark when it is on disk),
    through one downloader: at most ``max_downloads`` at once, within the size and
    free-space rules. Only a failure gets a toast; a finish is already in the table."""

    def __init__(
        self,
        app: App[Any],
        session: Session,
        panel: Callable[[], DownloadsPanel],
        config: Callable[[], Config],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.app = app
        self.session = session
        self.panel = panel
        self.config = config
        self.transport = transport
        self.saver: AutoSaver | None = None

    def on_changes(self, changes: Sequence[Change]) -> None:
        config = self.config()
        if not config.downloads.auto:
            return
        for change in changes:
            if not (isinstance(change, TaskUpdate) and change.state_changed):
                continue
            record = self.session.records.get(change.record.id)
            if record is None or record.result.state is not State.SUCCEEDED:
                continue
            if self.saver is None:
                self.saver = AutoSaver(self._downloader(config), self._done, self._progress)
            if self.saver.offer(record):
                self.panel().start(record.id, record.task.label or record.id)

    def _downloader(self, config: Config) -> Downloader:
        return Downloader(
            config.download_dir,
            parallel=config.max_downloads,
            refresh=self.session.fresh_url,
            max_bytes=config.max_download_mb * MB,
            transport=self.transport,
        )

    def _progress(self, task_id: str, done: int, total: int | None) -> None:
        self.panel().progress(task_id, done, total)

    async def _done(self, result: DownloadResult) -> None:
        self.panel().finish(result.task_id)
        if result.ok and result.path is not None:
            if not result.skipped:
                self.session.set_saved(result.task_id, str(result.path))
            return
        known = self.session.records.get(result.task_id)
        name = (known.task.label or known.id) if known is not None else result.task_id
        self.app.notify(f"Not saved: {name}: {result.message}.", severity="error")

    async def aclose(self) -> None:
        """Stop what is under way (the parts stay, to resume) and close."""
        if self.saver is not None:
            await self.saver.aclose()


async def _stills_beside(session: Session, previews: Previews, saved: list[Path]) -> None:
    """``NAME.jpg`` beside each video just saved (read from the file); a still that
    cannot be made is only logged: the video is what was asked for."""
    by_path = {r.task.saved_to: r for r in session.records.values() if r.task.saved_to}
    for path in saved:
        record = by_path.get(str(path))
        if record is None:
            continue
        preview, why = await write_still(previews, record, beside(path))
        if preview.facts is not None:
            session.set_video(record.id, preview.facts)
        if why is not None:
            log.info("no still beside %s: %s", path.name, why)
