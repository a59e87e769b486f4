"""The downloads panel: one row per download under way, with Textual's progress bar.

It appears above the footer while something downloads and folds away when all are
done. Progress arrives per chunk; the bars are updated at most ten times a second.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static

__all__ = ["DownloadsPanel"]

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
