"""What the main screen's keys do to tasks: add, create, copy, open, download, check,
remove, label, export.

Every change to the list goes through a :class:`~vidwatch.core.session.Session`
method; the session announces it and the screen applies it in one place
(:meth:`MainScreen.apply_changes`). Actions here only ask, confirm and report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

from textual.message import Message
from textual.screen import Screen

from vidwatch.core.model.records import State, TaskRecord
from vidwatch.core.model.wording import no_video_reason
from vidwatch.core.runtime.clipboard import CopyResult, OpenResult
from vidwatch.core.session import AddReport, Session
from vidwatch.core.store.export import export, write_export
from vidwatch.core.text.wording import plural
from vidwatch.ui.dialogs.add import AddDialog, AddRequest
from vidwatch.ui.dialogs.confirm import ConfirmDialog
from vidwatch.ui.dialogs.create import Prefill
from vidwatch.ui.dialogs.export import ExportDialog, ExportRequest
from vidwatch.ui.dialogs.label import LabelDialog
from vidwatch.ui.widgets.detail import NO_TASKS
from vidwatch.ui.widgets.rows import url_refusal, video_url
from vidwatch.ui.widgets.task_table import TaskTable

__all__ = [
    "HIDDEN_BY_FILTER",
    "Copier",
    "NewJobOpener",
    "Opener",
    "TaskActions",
    "describe_add",
    "empty_hint",
    "skipped_note",
]

Copier = Callable[[str], CopyResult]
Opener = Callable[[str], OpenResult]
NewJobOpener = Callable[[Prefill | None], Awaitable[None]]

HIDDEN_BY_FILTER = "The filter hides every task. Press esc to clear it."


class TaskActions(Screen[None]):
    """The task actions of :class:`~vidwatch.ui.screens.main.MainScreen`."""

    class DownloadRequested(Message):
        """Download these finished videos."""

        def __init__(self, records: list[TaskRecord]) -> None:
            super().__init__()
            self.records = records

    def __init__(
        self,
        session: Session,
        *,
        copier: Copier,
        opener: Opener,
        clock: Callable[[], datetime],
        folder: Path,
        new_job: NewJobOpener,
    ) -> None:
        super().__init__()
        self.session = session
        self.new_job = new_job  # opens the new-job dialog; returns once it takes keys
        self.copier = copier
        self.opener = opener
        self.clock = clock
        self.folder = folder  # where downloads and exports go

    @property
    def table(self) -> TaskTable:
        return self.query_one(TaskTable)

    # ------------------------------------------------------------------ helpers

    def _selected(self) -> TaskRecord | None:
        record = self.table.cursor_record
        if record is None:
            self.notify(empty_hint(self.table), severity="warning")
        return record

    def _targets(self) -> list[TaskRecord]:
        """What a bulk action acts on: the marked tasks, else the highlighted one."""
        marked = self.table.marked_records
        if marked:
            return marked
        record = self._selected()
        return [record] if record is not None else []

    async def copy(self, text: str, what: str, after: str = "", before: str = "") -> None:
        """Copy and say truthfully how it went: ``[{before}; c]opied {what} {where}{after}.``"""
        result = await asyncio.to_thread(self.copier, text)
        if result.method == "osc52":
            self.app.copy_to_clipboard(text)
        said = f"opied {what} {result.where}{after}."
        self.notify(f"{before}; c{said}" if before else f"C{said}")

    # ------------------------------------------------------------------ actions

    def action_add(self) -> None:
        self.app.push_screen(AddDialog(), self._added)

    def _added(self, request: AddRequest | None) -> None:
        if request is None:
            return
        report = self.session.add(request.ids, request.label, now=self.clock())
        self.notify(
            describe_add(report, request.rejected),
            severity="warning" if request.rejected else "information",
        )

    # n and N open the dialog here and now, and wait until it takes keys: the keys typed
    # right after them (queued meanwhile) go to its prompt, never to this screen.
    async def action_new_job(self) -> None:
        await self.new_job(None)

    async def action_again(self) -> None:
        record = self._selected()
        if record is None:
            return
        request = record.task.request
        if request is None:  # added by ID: what the ID and the answers tell, to check
            await self.new_job(Prefill.guessed(record))
            return
        await self.new_job(Prefill.of(request, record.task.label))

    async def action_copy(self) -> None:
        if self.table.marked:
            marked = self.table.marked_records
            ready = [r for r in marked if video_url(r)]
            if not ready:
                self.notify(
                    f"Nothing copied: no marked task has a usable video URL"
                    f"{skipped_note(marked, ready)}.",
                    severity="warning",
                )
                return
            skipped = len(marked) - len(ready)
            after = f"; {skipped} skipped{skipped_note(marked, ready)}" if skipped else ""
            urls = "".join(f"{video_url(r)}\n" for r in ready)
            await self.copy(urls, f"{plural(len(ready), 'URL')} of marked tasks", after)
            return
        record = self._selected()
        if record is None:
            return
        url = self._usable_url(record, "Nothing copied")
        if url is not None:
            await self.copy(url, "the URL")

    def _usable_url(self, record: TaskRecord, nothing: str) -> str | None:
        """The record's URL when it may be used; else None, and a toast says why."""
        url = video_url(record)
        if url is None:
            refused = url_refusal(record) is not None
            self.notify(
                f"{nothing}: {no_video_reason(record)}.",
                severity="error" if refused else "warning",
            )
        return url

    async def action_copy_all(self) -> None:
        finished = [r for r in self.table.visible_records if r.result.state is State.SUCCEEDED]
        ready = [r for r in finished if video_url(r)]
        refused = sum(url_refusal(r) is not None for r in finished)
        note = f"; {refused} skipped (unusable URL)" if refused else ""
        if not ready:
            self.notify(f"Nothing copied: no finished URLs in this view{note}.", severity="warning")
            return
        urls = "".join(f"{video_url(r)}\n" for r in ready)
        await self.copy(urls, f"{plural(len(ready), 'URL')} of finished tasks in view", note)

    async def action_open(self) -> None:
        record = self._selected()
        if record is None:
            return
        url = self._usable_url(record, "Nothing to open")
        if url is None:
            return
        result = await asyncio.to_thread(self.opener, url)
        if result.opened:
            self.notify("Opened in the browser.")
        elif result.should_copy:
            await self.copy(url, "the URL", " instead", before=f"Not opened ({result.reason})")
        else:
            self.notify(f"Not opened: {result.reason}.", severity="error")

    def action_download(self) -> None:
        targets = self._targets()
        if not targets:
            return
        ready = [r for r in targets if r.result.state is State.SUCCEEDED and video_url(r)]
        if not ready:
            if len(targets) == 1:
                refused = url_refusal(targets[0]) is not None
                self.notify(
                    f"Nothing to download: {no_video_reason(targets[0])}.",
                    severity="error" if refused else "warning",
                )
            else:
                self.notify(
                    "Nothing to download: no marked task has a usable video"
                    f"{skipped_note(targets, ready)}.",
                    severity="warning",
                )
            return
        note = skipped_note(targets, ready)
        self.notify(f"Downloading {plural(len(ready), 'video')} to {self.folder}{note}.")
        self.post_message(self.DownloadRequested(ready))

    def action_refresh(self) -> None:
        targets = self._targets()
        if not targets:
            return
        if not self.session.online:
            self.notify("Not polling: no API key.", severity="warning")
            return
        started = self.session.refresh(r.id for r in targets)
        if len(targets) == 1:
            record = targets[0]
            if started:
                self.notify(f"Checking {record.task.label or record.id} now.")
            else:
                self.notify("It is being checked right now.")
        else:
            self.notify(f"Checking {plural(len(started), 'marked task')} now.")

    def action_refresh_all(self) -> None:
        if not self.session.online:
            self.notify("Not polling: no API key.", severity="warning")
            return
        count = self.session.refresh_all()
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
            if yes:
                self.session.remove(ids)
                self.notify(f"Stopped watching {name}.")

        self.app.push_screen(ConfirmDialog(question, detail), answer)

    def action_label(self) -> None:
        record = self._selected()
        if record is None:
            return

        def done(label: str | None) -> None:
            if label is not None:
                self.session.relabel(record.id, label)

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


def empty_hint(table: TaskTable) -> str:
    """Why no task is highlighted."""
    return NO_TASKS if not table.records or table.row_count else HIDDEN_BY_FILTER


def describe_add(report: AddReport, rejected: Sequence[tuple[str, str]]) -> str:
    parts = [f"Added {plural(len(report.added), 'task')}"]
    if report.skipped:
        parts.append(f"{len(report.skipped)} already watched")
    if rejected:
        task_id, reason = rejected[0]
        more = f" and {len(rejected) - 1} more" if len(rejected) > 1 else ""
        parts.append(f"{len(rejected)} rejected ({task_id[:40]!r}: {reason}{more})")
    return ", ".join(parts) + "."


def skipped_note(targets: Sequence[TaskRecord], ready: Sequence[TaskRecord]) -> str:
    """Why some marked tasks are left out: ' (1 failed, 2 not finished yet)'."""
    chosen = {r.id for r in ready}
    left = [r for r in targets if r.id not in chosen]
    if not left:
        return ""
    why: dict[str, int] = dict.fromkeys(
        ("with an unusable URL", "failed", "without a URL", "not finished yet"), 0
    )
    for record in left:
        state = record.result.state
        if url_refusal(record) is not None:  # a URL that fails the one rule
            why["with an unusable URL"] += 1
        elif state is State.FAILED:
            why["failed"] += 1
        elif state is State.SUCCEEDED:  # finished, no URL
            why["without a URL"] += 1
        else:
            why["not finished yet"] += 1
    return f" ({', '.join(f'{n} {reason}' for reason, n in why.items() if n)})"
