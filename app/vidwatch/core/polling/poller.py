"""The asyncio engine that polls tasks and hands every change to listeners.

The :class:`Poller` drives the pure :class:`~vidwatch.core.polling.scheduler.Scheduler` with a
real clock and never knows who listens: the CLI prints, the dashboard redraws, tests
collect. It holds no records of its own: they belong to the one keeper attached to it
(:meth:`Poller.attach`), the :class:`~vidwatch.core.session.Session` of the dashboard or
of ``poll`` and ``wait``, which decides what is watched (:meth:`Poller.track`,
:meth:`Poller.forget`) and receives every result
(:meth:`~vidwatch.core.polling.results.RecordKeeper.store_result`).

What it emits is in :mod:`vidwatch.core.polling.events`; what an answer does to a record,
in :mod:`vidwatch.core.polling.results`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, Protocol

from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    NetworkError,
    Ok,
    Outcome,
    RateLimited,
    WrongUrl,
)
from vidwatch.core.model.records import TaskRecord, TaskResult, utcnow
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.durations import DurationModel
from vidwatch.core.polling.events import (
    Listener,
    PollerEvent,
    PollerStatus,
    StatusChange,
    TaskUpdate,
    status_differs,
)
from vidwatch.core.polling.fanout import Fanout
from vidwatch.core.polling.results import RecordKeeper, apply_outcome
from vidwatch.core.polling.scheduler import Eta, Scheduler
from vidwatch.core.polling.wakeup import Wakeup
from vidwatch.core.text.wording import span

__all__ = ["Poller", "QueryFn"]

log = logging.getLogger("vidwatch.poller")

STATUS_EVERY = 1.0  # seconds: request counters reach listeners at most this often
UNREACHABLE_AFTER = 3  # network failures in a row, once the server answered, before "offline"
_NO_RECORDS: Final[Mapping[str, TaskRecord]] = MappingProxyType({})


class QueryFn(Protocol):
    async def query(self, task_id: str) -> Outcome: ...


class Poller:
    """Polls its keeper's tasks in the background within the policy's budget.

    Without a client (no API key) it still answers every question, but polls nothing
    until :meth:`set_client` gives it one. ``host`` is how errors and the status name
    the server (``api.quickrouter.ai``).
    """

    def __init__(
        self,
        client: QueryFn | None,
        policy: Policy,
        *,
        host: str = "",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        durations: DurationModel | None = None,
    ) -> None:
        self.client = client
        self.host = host  # the server's host, as errors name it (set_client)
        self.policy = policy
        self.clock = clock
        self.wall = wall
        self.scheduler = Scheduler(
            policy,
            now=clock(),
            rng=rng,
            durations=durations,
            wall_offset=wall().timestamp() - clock(),
        )
        self._keeper: RecordKeeper | None = None  # attach
        self._listeners: Fanout[PollerEvent] = Fanout(log, "listener failed")
        self._wake = Wakeup()
        self._running = False
        self._inflight: set[asyncio.Task[None]] = set()
        self._request_times: deque[float] = deque()
        self._requests_total = 0
        self._network_failures = 0  # network errors in a row
        self._reached = False  # any answer since the client was set
        self._status = PollerStatus(offline=client is None)
        self._published = self._status  # what listeners were last told
        self._published_at = -math.inf

    # ------------------------------------------------------------------ listeners

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every :data:`PollerEvent`; returns an unsubscribe."""
        return self._listeners.subscribe(listener)

    def _emit(self, event: PollerEvent) -> None:
        self._listeners.emit(event)  # a listener's bug must not stop polling

    # ------------------------------------------------------------------ tasks

    @property
    def records(self) -> Mapping[str, TaskRecord]:
        """The keeper's tasks and their latest results (read-only: the keeper writes);
        none before :meth:`attach`."""
        return self._keeper.records if self._keeper is not None else _NO_RECORDS

    def attach(self, keeper: RecordKeeper) -> None:
        """``keeper`` holds the records this poller polls, for good (one keeper per
        poller): it watches tasks with :meth:`track` and :meth:`forget` and receives
        every result."""
        if self._keeper is not None and self._keeper is not keeper:
            raise RuntimeError("this poller already has its keeper")
        self._keeper = keeper

    def track(self, records: Iterable[TaskRecord], stagger: float = 0.0) -> None:
        """Poll these tasks (their keeper holds them): new ones soon, checked ones when due."""
        now = self.clock()
        for index, record in enumerate(records):
            last = record.result if record.result.checked_at else None
            created = record.task.request is not None  # the gateway answered a create with it
            self.scheduler.track(record.id, last, now, delay=stagger * index, known=created)
        self._wake.set()

    def forget(self, ids: Iterable[str]) -> None:
        """Poll these tasks no more."""
        for task_id in ids:
            self.scheduler.forget(task_id)
        self._wake.set()

    async def ask(self, task_id: str) -> Outcome | None:
        """Poll one task right now, outside the schedule (a download wants a fresh URL).

        The answer is applied and announced like any other; ``None`` while offline.
        """
        client, keeper = self.client, self._keeper
        if client is None or keeper is None or task_id not in keeper.records:
            return None
        outcome = await client.query(task_id)
        current = keeper.records.get(task_id)
        if current is not None:
            previous = current.result
            result = apply_outcome(previous, outcome, self.wall(), host=self.host)
            updated = keeper.store_result(task_id, result, outcome)
            if updated is not None:
                self._emit(TaskUpdate(updated, previous if previous.checked_at else None, outcome))
        return outcome

    def refresh(self, task_id: str) -> bool:
        done = self.scheduler.refresh(task_id, self.clock())
        self._wake.set()
        return done

    def refresh_all(self) -> int:
        count = self.scheduler.refresh_all(self.clock())
        self._wake.set()
        return count

    def pause(self) -> None:
        self.scheduler.pause()
        self._publish_status()

    def resume(self) -> None:
        self.scheduler.resume(self.clock())
        self._publish_status()
        self._wake.set()

    def set_key(self, api_key: str | None) -> None:
        """A new key: forget a rejection and poll again."""
        setter = getattr(self.client, "set_key", None)
        if callable(setter):
            setter(api_key)
        self.resume()

    def set_client(self, client: QueryFn, host: str = "") -> None:
        """Go online (or switch clients): polling starts at once. ``host`` is how
        errors and the status name the server (``api.quickrouter.ai``)."""
        self.client = client
        self.host = host
        self._network_failures, self._reached = 0, False
        self.resume()

    def check_by(self, deadline: float) -> None:
        """Ask about every unfinished task once more so that the answers are in before
        ``deadline`` (on :attr:`clock`): ``wait --timeout`` ends on fresh knowledge."""
        self.scheduler.check_by(deadline, self.clock())
        self._wake.set()

    def next_check(self, task_id: str) -> datetime | None:
        """When the task will next be polled, on the wall clock (None while offline)."""
        if self.client is None or self.scheduler.blocked:
            return None
        now = self.clock()
        due = self.scheduler.due_at(task_id, now)
        if due is None:
            return None
        return self.wall() + timedelta(seconds=max(due - now, 0.0))

    def eta(self, task_id: str) -> Eta | None:
        """A running job's expected time left (learned running times), or ``None``."""
        return self.scheduler.eta(task_id, self.clock())

    def durations_summary(self) -> str:
        """``jobs take 1m30s (p90 3m12s, 42 seen)``, or ``""`` before any job finished."""
        durations = self.scheduler.durations
        median, p90 = durations.quantile(0.5), durations.quantile(0.9)
        if median is None or p90 is None:
            return ""
        return f"jobs take {span(median)} (p90 {span(p90)}, {durations.samples} seen)"

    def is_polling(self, task_id: str) -> bool:
        return self.scheduler.is_in_flight(task_id)

    def is_done(self, task_id: str) -> bool:
        """Whether the task needs no more polling (finished, or given up on)."""
        return self.scheduler.is_done(task_id)

    def given_up(self, task_id: str) -> str | None:
        """Why an unfinished task is no longer polled (``not found 3 times``), or None."""
        return self.scheduler.given_up(task_id)

    @property
    def paused(self) -> bool:
        """Paused by the user (:meth:`pause`)."""
        return self.scheduler.paused

    @property
    def requests_total(self) -> int:
        return self._requests_total

    @property
    def status(self) -> PollerStatus:
        return self._status

    def refresh_status(self) -> PollerStatus:
        """Bring the counters up to date now (requests age out of the last minute even
        while nothing is polled) and return the status."""
        self._publish_status()
        return self._status

    # ------------------------------------------------------------------ running

    async def run(self, until: Callable[[], bool] | None = None) -> None:
        """Poll until :meth:`stop` is called, or ``until()`` turns true."""
        self._running = True
        try:
            while self._running and not (until and until()):
                now = self.clock()
                if self.client is not None:
                    while (task_id := self.scheduler.next_task(now)) is not None:
                        self._start(task_id)
                self._publish_status()
                wake = self.scheduler.next_wakeup(now) if self.client is not None else None
                await self._wake.sleep(None if wake is None else max(wake - now, 0.0005))
        finally:
            self._running = False

    def stop(self) -> None:
        self._running = False
        self._wake.set()

    async def aclose(self, grace: float = 0.5) -> None:
        """Stop polling. Requests in flight get ``grace`` seconds to finish (their
        results are kept); the rest are cancelled, so quitting never hangs on a
        slow server."""
        self.stop()
        if not self._inflight:
            return
        _, late = await asyncio.wait(set(self._inflight), timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

    async def poll_pass(self, ids: Sequence[str] | None = None) -> list[TaskUpdate]:
        """One pass: every named task (default: every unfinished one) polled once.

        Stays within the budget and honours ``Retry-After`` like the loop; a
        rejected key or a wrong address ends the pass early (the rest keep their old
        result).
        """
        if self.client is None:
            return []
        targets = [i for i in ids if i in self.records] if ids is not None else None
        now = self.clock()
        if targets is None:
            targets = [i for i, r in self.records.items() if not r.result.final]
        waiting = set(targets)
        for task_id in targets:
            self.scheduler.refresh(task_id, now)
        updates: list[TaskUpdate] = []

        def collect(event: PollerEvent) -> None:
            if isinstance(event, TaskUpdate) and event.record.id in waiting:
                waiting.discard(event.record.id)
                updates.append(event)

        unsubscribe = self.subscribe(collect)
        try:
            await self.run(until=lambda: not waiting or self.scheduler.halted is not None)
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
        finally:
            unsubscribe()
        return updates

    # ------------------------------------------------------------------ one poll

    def _start(self, task_id: str) -> None:
        stamp = self.clock()
        self._request_times.append(stamp)
        self._requests_total += 1
        task = asyncio.create_task(self._poll(task_id), name=f"poll {task_id}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _poll(self, task_id: str) -> None:
        client = self.client
        assert client is not None  # only started while online
        try:
            outcome = await client.query(task_id)
        except asyncio.CancelledError:
            self.scheduler.complete(task_id, NetworkError("cancelled"), self.clock())
            raise
        except Exception as exc:  # the client promises not to raise; be sure anyway
            log.exception("query raised")
            outcome = NetworkError(f"unexpected {type(exc).__name__}")
        self._finish(task_id, outcome)

    def _finish(self, task_id: str, outcome: Outcome) -> None:
        now = self.clock()
        self.scheduler.complete(task_id, outcome, now)
        keeper = self._keeper
        record = keeper.records.get(task_id) if keeper is not None else None
        self._wake.set()
        if keeper is None or record is None:  # removed while in flight
            return
        previous = record.result
        gave_up = self.scheduler.given_up(task_id) or False
        result = apply_outcome(previous, outcome, self.wall(), gave_up, host=self.host)
        stored = keeper.store_result(task_id, result, outcome)
        if stored is None:
            return
        record = stored
        _log_outcome(task_id, previous, result, outcome)
        self._emit(TaskUpdate(record, previous if previous.checked_at else None, outcome))
        if isinstance(outcome, AuthRejected | WrongUrl | RateLimited) or self._reachability(
            outcome
        ):
            self._publish_status()

    def _reachability(self, outcome: Outcome) -> bool:
        """Count network errors in a row; True when that changes what the status says."""
        was = self._unreachable()
        if isinstance(outcome, NetworkError):
            self._network_failures += 1
        else:
            self._network_failures, self._reached = 0, True
        return self._unreachable() != was

    def _unreachable(self) -> bool:
        """Every recent request failed with a network error: all of them (at least one)
        before any answer came, or :data:`UNREACHABLE_AFTER` in a row after one did (a
        single lost request is no outage)."""
        return self._network_failures >= (UNREACHABLE_AFTER if self._reached else 1)

    def _publish_status(self) -> None:
        now = self.clock()
        times = self._request_times
        while times and times[0] < now - 60.0:
            times.popleft()
        sched = self.scheduler
        hold = None
        if sched.hold_until > now:
            hold = self.wall() + timedelta(seconds=sched.hold_until - now)
        status = PollerStatus(
            paused=sched.paused,
            offline=self.client is None,
            auth_error=sched.auth_rejected.message if sched.auth_rejected else None,
            url_error=sched.url_rejected.message if sched.url_rejected else None,
            hold_until=hold,
            requests_per_minute=len(times),
            pending=sched.pending(),
            unreachable=(self.host or "the server") if self._unreachable() else None,
        )
        counters_moved = (status.requests_per_minute, status.pending) != (
            self._published.requests_per_minute,
            self._published.pending,
        )
        self._status = status
        if status_differs(status, self._published) or (
            counters_moved and now - self._published_at >= STATUS_EVERY
        ):
            self._published = status
            self._published_at = now
            self._emit(StatusChange(status))


def _log_outcome(task_id: str, previous: TaskResult, result: TaskResult, outcome: Outcome) -> None:
    """Every poll at DEBUG; state changes at INFO; problems at WARNING (ERROR for the key)."""
    if isinstance(outcome, Ok):
        if previous.state != result.state or previous.checked_at is None:
            log.info("%s: %s (%s)", task_id, result.state.value, result.status)
        else:
            log.debug("%s: still %s (%s)", task_id, result.state.value, result.status)
    elif isinstance(outcome, AuthRejected | WrongUrl):
        log.error("%s: %s", task_id, outcome.message)
    else:
        log.warning("%s: %s", task_id, outcome.message)
