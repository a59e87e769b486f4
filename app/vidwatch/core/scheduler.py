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
GROWTH: Final = 1.5
# Polls of running jobs aim at a hit probability that adapts to the budget.
HIT_START: Final = 0.2
HIT_MIN: Final = 0.02
HIT_MAX: Final = 0.25
HIT_UP: Final = 1.1  # per second while tasks wait for the budget
HIT_DOWN: Final = 0.9  # per second while the budget is not used
TUNE_EVERY: Final = 1.0  # seconds
BUSY: Final = 0.8  # the budget counts as used above this share
LAG_WEIGHT: Final = 0.05  # moving average of how late tasks are handed out
LAG_LOW: Final = 0.5  # seconds
LAG_HIGH: Final = 2.0
RUNNING_JITTER: Final = 0.1  # interval multiplier while a task is unchanged
JITTER: Final = 0.2  # ± fraction applied to every interval


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


@dataclass(slots=True)
class _Entry:
    task_id: str
    due: float
    interval: float
    finished: bool = False
    in_flight: bool = False
    failures: int = 0
    not_found: int = 0
    no_url: int = 0
    version: int = 0
    last: TaskResult | None = field(default=None, repr=False)
    key: str = ""  # the model, for learned durations
    running_since: float | None = None  # epoch seconds, from the server's status_update_time


class Scheduler:
    """Per-task due times, growing intervals, backoff and the request budget.

    Use: :meth:`next_task` hands out one due task at a time (respecting the
    concurrency cap, the budget, pauses and ``Retry-After``); the caller
    queries it and reports back with :meth:`complete`.
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
        # How likely a poll of a running job should be to find it done. Lowered while the
        # budget has room (polls come sooner), raised while tasks wait for it (later).
        self.hit_probability = HIT_START
        self._lag = 0.0  # how late due tasks are handed out (moving average, seconds)
        self._handed = 0  # tasks handed out since the last tuning
        self._tuned_at = now
        self._entries: dict[str, _Entry] = {}
        self._open: set[str] = set()  # tracked and not finished
        self._heap: list[tuple[float, int, str]] = []
        self._in_flight = 0
        self.paused = False
        self.auth_rejected: AuthRejected | None = None
        self.hold_until = 0.0  # Retry-After / rate-limit hold for the whole host
        self._host_strikes = 0  # 429s in a row

    # ------------------------------------------------------------------ tasks

    def track(self, task_id: str, last: TaskResult | None, now: float, delay: float = 0.0) -> None:
        """Start (or keep) watching a task. Finished tasks are not polled."""
        entry = self._entries.get(task_id)
        if entry is None:
            entry = _Entry(task_id, now + delay, self.policy.min_interval, last=last)
            entry.key = model_key(task_id)
            self._entries[task_id] = entry
        entry.last = last
        entry.finished = last is not None and last.final
        if last is not None and last.state is State.RUNNING:
            entry.running_since = self._epoch(last.status_update_time, now)
        self._set_open(entry)
        if not entry.finished and not entry.in_flight:
            self._schedule(entry, now + delay)

    def forget(self, task_id: str) -> None:
        entry = self._entries.pop(task_id, None)
        self._open.discard(task_id)
        if entry is not None and entry.in_flight:
            self._in_flight -= 1

    def refresh(self, task_id: str, now: float) -> bool:
        """Poll this task as soon as possible, even if it is finished."""
        entry = self._entries.get(task_id)
        if entry is None or entry.in_flight:
            return False
        entry.finished = False
        entry.not_found = 0
        entry.no_url = 0
        entry.failures = 0
        entry.interval = self.policy.min_interval
        self._set_open(entry)
        self._schedule(entry, now)
        return True

    def refresh_all(self, now: float, include_finished: bool = False) -> int:
        count = 0
        for entry in self._entries.values():
            if (include_finished or not entry.finished) and self.refresh(entry.task_id, now):
                count += 1
        return count

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

    def due_at(self, task_id: str) -> float | None:
        """When the task will next be polled (clock seconds), or None."""
        entry = self._entries.get(task_id)
        if entry is None or entry.in_flight or entry.version == 0:
            return None
        return entry.due

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
        entry = self._peek(now)
        if entry is None or not self.limiter.try_acquire(now):
            return None
        heapq.heappop(self._heap)
        if entry.running_since is not None:  # only these are timed by hit_probability
            self._lag += LAG_WEIGHT * (max(now - entry.due, 0.0) - self._lag)
        self._handed += 1
        self._tune(now)
        entry.version = 0  # off the heap; due_at() is None while in flight
        entry.in_flight = True
        self._in_flight += 1
        return entry.task_id

    def next_wakeup(self, now: float) -> float | None:
        """The earliest time :meth:`next_task` could return a task, or None (idle)."""
        if self.blocked:
            return None
        entry = self._peek(math.inf)
        if entry is None:
            return None
        if self._in_flight >= self.policy.concurrency:
            return None  # a completion will wake the loop
        self._tune(now)
        return max(entry.due, self.hold_until, now + self.limiter.wait_time(now))

    def complete(self, task_id: str, outcome: Outcome, now: float) -> None:
        """Record what a poll returned and decide when to poll again."""
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
            changed = result.same_job_state(entry.last) is False
            self._learn(entry, result, now)
            entry.last = result
            if result.final:
                entry.finished = True
                self._open.discard(task_id)
                return
            if result.state is State.SUCCEEDED:  # succeeded, but no URL: an anomaly
                entry.no_url += 1
                if entry.no_url > SUCCESS_NO_URL_LIMIT:
                    entry.finished = True
                    self._open.discard(task_id)
                    return
                entry.interval = policy.max_interval
            elif changed:
                entry.interval = policy.min_interval
            else:
                entry.interval = min(entry.interval * GROWTH, policy.max_interval)
            if result.state is State.UNKNOWN:
                entry.interval = max(
                    entry.interval, min(policy.min_interval * 4, policy.max_interval)
                )
            delay = self._jitter(entry.interval)
            if result.state is State.RUNNING and entry.running_since is not None:
                delay = self._running_delay(entry, now)
            if outcome.poll_after is not None:
                delay = max(delay, outcome.poll_after)
            self._schedule(entry, now + delay)
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
                entry.finished = True  # marked; polled again only when asked
                self._open.discard(task_id)
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

    # ------------------------------------------------------------------ internals

    def _set_open(self, entry: _Entry) -> None:
        if entry.finished:
            self._open.discard(entry.task_id)
        else:
            self._open.add(entry.task_id)

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
        elif state.finished:
            if entry.running_since is not None and result.status_update_time is not None:
                ran = self._epoch(result.status_update_time, now) - entry.running_since
                self.durations.observe(entry.key, ran)
            entry.running_since = None
        else:
            entry.running_since = None

    def _running_delay(self, entry: _Entry, now: float) -> float:
        """Wait until the job is done with probability ``hit_probability`` (learned
        running times), within the policy's bounds, jittered a little."""
        assert entry.running_since is not None
        age = now + self.wall_offset - entry.running_since
        wait = self.durations.delay_for(entry.key, age, self.hit_probability)
        policy = self.policy
        wait = min(max(wait, policy.min_interval), policy.max_interval)
        return wait * (1.0 + self.rng.uniform(-RUNNING_JITTER, RUNNING_JITTER))

    def _tune(self, now: float) -> None:
        """Once a second: tasks kept waiting for the budget -> poll running jobs later;
        budget left unused -> sooner."""
        elapsed = now - self._tuned_at
        if elapsed < TUNE_EVERY:
            return
        used = self._handed / (self.limiter.rate * elapsed)
        if self._lag > LAG_HIGH:
            self.hit_probability = min(self.hit_probability * HIT_UP, HIT_MAX)
        elif used < BUSY and self._lag < LAG_LOW:
            self.hit_probability = max(self.hit_probability * HIT_DOWN, HIT_MIN)
        self._tuned_at = now
        self._handed = 0

    def _jitter(self, interval: float) -> float:
        return interval * (1.0 + self.rng.uniform(-JITTER, JITTER))

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff, never below half the minimum interval."""
        cap = min(self.policy.max_interval, self.policy.min_interval * 2.0 ** min(attempt, 20))
        return max(self.policy.min_interval / 2.0, self.rng.uniform(0.0, cap))

    def _schedule(self, entry: _Entry, due: float) -> None:
        entry.due = due
        entry.version += 1
        heapq.heappush(self._heap, (due, entry.version, entry.task_id))

    def _peek(self, now: float) -> _Entry | None:
        """The valid heap top if it is due by ``now``; drops stale heap items."""
        heap = self._heap
        while heap:
            due, version, task_id = heap[0]
            entry = self._entries.get(task_id)
            if entry is None or entry.version != version:  # stale: rescheduled or gone
                heapq.heappop(heap)
                continue
            return entry if due <= now else None
        return None
