"""Creating jobs from the dashboard: the dialog, then the one send path.

A confirmed :class:`~vidwatch.ui.dialogs.create.NewJob` goes through the same
:class:`~vidwatch.core.create.sender.Sender` as ``vidwatch create``, decided under the same
ledger lock and journaled in the same journal (the intent fsynced before the send, the
verdict after), so a job whose answer arrived but never reached the task list is listed
by the next create here or on the command line, and a send whose answer was lost is
never sent again by itself. A request sent before (from anywhere, or in the task list)
is named on the confirm screen, which then asks to pay for it again.

While a ``vidwatch create`` holds the journal the send waits, saying so; if it still
cannot go, the form comes back as it was typed. Creates whose job may exist but is in no
task list (an answer lost, vidwatch stopped while one was out) stay in a banner until
they are resolved (``vidwatch create --mark-done``). The new task reaches the list
through the session (an ``Added`` change: the row appears at once) and is saved before
the journal notes it listed. Every outcome is a toast.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from textual.app import App

from vidwatch.core.config import Config
from vidwatch.core.create.batch import BatchRow
from vidwatch.core.create.journal import (
    CREATE_JOURNAL,
    Manifest,
    ManifestBusy,
    ManifestError,
    RowState,
)
from vidwatch.core.create.ledger import Earlier, Ledger, LedgerError, Unresolved, key_of
from vidwatch.core.create.plan import Step, Why
from vidwatch.core.create.requests import CreateRequest
from vidwatch.core.create.sender import (
    CreateBudget,
    Pacer,
    Resumed,
    Sender,
    SendEvent,
    Sent,
    unlisted_tasks,
)
from vidwatch.core.create.verdict import Verdict, ended_words, unrecorded_words
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.wording import resend_words, retry_words
from vidwatch.core.model.records import Task, TaskRecord
from vidwatch.core.session import Session
from vidwatch.core.text.wording import capitalized
from vidwatch.ui.banners import Banner, SetBanner
from vidwatch.ui.dialogs.create import CreateDialog, NewJob, Prefill

__all__ = ["JobCreator"]

LOCK_WAIT: Final = 60.0  # seconds to wait for a `vidwatch create` that holds the journal
LIST_WAIT: Final = 60.0  # seconds for the list to take a new job (else: listed next time)
BANNER_SHOWN: Final = 3  # unresolved creates named in the banner (the rest counted)
LONG_WAIT: Final = 5.0  # seconds: a wait this long keeps its toast longer and says its end


class JobCreator:
    """Opens the new-job dialog and sends what the user confirms."""

    def __init__(
        self,
        app: App[Any],
        session: Session,
        *,
        config: Callable[[], Config],
        client: Callable[[], QueryClient | None],
        sent_dir: Callable[[], Path],
        banner: SetBanner = lambda key, text: None,
        estimate: Callable[[CreateRequest], str] | None = None,
        refusal: Callable[[CreateRequest], str | None] | None = None,
    ) -> None:
        self.app = app
        self.estimate = estimate  # what a job would cost, for the confirm screen
        self.refusal = refusal  # why the spending limit refuses a job, or None
        self.session = session
        self.config = config
        self.client = client
        self.sent_dir = sent_dir
        self.banner = banner
        self._pacer: Pacer | None = None  # one create budget for the whole session
        self._one_at_a_time = asyncio.Lock()  # the journal is locked per open file
        self._ledger: Ledger | None = None
        self.sends = 0  # jobs sent (intents written)
        self.out = 0  # sends waiting for their answer right now

    @property
    def in_flight(self) -> bool:
        """A create's request is out and its answer not yet in (quitting would lose it)."""
        return self.out > 0

    def ledger(self) -> Ledger:
        """The record of sends, for this session's task list (:class:`LedgerError`)."""
        if self._ledger is None or self._ledger.tasks_file != str(
            self.session.store.path.resolve()
        ):
            self._ledger = Ledger(self.sent_dir(), self.session.store.path)
        return self._ledger.ready()

    async def open(self, prefill: Prefill | None = None) -> None:
        """``n`` (no prefill) or ``N`` (the task's request, or what is known of a task
        added by ID); returns once the dialog is built and its prompt has the focus."""
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
        elif not prefill.model:  # an ID without a model prefix
            prefill = replace(prefill, model=self.config().create.model)
        dialog = CreateDialog(
            prefill,
            again=again,
            earlier=self.earlier,
            estimate=self.estimate,
            refusal=self.refusal,
        )
        await self.app.push_screen(dialog, self._confirmed)

    def earlier(self, request: CreateRequest) -> Earlier | None:
        """The latest send of this request (from anywhere) that may have made a job, or a
        task of the list it made: what the confirm screen names."""
        key = key_of(request.key())
        try:
            found = self.ledger().earlier(key, CREATE_JOURNAL, "")
        except LedgerError:
            found = None
        if found is not None:
            return found
        same = [
            r
            for r in self.session.records.values()
            if r.task.request is not None and r.task.request.model == request.model
        ]
        return Ledger.listed(same).get(key)

    def _confirmed(self, job: NewJob | None) -> None:
        if job is None:
            self.app.notify("Nothing sent.", timeout=2)
            return
        self.app.run_worker(self.send(job), group="create", exit_on_error=False)

    async def send(self, job: NewJob) -> Verdict | None:
        """Send one job once; say how it ended. None when it was not sent at all."""
        async with self._one_at_a_time:
            try:
                return await self._send(job)
            finally:
                await self.show_unresolved()

    async def _send(self, job: NewJob) -> Verdict | None:
        notify = self.app.notify
        client = self.client()
        if client is None:
            notify("Not sent: no API key (see the banner).", severity="error", timeout=10)
            return None
        try:
            ledger = await asyncio.to_thread(self.ledger)
            manifest = await self._journal(ledger)
        except ManifestBusy:
            self._form_kept(job)
            return None
        except (ManifestError, LedgerError) as exc:
            notify(f"Not sent: {exc}.", severity="error", timeout=10)
            return None
        row = BatchRow(1, 0, uuid.uuid4().hex, job.label, job.request)
        settings = self.config().create
        budget = CreateBudget(settings.per_minute, settings.concurrency)
        if self._pacer is None:
            self._pacer = Pacer(budget.per_minute)
        loop = asyncio.get_running_loop()

        def add_tasks(tasks: list[Task | TaskRecord]) -> None:  # the Sender's worker thread
            asyncio.run_coroutine_threadsafe(self._list(tasks), loop).result(LIST_WAIT)

        sender = Sender(
            client,
            manifest,
            budget,
            ledger=ledger,
            add_tasks=add_tasks,
            report=self._retrying,
            pacer=self._pacer,
            known_ids=Ledger.known_ids(self.session.records.values()),
        )
        why = Why.RESEND if job.accepted else Why.NEW
        step = Step(row, True, why, key=key_of(job.request.key()), accepted=job.accepted)
        self.sends += 1
        self.out += 1
        try:
            manifest.settle_stopped()
            result = await sender.run([step], unlisted_tasks(manifest, (), ledger))
        except (ManifestError, LedgerError) as exc:
            notify(f"Not sent: {exc}.", severity="error", timeout=10)
            return None
        finally:
            self.out -= 1
            await asyncio.to_thread(manifest.close)
        for error in result.list_errors:
            notify(
                f"The task list cannot be written ({error}); the new job is listed by the "
                "next create.",
                severity="error",
                timeout=15,
            )
        if row.identity in result.skipped:
            earlier = result.skipped[row.identity]
            notify(
                f"Not sent: the same request was {earlier.text()} meanwhile.",
                severity="warning",
                timeout=15,
            )
            return None
        verdict = result.verdicts.get(row.identity)
        if verdict is None:
            notify(f"Not sent: {result.stopped or 'the job was not sent'}.", severity="error")
            return None
        self._tell(verdict, row, result.unrecorded.get(row.identity))
        return verdict

    async def _journal(self, ledger: Ledger) -> Manifest:
        """The journal of single creates; while a ``vidwatch create`` holds it, wait
        (saying so); :class:`ManifestBusy` after :data:`LOCK_WAIT`."""
        start = time.monotonic()
        told = False
        while True:
            try:
                return await asyncio.to_thread(ledger.journals.open, CREATE_JOURNAL)
            except ManifestBusy:
                if not told:
                    told = True
                    self.app.notify(
                        "Waiting for another vidwatch create to finish before sending…",
                        timeout=LOCK_WAIT,
                    )
                if time.monotonic() - start >= LOCK_WAIT:
                    raise
                await asyncio.sleep(0.1)

    def _form_kept(self, job: NewJob) -> None:
        """The journal stayed busy: nothing was sent; the form comes back as typed."""
        self.app.notify(
            "Not sent: another vidwatch create is still sending. Your form is kept: "
            "send it again when that one is done.",
            severity="warning",
            timeout=15,
        )
        prefill = Prefill.of(job.request.record(), job.label)
        dialog = CreateDialog(prefill, again=False, earlier=self.earlier)
        self.app.push_screen(dialog, self._confirmed)

    async def _list(self, tasks: list[Task | TaskRecord]) -> None:
        """New jobs into the list (the row appears), saved before the journal says so."""
        self.session.add_tasks(tasks)
        await self.session.save_async()

    def _retrying(self, event: SendEvent) -> None:
        """Say every wait before the job is sent again (a 429 may ask for an hour): how
        long, until when; and, after a long one, that it is being sent now."""
        if isinstance(event, Sent) and not event.final:
            words = retry_words(event.verdict.text, event.delay, time.time() + event.delay)
            long_wait = event.delay >= LONG_WAIT
            self.app.notify(
                f"{capitalized(words)}.",
                severity="warning",
                timeout=30 if long_wait else 5,
            )
        elif isinstance(event, Resumed) and event.waited >= LONG_WAIT:
            self.app.notify(f"{capitalized(resend_words(event.waited))}.")  # as the CLI says

    def _tell(self, verdict: Verdict, row: BatchRow, unrecorded: str | None) -> None:
        notify = self.app.notify
        said = capitalized(ended_words(verdict, row.identity[:8]))  # as the CLI says it
        if unrecorded is not None:
            notify(capitalized(unrecorded_words(verdict, unrecorded)), severity="error", timeout=30)
            return
        if verdict.state is RowState.CREATED:
            notify(f"{said}.")
        elif verdict.state is RowState.UNCERTAIN:
            notify(said, severity="error", timeout=30)
        else:  # refused, or not sent
            notify(said, severity="error", timeout=15)

    # ------------------------------------------------------------------ unresolved

    def _unresolved(self) -> list[Unresolved]:
        return [u for u in self.ledger().unresolved() if not u.in_flight]

    async def show_unresolved(self) -> None:
        """The banner of creates whose job may exist but is in no task list (read in a
        thread: the record is files)."""
        try:
            found = await asyncio.to_thread(self._unresolved)
        except (LedgerError, OSError):
            return
        if not self.app.is_running:
            return
        if not found:
            self.banner(Banner.CREATES, None)
            return
        if len(found) == 1:
            self.banner(Banner.CREATES, found[0].brief())
            return
        refs = ", ".join(item.ref for item in found[:BANNER_SHOWN])
        more = ", …" if len(found) > BANNER_SHOWN else ""
        self.banner(
            Banner.CREATES,
            f"{len(found)} creates may have made jobs that are in no list ({refs}{more}): "
            "vidwatch list names them; resolve each with vidwatch create --mark-done REF=ID",
        )


def quit_question(creator: JobCreator) -> tuple[str, str] | None:
    """What to ask before quitting while a create is out (None: nothing is out)."""
    if not creator.in_flight:
        return None
    return (
        "A create is waiting for its answer. Quit anyway?",
        "The gateway may make the job (and charge for it) without vidwatch learning its "
        "ID. It would then be reported as uncertain until you look for it in the provider's "
        "console and run: vidwatch create --mark-done REF=ID.",
    )
