"""Which task to poll next, and when: the pure, clock-driven half of polling.

Nothing here sleeps or does I/O. Every method takes ``now`` (seconds on a
monotonic clock) so tests and the discrete-event benchmark drive it with a
simulated clock; :class:`vidwatch.core.poller.Poller` drives it with the real one.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from vidwatch.core.durations import DurationModel
from vidwatch.core.models import State, TaskResult, model_key
from vidwatch.core.outcomes import (
    AuthRejected,
    BadResponse,
    NetworkError,
    NotFound,
    Ok,
    Outcome,
    RateLimited,
    ServerError,
)
from vidwatch.core.rationing import CLASS_MAX, Plan, weight_class

__all__ = [
    "KNOWN_NOT_FOUND_LIMIT",
    "NOT_FOUND_LIMIT",
    "SUCCESS_NO_URL_LIMIT",
    "Eta",
    "Policy",
    "RateLimiter",
    "Scheduler",
]

NOT_FOUND_LIMIT: Final = 3  # 404s in a row before a task is marked and left alone
# A task the server did answer for is not "unknown" because of one flaky 404: it
# is retried like any error, and left alone only after this many in a row.
KNOWN_NOT_FOUND_LIMIT: Final = 10
SUCCESS_NO_URL_LIMIT: Final = 5  # "succeeded" without a URL: re-checks before giving up
RETRY_AFTER_TRUSTED: Final = 1.0  # seconds; a shorter Retry-After gets backoff instead
BURST_SECONDS: Final = 0.05  # the budget may send this much of a second's worth at once
ANSWER_MARGIN: Final = 1.0  # seconds: a last check before a deadline is sent this much before it
CENSUS_EVERY: Final = 2.0  # seconds: how often the running jobs' ages reach the duration model
CENSUS_SAMPLE: Final = 256  # at most this many of them


@dataclass(frozen=True, slots=True)
class Policy:
    """Polling settings (``[polling]`` in the config file)."""

    min_interval: float = 3.0
    max_interval: float = 60.0
    concurrency: int = 8
    max_requests_per_second: float = 10.0

    def __post_init__(self) -> None:
        if not (self.min_interval > 0 and math.isfinite(self.min_interval)):
            raise ValueError("min_interval must be a positive number of seconds")
        if not (self.max_interval >= self.min_interval and math.isfinite(self.max_interval)):
            raise ValueError("max_interval must be at least min_interval")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not (self.max_requests_per_second > 0 and math.isfinite(self.max_requests_per_second)):
            raise ValueError("max_requests_per_second must be a positive number")


_EPSILON: Final = 1e-9  # float dust: 0.9999999999 tokens is a token


class RateLimiter:
    """A token bucket: at most ``burst + rate * T`` requests in any window ``T``."""

    def __init__(self, rate: float, burst: float = 1.0, now: float = 0.0) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._tokens = self.burst
        self._stamp = now

    def _fill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def try_acquire(self, now: float) -> bool:
        self._fill(now)
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens = max(self._tokens - 1.0, 0.0)
            return True
        return False

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when one is)."""
        self._fill(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= _EPSILON else missing / self.rate


@dataclass(frozen=True, slots=True)
class Eta:
    """How a running job is doing against the learned running times."""

    running_for: float  # seconds
    remaining: float  # median seconds left, given it is still running
    late: bool  # far past the time jobs like it take (fewer than 1 in 20 run this long)


LATE_SURVIVAL: Final = 0.05


_IDLE: Final = 0  # finished, or in flight
_FIXED: Final = 1  # due at a set time: new, asked for, backing off, held, a hint
_PLANNED: Final = 2  # due when the plan says: last request + the interval of its class


@dataclass(slots=True)
class _Entry:
    task_id: str
    due: float  # for _FIXED
    finished: bool = False
    in_flight: bool = False
    where: int = _IDLE
    failures: int = 0
    not_found: int = 0
    no_url: int = 0
    version: int = 0
    sent: float | None = None  # when its last request was sent
    added: float = 0.0  # when it was first tracked (plus its delay)
    cls: int = CLASS_MAX  # its weight class in the plan (while open)
    last: TaskResult | None = field(default=None, repr=False)
    key: str = ""  # the model, for learned durations
    running_since: float | None = None  # epoch seconds, from the server's status_update_time


class Scheduler:
    """Per-task due times, the plan that spends the budget, backoff and the request budget.

    Use: :meth:`next_task` hands out one due task at a time (respecting the
    concurrency cap, the budget, pauses and ``Retry-After``); the caller
    queries it and reports back with :meth:`complete`.

    Answered, unfinished tasks are checked by the :class:`~vidwatch.core.rationing.Plan`:
    every ``min_interval`` while the budget affords it, else by the square-root rule
    on their chance of finishing (learned running times). New tasks, tasks asked for,
    errors, ``Retry-After`` holds and not-found answers have set due times.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        now: float = 0.0,
        rng: random.Random | None = None,
        durations: DurationModel | None = None,
        wall_offset: float | None = None,
    ):
        self.policy = policy
        self.rng = rng or random.Random()
        rate = policy.max_requests_per_second
        self.limiter = RateLimiter(rate, burst=max(1.0, rate * BURST_SECONDS), now=now)
        self.durations = durations or DurationModel()
        # Epoch seconds = clock seconds + wall_offset (ages come from server times).
        self.wall_offset = time.time() - time.monotonic() if wall_offset is None else wall_offset
        self.plan = Plan(policy.min_interval, policy.max_interval, rate)
        self._entries: dict[str, _Entry] = {}
        self._open: dict[str, None] = {}  # tracked and not finished (a set in insertion order)
        self._heap: list[tuple[float, int, str]] = []  # _FIXED tasks: (due, version, task)
        self._in_flight = 0
        self._sweep_at: float | None = None  # check_by(): every open task once more from then
        self._running: dict[str, _Entry] = {}  # open tasks known to be running
        self._unasked: dict[str, None] = {}  # never asked yet, waiting for a first check
        self._census_at = -math.inf
        self._prepared_at: float | None = None  # _prepare() has run at this time, since a change
        self.paused = False
        self.auth_rejected: AuthRejected | None = None
        self.hold_until = 0.0  # Retry-After / rate-limit hold for the whole host
        self._host_strikes = 0  # 429s in a row

    # ------------------------------------------------------------------ tasks

    def track(self, task_id: str, last: TaskResult | None, now: float, delay: float = 0.0) -> None:
        """Start (or keep) watching a task. Finished tasks are not polled. A task already
        watched keeps its next check (unless it was finished and no longer is)."""
        self._prepared_at = None
        entry = self._entries.get(task_id)
        fresh = entry is None
        if entry is None:
            entry = _Entry(task_id, now + delay, added=now + delay, last=last)
            entry.key = model_key(task_id)
            self._entries[task_id] = entry
        was_open = task_id in self._open
        entry.last = last
        entry.finished = last is not None and last.final
        if last is not None and last.state is State.RUNNING and not entry.finished:
            entry.running_since = self._epoch(last.status_update_time, now)
            self._running[task_id] = entry
        if not entry.finished:
            self._reclass(entry, self._class_for(entry, now))
        self._set_open(entry)
        if entry.finished:
            self._unschedule(entry)
        elif fresh:
            self._first_check(entry)
        elif not entry.in_flight and (not was_open or entry.where == _IDLE):
            self._schedule(entry, now + delay)

    def forget(self, task_id: str) -> None:
        self._prepared_at = None
        entry = self._entries.pop(task_id, None)
        self._running.pop(task_id, None)
        self._unasked.pop(task_id, None)
        if entry is None:
            return
        if task_id in self._open:
            del self._open[task_id]
            self.plan.leave(entry.cls)
        self.plan.drop(task_id)
        if entry.in_flight:
            self._in_flight -= 1

    def refresh(self, task_id: str, now: float) -> bool:
        """Poll this task as soon as possible, even if it is finished."""
        self._prepared_at = None
        entry = self._entries.get(task_id)
        if entry is None or entry.in_flight:
            return False
        entry.finished = False
        entry.not_found = 0
        entry.no_url = 0
        entry.failures = 0
        self._set_open(entry)
        self._schedule(entry, now)
        return True

    def refresh_all(self, now: float, include_finished: bool = False) -> int:
        count = 0
        for entry in list(self._entries.values()):
            if (include_finished or not entry.finished) and self.refresh(entry.task_id, now):
                count += 1
        return count

    def check_by(self, at: float, now: float) -> None:
        """Check every unfinished task once more so that the answers are in before ``at``
        (``wait --timeout``): tasks not asked about since ``at`` minus the time the
        budget needs to ask them all (plus :data:`ANSWER_MARGIN`) are asked then."""
        lead = len(self._open) / self.limiter.rate + ANSWER_MARGIN
        self._sweep_at = max(at - lead, now)
        self._prepared_at = None

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def is_in_flight(self, task_id: str) -> bool:
        entry = self._entries.get(task_id)
        return entry is not None and entry.in_flight

    def due_at(self, task_id: str, now: float | None = None) -> float | None:
        """When the task will next be polled under the current plan (clock seconds), or
        None (finished, or in flight). Overdue tasks (waiting for the budget) are in the past.
        With ``now``, changes not yet planned for (tasks added or gone) are planned first."""
        entry = self._entries.get(task_id)
        if entry is None:
            return None
        if now is not None:
            self._prepare(now)
        due = self._due(entry)
        sweep = self._sweep_at
        if due is not None and sweep is not None and (entry.sent is None or entry.sent < sweep):
            due = min(due, sweep)
        return due

    def pending(self) -> int:
        """Tasks that will be polled again (not finished, not given up)."""
        return len(self._open)

    # ------------------------------------------------------------------ control

    def pause(self) -> None:
        self.paused = True

    def resume(self, now: float) -> None:
        """Resume after a pause or a rejected key (the user says the key is fixed)."""
        self.paused = False
        if self.auth_rejected is not None:
            self.auth_rejected = None
            self.refresh_all(now)

    @property
    def blocked(self) -> bool:
        return self.paused or self.auth_rejected is not None

    # ------------------------------------------------------------------ the loop's API

    def next_task(self, now: float) -> str | None:
        """The next task to poll now, or None. Takes a budget token when it returns one."""
        if self.blocked or now < self.hold_until or self._in_flight >= self.policy.concurrency:
            return None
        self._prepare(now)
        first = self._first()
        if first is None:
            return None
        due, entry = first
        if due > now:
            lent = self._lend(now)
            if lent is None:
                return None
            entry = lent
        if not self.limiter.try_acquire(now):
            return None
        if entry.where == _PLANNED:
            self.plan.drop(entry.task_id)
        else:
            heapq.heappop(self._heap)
        entry.where = _IDLE
        entry.in_flight = True
        entry.sent = now
        self._unasked.pop(entry.task_id, None)
        self._in_flight += 1
        return entry.task_id

    def next_wakeup(self, now: float) -> float | None:
        """The earliest time :meth:`next_task` could return a task, or None (idle)."""
        if self.blocked:
            return None
        self._prepare(now)
        first = self._first()
        if first is None:
            return None
        if self._in_flight >= self.policy.concurrency:
            return None  # a completion will wake the loop
        due = first[0]
        head = self.plan.first() if self.plan.scale > 0.0 else None
        if head is not None:  # see _lend()
            entry = self._entries[head[1]]
            floor = self.plan.min_interval if entry.sent is not None else 0.0
            due = min(due, self._anchor(entry) + floor)
        wake = max(due, self.hold_until, now + self.limiter.wait_time(now))
        for event in (self.plan.pending_solve(), self._sweep_at):
            if event is not None and now < event < wake:
                wake = event  # a re-plan or a last check may bring tasks forward
        return wake

    def complete(self, task_id: str, outcome: Outcome, now: float) -> None:
        """Record what a poll returned and decide when to poll again."""
        self._prepared_at = None
        entry = self._entries.get(task_id)
        if entry is None or not entry.in_flight:
            return
        entry.in_flight = False
        self._in_flight -= 1
        policy = self.policy
        if isinstance(outcome, Ok):
            self._host_strikes = 0
            entry.failures = 0
            entry.not_found = 0
            result = outcome.result
            self._learn(entry, result, now)
            entry.last = result
            if result.final:
                self._finish(entry)
                return
            if result.state is State.SUCCEEDED:  # succeeded, but no URL: an anomaly
                entry.no_url += 1
                if entry.no_url > SUCCESS_NO_URL_LIMIT:
                    self._finish(entry)
                    return
                self._schedule(entry, now + policy.max_interval)
                return
            self._reclass(entry, self._class_for(entry, now))
            if outcome.poll_after is not None:
                planned = (entry.sent or now) + self.plan.interval(entry.cls)
                self._schedule(entry, max(planned, now + outcome.poll_after))
            else:
                self._put_in_plan(entry)
        elif isinstance(outcome, AuthRejected):
            self.auth_rejected = outcome
            self._schedule(entry, now)
        elif isinstance(outcome, RateLimited):
            # Every 429 in a row is a strike. A Retry-After is obeyed to the letter; one
            # that says "now" (0, or a date our clock has passed) is no reason to hammer:
            # then the growing backoff applies, as with no header at all.
            self._host_strikes += 1
            backoff = self._backoff(self._host_strikes)
            retry_after = outcome.retry_after
            if retry_after is not None and retry_after >= RETRY_AFTER_TRUSTED:
                wait = retry_after
            else:
                wait = max(retry_after or 0.0, backoff)
            self.hold_until = max(self.hold_until, now + wait)
            self._schedule(entry, self.hold_until)
        elif isinstance(outcome, NotFound):
            entry.not_found += 1
            known = entry.last is not None and bool(entry.last.status)
            if entry.not_found >= (KNOWN_NOT_FOUND_LIMIT if known else NOT_FOUND_LIMIT):
                self._finish(entry)  # marked; polled again only when asked
                return
            if known:
                self._schedule(entry, now + self._backoff(entry.not_found))
            else:
                self._schedule(entry, now + policy.max_interval * entry.not_found)
        else:
            assert isinstance(outcome, ServerError | BadResponse | NetworkError)
            entry.failures += 1
            self._schedule(entry, now + self._backoff(entry.failures))

    def eta(self, task_id: str, now: float) -> Eta | None:
        """For a running job: how long it has run, the time it probably still needs, and
        whether it is overdue. ``None`` for anything not running."""
        entry = self._entries.get(task_id)
        if entry is None or entry.running_since is None or entry.finished:
            return None
        age = max(now + self.wall_offset - entry.running_since, 0.0)
        durations = self.durations
        late = durations.survival(entry.key, age) < LATE_SURVIVAL
        return Eta(age, durations.remaining(entry.key, age), late)

    def is_done(self, task_id: str) -> bool:
        """Not polled again unless asked: final, not found, or done without a URL."""
        entry = self._entries.get(task_id)
        return entry is not None and entry.finished

    def gave_up(self, task_id: str) -> bool:
        """True when the task was left alone after repeated not-found answers."""
        entry = self._entries.get(task_id)
        return entry is not None and entry.finished and entry.not_found > 0

    def given_up(self, task_id: str) -> str | None:
        """Why a task that did not finish is left alone (polled again only when asked):
        ``not found 3 times``, ``finished without a video URL 6 times``; else None."""
        entry = self._entries.get(task_id)
        if entry is None or not entry.finished or (entry.last is not None and entry.last.final):
            return None
        if entry.not_found:
            return f"not found {entry.not_found} times"
        if entry.no_url:
            return f"finished without a video URL {entry.no_url} times"
        return None

    # ------------------------------------------------------------------ internals

    def _set_open(self, entry: _Entry) -> None:
        if entry.finished:
            if entry.task_id in self._open:
                del self._open[entry.task_id]
                self.plan.leave(entry.cls)
        elif entry.task_id not in self._open:
            self._open[entry.task_id] = None
            self.plan.join(entry.cls)

    def _finish(self, entry: _Entry) -> None:
        entry.finished = True
        self._running.pop(entry.task_id, None)
        self._set_open(entry)
        self._unschedule(entry)

    def _reclass(self, entry: _Entry, cls: int) -> None:
        if entry.task_id in self._open:
            self.plan.move(entry.cls, cls)
        entry.cls = cls

    def _class_for(self, entry: _Entry, now: float) -> int:
        """The weight class of an open task: ``1 / sqrt(hazard)``, the hazard being its
        chance per second of finishing soon (learned running times; queued and unknown
        jobs: as a job that has just started). "Soon": over the next ``min_interval``, or
        while rationed, over the interval that hazard would get (a job that cannot finish
        in the next 3 s may well finish in the next minute)."""
        age = 0.0
        if entry.running_since is not None:
            age = max(now + self.wall_offset - entry.running_since, 0.0)
        plan = self.plan
        log_survival = self.durations.log_survival
        key = entry.key
        alive = log_survival(key, age)  # hazard over a window: (ln S(age) - ln S(end)) / span
        span = plan.min_interval
        hazard = max(alive - log_survival(key, age + span), 0.0) / span
        if plan.scale > 0.0:
            wanted = plan.scale / math.sqrt(hazard) if hazard > 0.0 else math.inf
            window = min(max(wanted, plan.min_interval), plan.max_interval)
            if window != span:
                hazard = max(alive - log_survival(key, age + window), 0.0) / window
        return weight_class(hazard)

    def _epoch(self, when: datetime | None, now: float) -> float:
        """A server time in epoch seconds, never in our future (clock skew)."""
        now_epoch = now + self.wall_offset
        return now_epoch if when is None else min(when.timestamp(), now_epoch)

    def _learn(self, entry: _Entry, result: TaskResult, now: float) -> None:
        """Note when a job started running; learn how long it ran when it is done."""
        state = result.state
        if state is State.RUNNING:
            previous = entry.last
            if entry.running_since is None or previous is None or previous.state != state:
                entry.running_since = self._epoch(result.status_update_time, now)
            self._running[entry.task_id] = entry
            return
        stamp = result.status_update_time
        if state.finished and entry.running_since is not None and stamp is not None:
            self.durations.observe(entry.key, self._epoch(stamp, now) - entry.running_since)
        entry.running_since = None
        self._running.pop(entry.task_id, None)

    def _census(self, now: float) -> None:
        """Tell the duration model how long the running jobs have run so far (a sample):
        the jobs that finished first are the short ones, and only with the running ones
        beside them does the model see how long jobs really take."""
        if now < self._census_at + CENSUS_EVERY:
            return
        self._census_at = now
        running = list(self._running.values())
        if len(running) > CENSUS_SAMPLE:
            running = self.rng.sample(running, CENSUS_SAMPLE)
        ages: dict[str, list[float]] = {}
        epoch = now + self.wall_offset
        for entry in running:
            if entry.running_since is not None:
                ages.setdefault(entry.key, []).append(epoch - entry.running_since)
        weight = len(self._running) / len(running) if running else 1.0
        self.durations.running(ages, weight)

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff, never below half the minimum interval."""
        cap = min(self.policy.max_interval, self.policy.min_interval * 2.0 ** min(attempt, 20))
        return max(self.policy.min_interval / 2.0, self.rng.uniform(0.0, cap))

    def _schedule(self, entry: _Entry, due: float, *, first: bool = False) -> None:
        """Due at a set time (not by the plan)."""
        if not first:
            self._unasked.pop(entry.task_id, None)
        if entry.where == _PLANNED:
            self.plan.drop(entry.task_id)
        entry.where = _FIXED
        entry.due = due
        entry.version += 1
        heapq.heappush(self._heap, (due, entry.version, entry.task_id))

    def _put_in_plan(self, entry: _Entry, *, first: bool = False) -> None:
        if not first:
            self._unasked.pop(entry.task_id, None)
        entry.where = _PLANNED
        entry.version += 1  # its fixed-heap items, if any, go stale
        self.plan.put(entry.task_id, entry.cls, self._anchor(entry))

    def _first_check(self, entry: _Entry) -> None:
        """A task never asked about: at once while the budget affords checking every task
        every min_interval; otherwise by the plan, as if asked when it was added."""
        self._unasked[entry.task_id] = None
        if self.plan.scale == 0.0:
            self._schedule(entry, entry.added, first=True)
        else:
            self._put_in_plan(entry, first=True)

    def _anchor(self, entry: _Entry) -> float:
        """What the plan counts a task's next check from: its last request, or for a task
        never asked, when it was added."""
        return entry.sent if entry.sent is not None else entry.added

    def _unschedule(self, entry: _Entry) -> None:
        self._unasked.pop(entry.task_id, None)
        if entry.where == _PLANNED:
            self.plan.drop(entry.task_id)
        entry.where = _IDLE
        entry.version += 1

    def _due(self, entry: _Entry) -> float | None:
        if entry.in_flight or entry.where == _IDLE:
            return None
        if entry.where == _FIXED:
            return entry.due
        return self._anchor(entry) + self.plan.interval(entry.cls)

    def _prepare(self, now: float) -> None:
        """Re-plan if the open tasks changed; start the last round of checks before a deadline."""
        if now == self._prepared_at:
            return
        self._prepared_at = now
        sweep = self._sweep_at
        if sweep is not None and now >= sweep:
            self._sweep_at = None
            for task_id in list(self._open):
                entry = self._entries[task_id]
                if entry.in_flight or (entry.sent is not None and entry.sent >= sweep):
                    continue
                due = self._due(entry)
                if due is None or due > now:
                    self._schedule(entry, now)
        self._census(now)
        ample = self.plan.scale == 0.0
        if self.plan.maybe_solve(now) and ample != (self.plan.scale == 0.0):
            for task_id in list(self._unasked):  # first checks: at once, or by the plan
                self._first_check(self._entries[task_id])

    def _lend(self, now: float) -> _Entry | None:
        """Nothing is due, yet the budget has a request to spare: a rationed plan lends it
        to its earliest check, if that task was last asked ``min_interval`` ago or more.
        (When the plan is re-scaled upwards its checks move out together and would leave
        the budget idle; this keeps it spent, in the plan's order.)"""
        if self.plan.scale <= 0.0:
            return None  # every task every min_interval: nothing to bring forward
        head = self.plan.first()
        if head is None:
            return None
        entry = self._entries[head[1]]
        floor = self.policy.min_interval if entry.sent is not None else 0.0
        return None if self._anchor(entry) + floor > now else entry

    def _first(self) -> tuple[float, _Entry] | None:
        """The task due first: a set time or a planned check, whichever is earlier."""
        fixed: _Entry | None = None
        heap = self._heap
        while heap:
            _, version, task_id = heap[0]
            entry = self._entries.get(task_id)
            if entry is None or entry.version != version or entry.where != _FIXED:
                heapq.heappop(heap)  # stale: rescheduled, planned, in flight or gone
                continue
            fixed = entry
            break
        planned = self.plan.first()
        if planned is not None and (fixed is None or planned[0] < fixed.due):
            return planned[0], self._entries[planned[1]]
        if fixed is None:
            return None
        return fixed.due, fixed
