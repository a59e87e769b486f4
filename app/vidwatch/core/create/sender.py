"""Sending creates: the budget they spend, and the loop that journals every send.

What ``vidwatch create``, ``vidwatch submit`` and the dashboard's ``n`` run. For each row
to send, in order:

1. wait for the budget (:class:`Pacer`): at most ``per_minute`` creates started in any
   60 seconds and at most ``concurrency`` waiting for their answer, apart from
   polling's budget; everyone waits while the server asked to (429, ``Retry-After``);
2. under the ledger's one lock (:mod:`vidwatch.core.create.ledger`): check that the request was
   not sent meanwhile by anyone (another file, process or task list; else the row is
   skipped, :class:`Skipped`), note the send, write the intent to the journal (both
   fsynced): if that fails, nothing is sent;
3. send once (:meth:`~vidwatch.core.gateway.client.QueryClient.create`);
4. judge the answer (:func:`~vidwatch.core.create.verdict.judge`; an ID already another
   request's makes the row uncertain) and record it in the journal and the ledger; a
   created job is added to the task list soon after, in batches, and the journal notes
   it ``listed``. When the answer cannot be recorded (a full disk), the job still
   counts: its ID is reported (:attr:`SendReport.unrecorded`), logged and listed, and
   the rest of the batch stops;
5. a send that certainly did not reach the server (no connection, 429, a plain 503) is
   sent again after a backoff, a few times; a lost answer never is. A 429's wait is the
   one rule polling keeps too (:func:`~vidwatch.core.gateway.outcomes.server_wait`): the server's
   ``Retry-After`` when it names one, else a backoff that grows with every 429 in a row
   (a ``Retry-After`` of 0, negative or in the past is no reason to hammer). The wait is
   reported (:class:`Sent` with its ``delay``), and so is its end (:class:`Resumed`).

Every send and its outcome is logged (:mod:`vidwatch.core.create.log`).

An account-level refusal (no balance, key rejected) stops the rest of the batch; no
channel for a model stops that model's other rows. Cancelled (Ctrl-C) while a send is
out: its row is recorded as uncertain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from vidwatch.core.create import log as create_log
from vidwatch.core.create.batch import BatchRow
from vidwatch.core.create.journal import Manifest, ManifestError, RowState, Verdict
from vidwatch.core.create.ledger import AlreadySent, Earlier, Ledger, LedgerError, key_of
from vidwatch.core.create.plan import Step
from vidwatch.core.create.verdict import judge
from vidwatch.core.gateway.create_answer import Created, CreateOutcome
from vidwatch.core.gateway.outcomes import server_wait
from vidwatch.core.model.records import (
    MAX_LABEL,
    Task,
    TaskRecord,
    TaskRequest,
    TaskResult,
    utcnow,
)
from vidwatch.core.text.sanitize import clean_line

__all__ = [
    "WINDOW",
    "CreateBudget",
    "Creator",
    "Pacer",
    "Resumed",
    "SendReport",
    "Sender",
    "Sent",
    "Skipped",
    "Stopped",
    "task_for",
    "unlisted_tasks",
]

log = logging.getLogger("vidwatch.create")

WINDOW: Final = 60.0  # seconds: per_minute counts the starts in any window this long
ATTEMPTS: Final = 4  # sends of one row in one run, while each certainly did not reach
BACKOFF: Final = 1.0  # seconds before the second attempt; doubled each time
MAX_BACKOFF: Final = 60.0


class Creator(Protocol):
    async def create(self, body: Mapping[str, Any]) -> CreateOutcome: ...


@dataclass(frozen=True, slots=True)
class CreateBudget:
    """The create budget (``[create]`` in the config, which holds the defaults)."""

    per_minute: int
    concurrency: int


class Pacer:
    """At most ``per_minute`` starts in any :data:`WINDOW` seconds; :meth:`hold` makes
    every start wait (the server's ``Retry-After``)."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.per_minute = max(per_minute, 1)
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._hold_until = 0.0

    def hold(self, seconds: float) -> None:
        self._hold_until = max(self._hold_until, self._clock() + max(seconds, 0.0))

    def delay(self) -> float:
        """Seconds until the next start is allowed (0: now)."""
        now = self._clock()
        while self._starts and now - self._starts[0] >= WINDOW:
            self._starts.popleft()
        wait = self._hold_until - now
        if len(self._starts) >= self.per_minute:
            wait = max(wait, self._starts[0] + WINDOW - now)
        return max(wait, 0.0)

    async def turn(self) -> None:
        """Wait for a start and take it."""
        while (wait := self.delay()) > 0:
            await self._sleep(wait)
        self._starts.append(self._clock())


@dataclass(frozen=True, slots=True)
class Sent:
    """One send ended. ``final``: the row is not sent again in this run."""

    row: BatchRow
    verdict: Verdict
    attempt: int
    final: bool
    delay: float = 0.0  # when not final: seconds until it is sent again


@dataclass(frozen=True, slots=True)
class Stopped:
    """A row that was to be sent and was not (the batch or its model stopped)."""

    row: BatchRow
    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A row not sent because its request was sent meanwhile (``earlier``) by another
    file, process or task list, and the user did not accept paying for that send again."""

    row: BatchRow
    earlier: Earlier


@dataclass(frozen=True, slots=True)
class Resumed:
    """A row that waited (the server's wait, or a backoff) is about to be sent again."""

    row: BatchRow
    waited: float


SendEvent = Sent | Stopped | Skipped | Resumed


@dataclass
class SendReport:
    """How the rows of one run ended: the last verdict of each row sent, the rows not
    sent and why, what stopped the batch (if anything), problems with the task list,
    answers that could not be recorded (row → why; the verdict still stands)."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    stopped_rows: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, Earlier] = field(default_factory=dict)
    stopped: str | None = None
    list_errors: list[str] = field(default_factory=list)
    unrecorded: dict[str, str] = field(default_factory=dict)
    sends: int = 0  # requests sent (intents written), retries included


def task_for(row: BatchRow, task_id: str) -> Task:
    """The task-list entry of a row's new job: its label and the request that made it."""
    request = row.request.record() if row.request is not None else None
    return Task(task_id, utcnow(), clean_line(row.label, MAX_LABEL), request=request)


def unlisted_tasks(
    manifest: Manifest, rows: Iterable[BatchRow], ledger: Ledger | None = None
) -> list[tuple[str, Task]]:
    """Jobs the manifest holds that never reached the task list (vidwatch stopped in
    between), as (row identity, task) to add: the row's label and request when the row
    is still in the file, else the label the manifest kept and the request the ledger
    kept."""
    by_id = {row.identity: row for row in rows}
    found = []
    for row_id, entry in manifest.entries.items():
        task_id = entry.unlisted_job
        if task_id is None:
            continue
        row = by_id.get(row_id)
        if row is not None and row.request is not None:
            found.append((row_id, task_for(row, task_id)))
            continue
        request: TaskRequest | None = None
        if ledger is not None and entry.key:
            request = ledger.request(entry.key)
        label = clean_line(entry.label, MAX_LABEL)
        found.append((row_id, Task(task_id, utcnow(), label, request=request)))
    return found


def _stop_if_interrupted() -> None:
    """No send starts once this task was asked to stop (Ctrl-C), even when the client
    swallowed the cancellation (caught it and answered with an error outcome, which reads
    as an answer lost): the loop would go on to pay for the next row. A swallowed
    cancellation is still counted by ``Task.cancelling()``."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Sender:
    """Sends the rows of a plan through ``client``, journaling each in ``manifest`` and
    deciding each under ``ledger``'s lock.

    ``add_tasks`` puts new tasks in the task list (it runs in a worker thread and may
    raise; the tasks stay unlisted and are added on the next run). ``report`` is told
    every :class:`Sent`, :class:`Stopped` and :class:`Skipped`, in the event loop's
    thread. ``known_ids`` are the task list's IDs with the digest of the request that
    made each (:meth:`~vidwatch.core.create.ledger.Ledger.known_ids`): an answer with one of
    them for another request is not a new job. ``halt`` is asked before each row (a plain
    read, never a request): a reason stops the rest of the batch (the spending limit
    reached, :class:`~vidwatch.core.money.limit.SpendWatch`).
    """

    def __init__(
        self,
        client: Creator,
        manifest: Manifest,
        budget: CreateBudget,
        *,
        ledger: Ledger,
        add_tasks: Callable[[list[Task | TaskRecord]], object],
        report: Callable[[SendEvent], None] = lambda event: None,
        known_ids: Mapping[str, str] | None = None,
        attempts: int = ATTEMPTS,
        backoff: float | None = None,  # BACKOFF
        pacer: Pacer | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        halt: Callable[[], str | None] | None = None,
    ) -> None:
        self.client = client
        self.halt = halt  # asked before each row: why the batch stops now (None: it goes on)
        self.manifest = manifest
        self.ledger = ledger
        self.budget = budget
        self.add_tasks = add_tasks
        self.report = report
        self.known_ids = known_ids or {}
        self.attempts = max(attempts, 1)
        self.backoff = BACKOFF if backoff is None else backoff
        self.pacer = pacer or Pacer(budget.per_minute, sleep=sleep)
        self._sleep = sleep
        self._stopped_models: dict[str, str] = {}
        self._pending: list[tuple[str, Task | TaskRecord]] = []
        self._answered: dict[str, TaskResult] = {}  # what a create's answer said of its task
        self._wake = asyncio.Event()
        self._closing = False
        self.out = 0  # sends waiting for their answer right now
        self._strikes = 0  # 429s in a row, from any row: the backoff grows with them
        self.result = SendReport()

    async def run(
        self, steps: Sequence[Step], relist: Sequence[tuple[str, Task]] = ()
    ) -> SendReport:
        """Send every step's row (steps that are not to be sent are ignored); first add
        ``relist`` (see :func:`unlisted_tasks`) to the task list. Raises
        :class:`~vidwatch.core.create.journal.ManifestError` or
        :class:`~vidwatch.core.create.ledger.LedgerError` when a send cannot be recorded
        before it goes out (that row is not sent, nor any after it)."""
        queue = deque(step for step in steps if step.send and step.row.request is not None)
        self._pending.extend(relist)
        lister = asyncio.create_task(self._list_forever())
        self._wake.set()
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.budget.concurrency, max(len(queue), 1))):
                    group.create_task(self._worker(queue))
        except BaseExceptionGroup as group:
            raise group.exceptions[0] from None
        finally:
            self._closing = True
            self._wake.set()
            await lister  # one last flush
        return self.result

    async def _worker(self, queue: deque[Step]) -> None:
        while queue:
            await self._send_row(queue.popleft())

    def _stop_reason(self, row: BatchRow) -> str | None:
        assert row.request is not None
        if not self.result.stopped and self.halt is not None:
            self.result.stopped = self.halt()
        why = self.result.stopped or self._stopped_models.get(row.request.model)
        if why:
            self.result.stopped_rows[row.identity] = why
            create_log.log_stopped(row, why, self.manifest.source)
            self.report(Stopped(row, why))
        return why

    async def _send_row(self, step: Step) -> None:
        row = step.row
        for attempt in range(1, self.attempts + 1):
            if self._stop_reason(row):
                return
            await self.pacer.turn()
            if self._stop_reason(row):  # decided while this row waited for its turn
                return
            _stop_if_interrupted()
            try:
                verdict = await self._send_once(step, attempt)
            except AlreadySent as exc:
                why = f"its request was {exc.earlier.text()}"
                create_log.log_skipped(row, why, self.manifest.source)
                self.result.skipped[row.identity] = exc.earlier
                self.report(Skipped(row, exc.earlier))
                return
            self.result.verdicts[row.identity] = verdict
            self._follow(row, verdict)
            self._strikes = self._strikes + 1 if verdict.status == 429 else 0
            retry = verdict.retry_soon and attempt < self.attempts and not self.result.stopped
            delay = self._delay(verdict, attempt) if retry else 0.0
            create_log.log_outcome(
                row, verdict, self.manifest.source, delay=delay if retry else None
            )
            self.report(Sent(row, verdict, attempt, final=not retry, delay=delay))
            _stop_if_interrupted()
            if not retry:
                return
            if verdict.status == 429:
                self.pacer.hold(delay)  # the server's wait applies to every create
            await self._sleep(delay)  # that send was not_sent: no earlier job to accept
            create_log.log_resumed(row, delay, self.manifest.source)
            self.report(Resumed(row, delay))

    async def _send_once(self, step: Step, attempt: int = 1) -> Verdict:
        row = step.row
        assert row.request is not None
        body = row.request.body()
        key = step.key or key_of(row.request.key())
        source = self.manifest.source
        try:
            send = self._decide(step, body, key)
        except (LedgerError, ManifestError) as exc:  # nothing can be recorded: no send
            create_log.log_not_journaled(row, exc, source)
            raise
        create_log.log_intent(row, body, source, attempt)
        self.result.sends += 1
        self.out += 1
        try:
            outcome = await self.client.create(body)
        except asyncio.CancelledError:
            why = "vidwatch was stopped while waiting for the answer"
            lost = Verdict(RowState.UNCERTAIN, "interrupted", why)
            create_log.log_outcome(row, lost, source, delay=None)
            with contextlib.suppress(Exception):
                self.manifest.record_verdict(row.identity, lost)
            with contextlib.suppress(Exception), self.ledger.deciding():
                self.ledger.note(key, send, lost)
            raise
        finally:
            self.out -= 1
        if isinstance(outcome, Created) and outcome.result is not None:
            self._answered[row.identity] = outcome.result  # veo: its detail, as extras
        verdict = judge(outcome)
        if verdict.code == "connect":  # judged not sent: no connection could be made
            self.result.sends -= 1  # it never left: no request was sent
        return self._settle(row, key, send, verdict)

    def _decide(self, step: Step, body: Mapping[str, Any], key: str) -> str:
        """Under the one lock for the decision to send: claim the send in the record of
        sends and journal its intent (fsynced); the send's ID. Raises: no send."""
        row, source = step.row, self.manifest.source
        with self.ledger.deciding():
            send = self.ledger.claim(key, body, journal=source, row=row, accepted=step.accepted)
            try:
                self.manifest.record_intent(row, step.replaces, body=body, key=key, send=send)
            except ManifestError:
                with contextlib.suppress(LedgerError):
                    why = "the journal could not be written"
                    self.ledger.note(key, send, Verdict(RowState.NOT_SENT, "journal", why))
                raise
        return send

    def _settle(self, row: BatchRow, key: str, send: str, verdict: Verdict) -> Verdict:
        """Record the answer in the journal and the ledger. A failure to write loses
        nothing that can be kept: the verdict stands, its ID is reported and logged."""
        problems: list[str] = []
        try:
            with self.ledger.deciding():
                verdict = self.ledger.checked(key, verdict, self.known_ids)
                problems += self._write_verdict(row, key, send, verdict)
        except LedgerError as exc:  # the lock itself: write the journal anyway
            problems.append(str(exc))
            with contextlib.suppress(ManifestError):
                self.manifest.record_verdict(row.identity, verdict)
        if problems:
            why = "; ".join(problems)
            self.result.unrecorded[row.identity] = why
            what = f"created {verdict.task_id}" if verdict.task_id else verdict.state.value
            log.error("create of row %d (%s) could not be recorded: %s", row.number, what, why)
            if not self.result.stopped:
                self.result.stopped = f"the journal of sends cannot be written ({why})"
        return verdict

    def _write_verdict(self, row: BatchRow, key: str, send: str, verdict: Verdict) -> list[str]:
        problems = []
        try:
            self.manifest.record_verdict(row.identity, verdict)
        except ManifestError as exc:
            problems.append(str(exc))
        try:
            self.ledger.note(key, send, verdict)
        except LedgerError as exc:
            problems.append(str(exc))
        return problems

    def _follow(self, row: BatchRow, verdict: Verdict) -> None:
        if verdict.state is RowState.CREATED and verdict.task_id:
            task = task_for(row, verdict.task_id)
            said = self._answered.pop(row.identity, None)
            self._pending.append((row.identity, TaskRecord(task, said) if said else task))
            self._wake.set()
        what = f"{verdict.status} {verdict.code}".strip() if verdict.status else verdict.code
        text = f"{what}: {verdict.message}" if what and verdict.message else what or verdict.message
        if verdict.stop_batch and not self.result.stopped:
            self.result.stopped = text or "the gateway refused the account"
        if verdict.stop_model and row.request is not None:
            self._stopped_models.setdefault(row.request.model, text or "no channel for the model")

    def _delay(self, verdict: Verdict, attempt: int) -> float:
        if verdict.status == 429:  # the wait polling keeps; the backoff grows with the strikes
            steps = max(attempt, self._strikes)
            return server_wait(verdict.retry_after, self._backoff(steps))
        return self._backoff(attempt)

    def _backoff(self, step: int) -> float:
        return float(min(self.backoff * 2.0 ** (min(step, 30) - 1), MAX_BACKOFF))

    async def _list_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()
            if self._closing and not self._pending:
                return

    async def _flush(self) -> None:
        """Add the new jobs to the task list (in a thread), then note them listed."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await asyncio.to_thread(self.add_tasks, [task for _, task in batch])
        except Exception as exc:  # the manifest keeps the IDs: listed on the next run
            ids = ", ".join(task.id for _, task in batch)
            log.error("jobs made but not in the task list (%s): %s", exc, ids)
            self.result.list_errors.append(str(exc) or type(exc).__name__)
            if not self.result.stopped:
                self.result.stopped = f"the task list cannot be written ({exc})"
            return
        for row_id, _ in batch:
            try:
                self.manifest.mark_listed(row_id)
            except ManifestError as exc:  # listed again (a no-op) on the next run
                log.warning("the journal could not note a job listed: %s", exc)
