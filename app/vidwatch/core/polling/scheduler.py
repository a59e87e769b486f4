"""Which task to poll next, and when: the pure, clock-driven half of polling.

Nothing here sleeps or does I/O. Every method takes ``now`` (seconds on a
monotonic clock) so tests and the discrete-event benchmark drive it with a
simulated clock; :class:`vidwatch.core.polling.poller.Poller` drives it with the real one.

The :class:`Scheduler` decides: what an answer means (finished, back off, hold the
host, give up on a task the server does not know) and when each task is asked again.
Its neighbours keep the rest: :mod:`vidwatch.core.polling.agenda` where each task waits and
which check comes first, :mod:`vidwatch.core.polling.rationing` how often each open task may be
checked, :mod:`vidwatch.core.polling.budget` the polling settings and the request budget,
:mod:`vidwatch.core.polling.durations` how long jobs take.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    BadResponse,
    NetworkError,
    NotFound,
    Ok,
    Outcome,
    RateLimited,
    ServerError,
    WrongUrl,
    server_wait,
)
from vidwatch.core.model.records import State, TaskResult, model_key
from vidwatch.core.polling.agenda import IDLE, Agenda, Entry, anchor
from vidwatch.core.polling.budget import BURST_SECONDS, Policy, RateLimiter
from vidwatch.core.polling.durations import DurationModel
from vidwatch.core.polling.rationing import PollPlan, weight_class

__all__ = [
    "KNOWN_NOT_FOUND_LIMIT",
    "NOT_FOUND_LIMIT",
    "SUCCESS_NO_URL_LIMIT",
    "Eta",
    "Scheduler",
]

NOT_FOUND_LIMIT: Final = 3  # 404s in a row before a task is marked and left alone
# (asked again every min_interval: `wait` on a mistyped ID ends in seconds, not minutes)
# A task the server did answer for is not "unknown" because of one flaky 404: it
# is retried like any error, and left alone only after this many in a row.
KNOWN_NOT_FOUND_LIMIT: Final = 10
SUCCESS_NO_URL_LIMIT: Final = 5  # "succeeded" without a URL: re-checks before giving up
ANSWER_MARGIN: Final = 1.0  # seconds: a last check before a deadline is sent this much before it
CENSUS_EVERY: Final = 2.0  # seconds: how often the running jobs' ages reach the duration model
CENSUS_SAMPLE: Final = 256  # at most this many of them
SETTLE_ROUNDS: Final = 4  # re-classings of the tasks never asked when the budget turns tight


@dataclass(frozen=True, slots=True)
class Eta:
    """How a running job is doing against the learned running times."""

    running_for: float  # seconds
    remaining: float  # median seconds left, given it is still running
    late: bool  # far past the time jobs like it take (fewer than 1 in 20 run this long)


LATE_SURVIVAL: Final = 0.05


class Scheduler:
    """Per-task due times, the plan that spends the budget, backoff and the request budget.

    Use: :meth:`next_task` hands out one due task at a time (respecting the
    concurrency cap, the budget, pauses and ``Retry-After``); the caller
    queries it and reports back with :meth:`complete`.

    Answered, unfinished tasks are checked by the
    :class:`~vidwatch.core.polling.rationing.PollPlan`:
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
        self.plan = PollPlan(policy.min_interval, policy.max_interval, rate)
        self._agenda = Agenda(self.plan)
        self._entries = self._agenda.entries  # every watched task (the agenda's, shared)
        self._open = self._agenda.open  # tracked and not finished
        self._in_flight = 0
        self._sweep_at: float | None = None  # check_by(): every open task once more from then
        self._running: dict[str, Entry] = {}  # open tasks known to be running
        self._census_at = -math.inf
        self._prepared_at: float | None = None  # _prepare() has run at this time, since a change
        self.paused = False
        self.auth_rejected: AuthRejected | None = None
        self.url_rejected: WrongUrl | None = None  # the server has no such address
        self.hold_until = 0.0  # Retry-After / rate-limit hold for the whole host
        self._host_strikes = 0  # 429s in a row

    # ------------------------------------------------------------------ tasks

    def track(
        self,
        task_id: str,
        last: TaskResult | None,
        now: float,
        delay: float = 0.0,
        *,
        known: bool = False,
    ) -> None:
        """Start (or keep) watching a task. Finished tasks are not polled. A task already
        watched keeps its next check (unless it was finished and no longer is). ``known``:
        the server said it exists (it answered a create with it), so a few "not found"
        answers are a blip, as for a task it has answered for."""
        self._prepared_at = None
        entry = self._entries.get(task_id)
        fresh = entry is None
        if entry is None:
            entry = Entry(task_id, now + delay, added=now + delay, last=last)
            entry.key = model_key(task_id)
            self._entries[task_id] = entry
        entry.known = entry.known or known
        was_open = task_id in self._open
        entry.last = last
        entry.finished = last is not None and last.final
        if last is not None and last.state is State.RUNNING and not entry.finished:
            entry.running_since = self._epoch(last.status_update_time, now)
            self._running[task_id] = entry
        agenda = self._agenda
        if not entry.finished:
            agenda.reclass(entry, self._class_for(entry, now))
        agenda.set_open(entry)
        if entry.finished:
            agenda.unschedule(entry)
        elif fresh:
            agenda.first_check(entry)
        elif not entry.in_flight and (not was_open or entry.where == IDLE):
            agenda.schedule(entry, now + delay)

    def forget(self, task_id: str) -> None:
        self._prepared_at = None
        entry = self._agenda.forget(task_id)
        self._running.pop(task_id, None)
        if entry is not None and entry.in_flight:
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
        self._agenda.set_open(entry)
        self._agenda.schedule(entry, now)
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
        due = self._agenda.due(entry)
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
        """Resume after a pause, a rejected key or a wrong address (the user says it is
        fixed)."""
        self.paused = False
        if self.halted is not None:
            self.auth_rejected = self.url_rejected = None
            self.refresh_all(now)

    @property
    def halted(self) -> AuthRejected | WrongUrl | None:
        """What the server said that stops all polling until the user fixes it: a
        rejected key, or an address the server does not have (the base URL)."""
        return self.auth_rejected or self.url_rejected

    @property
    def blocked(self) -> bool:  # asked before every request: no detour through halted
        return self.paused or self.auth_rejected is not None or self.url_rejected is not None

    # ------------------------------------------------------------------ the loop's API

    def next_task(self, now: float) -> str | None:
        """The next task to poll now, or None. Takes a budget token when it returns one."""
        if self.blocked or now < self.hold_until or self._in_flight >= self.policy.concurrency:
            return None
        self._prepare(now)
        agenda = self._agenda
        first = agenda.first()
        if first is None:
            return None
        due, entry = first
        if due > now:
            lent = agenda.lend(now, self.policy.min_interval)
            if lent is None:
                return None
            entry = lent
        if not self.limiter.try_acquire(now):
            return None
        agenda.take(entry)
        entry.in_flight = True
        entry.sent = now
        self._in_flight += 1
        return entry.task_id

    def next_wakeup(self, now: float) -> float | None:
        """The earliest time :meth:`next_task` could return a task, or None (idle)."""
        if self.blocked:
            return None
        self._prepare(now)
        first = self._agenda.first()
        if first is None:
            return None
        if self._in_flight >= self.policy.concurrency:
            return None  # a completion will wake the loop
        due = first[0]
        head = self.plan.first() if self.plan.scale > 0.0 else None
        if head is not None:  # see Agenda.lend()
            entry = self._entries[head[1]]
            floor = self.plan.min_interval if entry.sent is not None else 0.0
            due = min(due, anchor(entry) + floor)
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
        agenda = self._agenda
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
                agenda.schedule(entry, now + policy.max_interval)
                return
            agenda.reclass(entry, self._class_for(entry, now))
            if outcome.poll_after is not None:
                planned = (entry.sent or now) + self.plan.interval(entry.cls)
                agenda.schedule(entry, max(planned, now + outcome.poll_after))
            else:
                agenda.put_in_plan(entry)
        elif isinstance(outcome, AuthRejected):
            self.auth_rejected = outcome
            agenda.schedule(entry, now)
        elif isinstance(outcome, WrongUrl):  # says nothing about the task: it is not marked
            self.url_rejected = outcome
            agenda.schedule(entry, now)
        elif isinstance(outcome, RateLimited):
            # Every 429 in a row is a strike; the wait is the one rule for 429s.
            self._host_strikes += 1
            wait = server_wait(outcome.retry_after, self._backoff(self._host_strikes))
            self.hold_until = max(self.hold_until, now + wait)
            agenda.schedule(entry, self.hold_until)
        elif isinstance(outcome, NotFound):
            entry.not_found += 1
            known = entry.known or (entry.last is not None and bool(entry.last.status))
            if entry.not_found >= (KNOWN_NOT_FOUND_LIMIT if known else NOT_FOUND_LIMIT):
                self._finish(entry)  # marked; polled again only when asked
                return
            if known:  # it existed: a blip, or gone for good; asked again with backoff
                agenda.schedule(entry, now + self._backoff(entry.not_found))
            else:  # never answered for: confirmed at the polling floor, then given up
                agenda.schedule(entry, now + policy.min_interval)
        else:
            assert isinstance(outcome, ServerError | BadResponse | NetworkError)
            entry.failures += 1
            agenda.schedule(entry, now + self._backoff(entry.failures))

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

    def _finish(self, entry: Entry) -> None:
        entry.finished = True
        self._running.pop(entry.task_id, None)
        self._agenda.set_open(entry)
        self._agenda.unschedule(entry)

    def _class_for(self, entry: Entry, now: float) -> int:
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

    def _learn(self, entry: Entry, result: TaskResult, now: float) -> None:
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
                due = self._agenda.due(entry)
                if due is None or due > now:
                    self._agenda.schedule(entry, now)
        self._census(now)
        ample = self.plan.scale == 0.0
        if self.plan.maybe_solve(now) and ample != (self.plan.scale == 0.0):
            self._reclass_unasked(now)
            self._agenda.replan_first_checks()  # first checks: at once, or by the plan

    def _reclass_unasked(self, now: float) -> None:
        """The budget turned tight (or ample again): the window a task's chance of
        finishing is measured over is no longer the same (``min_interval``, or the interval
        the plan gives), so the tasks never asked, classed when they were tracked, are
        classed again, and the plan solved for their new classes until it holds still.
        Else the plan is solved for classes the tasks do not have: at start-up on many
        tasks, the first answers moved the few asked to a class checked every
        ``min_interval`` while the rest, still in their light class, waited past N / rate;
        and identical tasks got different intervals."""
        agenda = self._agenda
        for _ in range(SETTLE_ROUNDS):
            moved = False
            for task_id in agenda.unasked:
                entry = self._entries[task_id]
                cls = self._class_for(entry, now)
                if cls != entry.cls:
                    agenda.reclass(entry, cls)
                    moved = True
            if not moved or not self.plan.solve(now):
                return
