"""Creating jobs from the dashboard: the dialog, then the one send path.

A confirmed :class:`~vidwatch.ui.create_dialog.NewJob` goes through the same
:class:`~vidwatch.core.sender.Sender` as ``vidwatch create``, journaled in the same
manifest (the intent fsynced before the send, the verdict after), so a job whose answer
arrived but never reached the task list is listed by the next create here or on the
command line, and a send whose answer was lost is never sent again by itself. The new
task reaches the list through the session (an ``Added`` change: the row appears at
once) and is saved before the manifest notes it listed. Every outcome is a toast.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

from textual.app import App

from vidwatch.core.batch import BatchRow
from vidwatch.core.client import QueryClient
from vidwatch.core.config import Config
from vidwatch.core.manifest import (
    CREATE_JOURNAL,
    Manifest,
    ManifestBusy,
    ManifestDir,
    ManifestError,
    RowState,
)
from vidwatch.core.models import Task
from vidwatch.core.plan import Step, Why
from vidwatch.core.sender import (
    Budget,
    Pacer,
    Resumed,
    Sender,
    SendEvent,
    Sent,
    unlisted_tasks,
)
from vidwatch.core.session import Session
from vidwatch.core.verdict import Verdict
from vidwatch.core.wording import retry_words, span
from vidwatch.ui.create_dialog import CreateDialog, NewJob, Prefill

__all__ = ["JobCreator", "verdict_text"]

LOCK_WAIT: Final = 10.0  # seconds to wait for a `vidwatch create` that holds the journal
LIST_WAIT: Final = 60.0  # seconds for the list to take a new job (else: listed next time)
LONG_WAIT: Final = 5.0  # seconds: a wait this long keeps its toast longer and says its end


def verdict_text(verdict: Verdict) -> str:
    """``403 quota_not_enough: …`` (the server's text was cleaned when it was read)."""
    head = f"{verdict.status} {verdict.code}".strip() if verdict.status is not None else ""
    text = f"{head}: {verdict.message}" if head and verdict.message else head or verdict.message
    return text[:400]


class JobCreator:
    """Opens the new-job dialog and sends what the user confirms."""

    def __init__(
        self,
        app: App[Any],
        session: Session,
        *,
        config: Callable[[], Config],
        client: Callable[[], QueryClient | None],
    ) -> None:
        self.app = app
        self.session = session
        self.config = config
        self.client = client
        self._pacer: Pacer | None = None  # one create budget for the whole session
        self._one_at_a_time = asyncio.Lock()  # the journal is locked per open file
        self.sends = 0  # jobs sent (intents written)

    def open(self, prefill: Prefill | None = None) -> None:
        """``n`` (no prefill) or ``N`` (the task's request)."""
        if self.client() is None:
            self.app.notify(
                "Creating jobs needs an API key (see the banner); to try it without one, "
                "run: vidwatch --demo",
                severity="warning",
                timeout=10,
            )
            return
        again = prefill is not None
        if prefill is None:
            prefill = Prefill(self.config().create.model)
        self.app.push_screen(CreateDialog(prefill, again=again), self._confirmed)

    def _confirmed(self, job: NewJob | None) -> None:
        if job is None:
            self.app.notify("Nothing sent.", timeout=2)
            return
        self.app.run_worker(self.send(job), group="create", exit_on_error=False)

    async def send(self, job: NewJob) -> Verdict | None:
        """Send one job once; say how it ended. None when it was not sent at all."""
        async with self._one_at_a_time:
            return await self._send(job)

    async def _send(self, job: NewJob) -> Verdict | None:
        notify = self.app.notify
        client = self.client()
        if client is None:
            notify("Not sent: no API key (see the banner).", severity="error", timeout=10)
            return None
        try:
            manifest = await self._journal()
        except ManifestError as exc:
            notify(f"Not sent: {exc}.", severity="error", timeout=10)
            return None
        row = BatchRow(1, 0, uuid.uuid4().hex, job.label, job.request)
        settings = self.config().create
        budget = Budget(settings.per_minute, settings.concurrency)
        if self._pacer is None:
            self._pacer = Pacer(budget.per_minute)
        loop = asyncio.get_running_loop()

        def add_tasks(tasks: list[Task]) -> None:  # the Sender's worker thread
            asyncio.run_coroutine_threadsafe(self._list(tasks), loop).result(LIST_WAIT)

        sender = Sender(
            client, manifest, budget, add_tasks=add_tasks, report=self._retrying, pacer=self._pacer
        )
        self.sends += 1
        try:
            result = await sender.run([Step(row, True, Why.NEW)], unlisted_tasks(manifest, ()))
        except ManifestError as exc:
            notify(f"Not sent: {exc}.", severity="error", timeout=10)
            return None
        finally:
            await asyncio.to_thread(manifest.close)
        for error in result.list_errors:
            notify(
                f"The task list cannot be written ({error}); the new job is listed by the "
                "next create.",
                severity="error",
                timeout=15,
            )
        verdict = result.verdicts.get(row.identity)
        if verdict is None:
            notify(f"Not sent: {result.stopped or 'the job was not sent'}.", severity="error")
            return None
        self._tell(verdict)
        return verdict

    async def _journal(self) -> Manifest:
        folder = ManifestDir.beside(self.session.store.path)
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                return await asyncio.to_thread(folder.open, CREATE_JOURNAL)
            except ManifestBusy:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.1)

    async def _list(self, tasks: list[Task]) -> None:
        """New jobs into the list (the row appears), saved before the journal says so."""
        self.session.add_tasks(tasks)
        await self.session.save_async()

    def _retrying(self, event: SendEvent) -> None:
        """Say every wait before the job is sent again (a 429 may ask for an hour): how
        long, until when; and, after a long one, that it is being sent now."""
        if isinstance(event, Sent) and not event.final:
            words = retry_words(verdict_text(event.verdict), event.delay, time.time() + event.delay)
            long_wait = event.delay >= LONG_WAIT
            self.app.notify(
                f"{words[:1].upper()}{words[1:]}.",
                severity="warning",
                timeout=30 if long_wait else 5,
            )
        elif isinstance(event, Resumed) and event.waited >= LONG_WAIT:
            self.app.notify(f"Sending the job again (after waiting {span(event.waited)}).")

    def _tell(self, verdict: Verdict) -> None:
        notify = self.app.notify
        what = verdict_text(verdict)
        if verdict.state is RowState.CREATED:
            notify(f"Created {verdict.task_id}.")
        elif verdict.state is RowState.REFUSED:
            notify(f"The gateway refused the job: {what}", severity="error", timeout=15)
        elif verdict.state is RowState.UNCERTAIN:
            notify(
                f"{what}. The job may have been made (and paid): look for it in the "
                "provider's console and add its ID with a. It is not sent again by itself.",
                severity="error",
                timeout=30,
            )
        else:
            notify(f"Not sent, nothing was paid: {what}", severity="error", timeout=15)
