"""Sending creates: the budget they spend, and the loop that journals every send.

What ``vidwatch create`` and ``vidwatch submit`` run (and, later, the dashboard). For
each row to send, in order:

1. wait for the budget (:class:`Pacer`): at most ``per_minute`` creates started in any
   60 seconds and at most ``concurrency`` waiting for their answer, apart from
   polling's budget; everyone waits while the server asked to (429, ``Retry-After``);
2. write the intent to the manifest (fsynced): if that fails, nothing is sent;
3. send once (:meth:`~vidwatch.core.client.QueryClient.create`);
4. write the verdict (:func:`~vidwatch.core.verdict.judge`); a created job is added to
   the task list soon after, in batches, and the manifest notes it ``listed``;
5. a send that certainly did not reach the server (no connection, 429, a plain 503) is
   sent again after a backoff, a few times; a lost answer never is. A 429's wait is the
   one rule polling keeps too (:func:`~vidwatch.core.budget.server_wait`): the server's
   ``Retry-After`` when it names one, else a backoff that grows with every 429 in a row
   (a ``Retry-After`` of 0, negative or in the past is no reason to hammer). The wait is
   reported (:class:`Sent` with its ``delay``), and so is its end (:class:`Resumed`).

Every send and its outcome is logged (:mod:`vidwatch.core.create_log`).

An account-level refusal (no balance, key rejected) stops the rest of the batch; no
channel for a model stops that model's other rows. Cancelled (Ctrl-C) while a send is
out: its row is recorded as uncertain.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from vidwatch.core import create_log
from vidwatch.core.batch import BatchRow
from vidwatch.core.budget import server_wait
from vidwatch.core.create_response import CreateOutcome
from vidwatch.core.manifest import Manifest, ManifestError, RowState, Verdict
from vidwatch.core.models import MAX_LABEL, Task, utcnow
from vidwatch.core.plan import Step
from vidwatch.core.sanitize import clean_line
from vidwatch.core.verdict import judge

__all__ = [
    "WINDOW",
    "Budget",
    "Creator",
    "Pacer",
    "Resumed",
    "SendReport",
    "Sender",
    "Sent",
    "Stopped",
    "task_for",
    "unlisted_tasks",
]

WINDOW: Final = 60.0  # seconds: per_minute counts the starts in any window this long
ATTEMPTS: Final = 4  # sends of one row in one run, while each certainly did not reach
BACKOFF: Final = 1.0  # seconds before the second attempt; doubled each time
MAX_BACKOFF: Final = 60.0


class Creator(Protocol):
    async def create(self, body: Mapping[str, Any]) -> CreateOutcome: ...


@dataclass(frozen=True, slots=True)
class Budget:
    """The create budget (``[create]`` in the config)."""

    per_minute: int = 30
    concurrency: int = 2


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
class Resumed:
    """A row that waited (the server's wait, or a backoff) is about to be sent again."""

    row: BatchRow
    waited: float


SendEvent = Sent | Stopped | Resumed


@dataclass
class SendReport:
    """How the rows of one run ended: the last verdict of each row sent, the rows not
    sent and why, what stopped the batch (if anything), problems with the task list."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    stopped_rows: dict[str, str] = field(default_factory=dict)
    stopped: str | None = None
    list_errors: list[str] = field(default_factory=list)
    sends: int = 0  # requests sent (intents written), retries included


def task_for(row: BatchRow, task_id: str) -> Task:
    """The task-list entry of a row's new job: its label and the request that made it."""
    request = row.request.record() if row.request is not None else None
    return Task(task_id, utcnow(), clean_line(row.label, MAX_LABEL), request=request)


def unlisted_tasks(manifest: Manifest, rows: Iterable[BatchRow]) -> list[tuple[str, Task]]:
    """Jobs the manifest holds that never reached the task list (vidwatch stopped in
    between), as (row identity, task) to add: the row's label and request when the row
    is still in the file, else the label the manifest kept."""
    by_id = {row.identity: row for row in rows}
    found = []
    for row_id, entry in manifest.entries.items():
        task_id = entry.unlisted_job
        if task_id is None:
            continue
        row = by_id.get(row_id)
        if row is not None and row.request is not None:
            found.append((row_id, task_for(row, task_id)))
        else:
            found.append((row_id, Task(task_id, utcnow(), clean_line(entry.label, MAX_LABEL))))
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
    """Sends the rows of a plan through ``client``, journaling each in ``manifest``.

    ``add_tasks`` puts new tasks in the task list (it runs in a worker thread and may
    raise; the tasks stay unlisted and are added on the next run). ``report`` is told
    every :class:`Sent` and :class:`Stopped`, in the event loop's thread.
    """

    def __init__(
        self,
        client: Creator,
        manifest: Manifest,
        budget: Budget,
        *,
        add_tasks: Callable[[list[Task]], object],
        report: Callable[[SendEvent], None] = lambda event: None,
        attempts: int = ATTEMPTS,
        backoff: float | None = None,  # BACKOFF
        pacer: Pacer | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.manifest = manifest
        self.budget = budget
        self.add_tasks = add_tasks
        self.report = report
        self.attempts = max(attempts, 1)
        self.backoff = BACKOFF if backoff is None else backoff
        self.pacer = pacer or Pacer(budget.per_minute, sleep=sleep)
        self._sleep = sleep
        self._stopped_models: dict[str, str] = {}
        self._pending: list[tuple[str, Task]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._strikes = 0  # 429s in a row, from any row: the backoff grows with them
        self.result = SendReport()

    async def run(
        self, steps: Sequence[Step], relist: Sequence[tuple[str, Task]] = ()
    ) -> SendReport:
        """Send every step's row (steps that are not to be sent are ignored); first add
        ``relist`` (see :func:`unlisted_tasks`) to the task list. Raises
        :class:`~vidwatch.core.manifest.ManifestError` when the manifest cannot be
        written (the row it was about to send is not sent)."""
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
            verdict = await self._send_once(step, attempt)
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
            await self._sleep(delay)
            create_log.log_resumed(row, delay, self.manifest.source)
            self.report(Resumed(row, delay))

    async def _send_once(self, step: Step, attempt: int = 1) -> Verdict:
        row = step.row
        assert row.request is not None
        body = row.request.body()
        source = self.manifest.source
        try:
            self.manifest.record_intent(row, step.replaces, body=body)  # fsynced; raises: no send
        except ManifestError as exc:
            create_log.log_not_journaled(row, exc, source)
            raise
        create_log.log_intent(row, body, source, attempt)
        self.result.sends += 1
        try:
            outcome = await self.client.create(body)
        except asyncio.CancelledError:
            why = "vidwatch was stopped while waiting for the answer"
            lost = Verdict(RowState.UNCERTAIN, "interrupted", why)
            create_log.log_outcome(row, lost, source, delay=None)
            with contextlib.suppress(Exception):
                self.manifest.record_verdict(row.identity, lost)
            raise
        verdict = judge(outcome)
        self.manifest.record_verdict(row.identity, verdict)
        return verdict

    def _follow(self, row: BatchRow, verdict: Verdict) -> None:
        if verdict.state is RowState.CREATED and verdict.task_id:
            self._pending.append((row.identity, task_for(row, verdict.task_id)))
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
            self.result.list_errors.append(str(exc) or type(exc).__name__)
            if not self.result.stopped:
                self.result.stopped = f"the task list cannot be written ({exc})"
            return
        for row_id, _ in batch:
            self.manifest.mark_listed(row_id)
