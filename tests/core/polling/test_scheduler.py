"""The scheduler on a simulated clock: no sleeps, no network."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime

import pytest
from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    BadResponse,
    NetworkError,
    NotFound,
    Ok,
    Outcome,
    RateLimited,
    ServerError,
)
from vidwatch.core.model.records import State, TaskResult
from vidwatch.core.polling.budget import Policy, RateLimiter
from vidwatch.core.polling.scheduler import (
    KNOWN_NOT_FOUND_LIMIT,
    NOT_FOUND_LIMIT,
    SUCCESS_NO_URL_LIMIT,
    Scheduler,
)

from tests.support.schedule import assert_even_intervals, assert_first_round_fair, drive

T0 = datetime(2026, 1, 1, tzinfo=UTC)


EPOCH = 1_700_000_000


def result(state: State, status: str = "", url: str | None = None, stamp: float = 0) -> TaskResult:
    return TaskResult(
        state=state,
        status=status or state.value,
        video_url=url,
        status_update_time=datetime.fromtimestamp(EPOCH + stamp, UTC),
        checked_at=T0,
    )


RUNNING = Ok(result(State.RUNNING))
QUEUED = Ok(result(State.QUEUED))
DONE = Ok(result(State.SUCCEEDED, url="https://x/v.mp4"))


def make(policy: Policy | None = None, n: int = 1) -> Scheduler:
    sched = Scheduler(
        policy
        or Policy(min_interval=3, max_interval=60, concurrency=8, max_requests_per_second=1000),
        rng=random.Random(1),
        wall_offset=EPOCH,  # clock 0.0 is the moment of the server's stamp 0
    )
    for i in range(n):
        sched.track(f"t{i}", None, now=0.0)
    return sched


def poll(sched: Scheduler, now: float, outcome: Outcome) -> str:
    task = sched.next_task(now)
    assert task is not None
    sched.complete(task, outcome, now)
    return task


def test_new_tasks_are_due_at_once_and_then_wait() -> None:
    sched = make()
    assert poll(sched, 0.0, QUEUED) == "t0"
    assert sched.next_task(0.0) is None
    assert sched.due_at("t0") == pytest.approx(3.0)


@pytest.mark.parametrize(
    "answer",
    [RUNNING, QUEUED, Ok(result(State.UNKNOWN, status="brewing"))],
    ids=["running", "queued", "unknown"],
)
def test_an_idle_budget_checks_every_open_task_every_min_interval(answer: Ok) -> None:
    """Issue 11: two jobs, the default budget (10 req/s, 3 s), nothing learned: each is
    asked every 3 s — also right after its first `running` answer (main waited ~46 s)."""
    sched = make(Policy(), n=2)
    assert poll(sched, 0.0, answer) == "t0"
    due = sched.due_at("t0", 0.0)
    assert due is not None
    assert due <= 3.0
    asked = drive(sched, 60.0, lambda task, now: answer)
    for times in asked.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(gaps) >= 18
        assert all(gap == pytest.approx(3.0) for gap in gaps)  # never sooner, never later


def trained(policy: Policy, n: int = 0) -> Scheduler:
    sched = make(policy, n=n)
    for seconds in [60, 70, 80, 85, 90, 90, 95, 100, 110, 120] * 3:
        sched.durations.observe("", seconds)
    return sched


TIGHT = Policy(min_interval=3, max_interval=60, concurrency=8, max_requests_per_second=2)


def test_a_tight_budget_is_rationed_by_the_square_root_rule() -> None:
    """40 jobs at 2 req/s cannot all be asked every 3 s. Jobs near the end of their usual
    running time (about 90 s) get short intervals, jobs just started and queued ones long
    ones, and the intervals together plan exactly the budget."""
    sched = trained(TIGHT, n=40)
    old = {f"t{i}" for i in range(0, 40, 2)}  # running since stamp 0
    queued = {"t1", "t3", "t5"}
    sent: dict[str, float] = {}

    def answer(task: str, now: float) -> Outcome:
        if task in queued:
            return QUEUED
        return Ok(result(State.RUNNING, stamp=0 if task in old else max(now - 5, 0)))

    now = 70.0
    while len(sent) < 40:
        task = sched.next_task(now)
        if task is None:
            now = sched.next_wakeup(now) or now + 0.01
            continue
        sent[task] = now
        sched.complete(task, answer(task, now), now)
    interval = {}
    later = now + 2.0  # the plan has caught up with the last answers
    for task, at in sent.items():
        due = sched.due_at(task, later)
        assert due is not None
        interval[task] = due - at
    assert all(3 <= i <= 60 for i in interval.values())
    assert sum(1 / i for i in interval.values()) == pytest.approx(2.0, rel=0.01)  # fills it
    young = [interval[t] for t in sent if t not in old and t not in queued]
    late = [interval[t] for t in old]
    assert max(late) * 2 < min(young)  # the square root of a much higher hazard
    assert min(interval[t] for t in queued) >= max(late)


def test_a_check_planned_far_out_moves_in_when_the_budget_frees_up() -> None:
    """60 running jobs at 1 req/s: each is asked about once a minute. When all but two
    finish, the next check of a survivor moves in to min_interval after its last; when 60
    new jobs arrive it moves out again."""
    policy = Policy(min_interval=3, max_interval=60, concurrency=8, max_requests_per_second=1)
    sched = make(policy, n=60)
    asked = drive(sched, 61.0, lambda task, now: Ok(result(State.RUNNING, stamp=0)))
    last = max(asked, key=lambda task: asked[task][-1])
    sent = asked[last][-1]
    due = sched.due_at(last, sent)
    assert due is not None
    assert due - sent > 45  # the budget is rationed: about once a minute
    now = sent + 1.0
    for task in asked:
        if task not in (last, "t0"):
            sched.forget(task)
    assert sched.due_at(last, now) == pytest.approx(sent + 3.0)  # budget freed: re-planned
    wake = sched.next_wakeup(now)
    assert wake is not None
    assert wake <= sent + 3.0
    for i in range(60):
        sched.track(f"new{i}", None, now)
    moved = sched.due_at(last, now + 0.5)
    assert moved is not None
    assert moved > sent + 20  # the budget is exhausted again: it waits its turn


def test_new_tasks_are_asked_at_once_only_while_the_budget_allows() -> None:
    sched = make(TIGHT, n=1)
    assert sched.due_at("t0", 0.0) == 0.0  # ample: at once
    for i in range(1, 40):
        sched.track(f"t{i}", None, 0.0)
    due = sched.due_at("t39", 0.0)
    assert due is not None
    assert due > 3.0  # rationed: in its turn, as if asked when it was added


START_UP = [(1_000, 25.0), (1_000, 50.0), (600, 5.0)]


@pytest.mark.parametrize(("count", "rate"), START_UP, ids=lambda v: str(v))
@pytest.mark.parametrize("known", [False, True], ids=["never-checked", "checked-last-run"])
def test_at_start_up_every_task_is_asked_once_within_n_over_rate(
    count: int, rate: float, known: bool
) -> None:
    """The dashboard starting on N unfinished tasks with a rationed budget (a few requests
    a second; on main some waited 35-60 s past N / rate while others were asked every
    3 s): each is asked once within N / rate, in list order, none twice before all once;
    and tasks in identical states then get the same interval."""
    policy = Policy(min_interval=3, max_interval=60, concurrency=8, max_requests_per_second=rate)
    sched = make(policy)
    ids = [f"t{i}" for i in range(count)]
    for task_id in ids:  # as the Session tracks a loaded list: all at once, before polling
        sched.track(task_id, QUEUED.result if known else None, now=0.0)
    asked = drive(sched, 3 * count / rate + 5.0, lambda task, now: QUEUED)
    assert_first_round_fair(asked, ids, 0.0, rate)
    assert_even_intervals(asked, ids)


def test_idle_budget_is_lent_to_the_earliest_check_never_before_min_interval() -> None:
    """When a re-plan moves every check out, the budget is still spent: on the earliest
    planned check, but never on a task asked less than min_interval ago."""
    sched = make(TIGHT, n=40)
    asked = drive(sched, 30.0, lambda task, now: RUNNING)
    now = max(times[-1] for times in asked.values())
    for i in range(200):  # many new tasks: the plan scales up, checks move out
        sched.track(f"n{i}", None, now)
    later = now + 1.0
    first = min(asked, key=lambda task: sched.due_at(task, later) or math.inf)
    due = sched.due_at(first, later)
    assert due is not None
    assert due > later + 5
    lent = sched.next_task(later)
    assert lent is not None
    assert later - max(asked.get(lent, [-math.inf])) >= 3.0


def test_a_server_stamp_in_our_future_counts_as_now() -> None:
    sched = make()
    poll(sched, 10.0, Ok(result(State.RUNNING, stamp=3600)))  # the server's clock is ahead
    eta = sched.eta("t0", 10.0)
    assert eta is not None
    assert eta.running_for == 0.0  # treated as just started, not as running for -1 h


def test_running_times_are_learned_from_the_servers_stamps() -> None:
    sched = make()
    poll(sched, 1.0, Ok(result(State.RUNNING, stamp=0.5)))
    poll(sched, 41.0, Ok(result(State.SUCCEEDED, url="https://v", stamp=40.5)))
    assert sched.durations.samples == 1
    assert abs(sched.durations.quantile(0.5) - 40.0) < 0.01  # type: ignore[operator]


def test_jobs_still_running_correct_what_the_first_finished_ones_teach() -> None:
    """The first jobs to finish are the short ones; the scheduler tells the duration
    model how long the others have been running, so it does not conclude all jobs are short."""
    sched = make(n=0)
    for seconds in [30, 32, 35, 38, 40] * 2:
        sched.durations.observe("", seconds)
    biased = sched.durations.remaining("", 0.0)
    for i in range(30):
        sched.track(f"t{i}", Ok(result(State.RUNNING, stamp=0)).result, 120.0)
    sched.next_wakeup(120.0)  # the census happens as the scheduler plans
    assert sched.durations.remaining("", 0.0) > 2 * biased


def test_check_by_asks_every_unfinished_task_once_more_before_the_deadline() -> None:
    """`wait --timeout 20`: checks planned for later than the deadline are brought
    forward so the answers are in before it; finished tasks are left alone."""
    policy = Policy(min_interval=30, max_interval=60, concurrency=8, max_requests_per_second=10)
    sched = make(policy, n=3)
    poll(sched, 0.0, RUNNING)
    poll(sched, 0.1, RUNNING)
    poll(sched, 0.2, DONE)
    sched.check_by(20.0, now=1.0)
    sweep = 20.0 - 2 / 10 - 1.0  # two open tasks at 10 req/s, and a second for the answers
    assert sched.due_at("t0", 1.0) == pytest.approx(sweep)
    assert sched.next_wakeup(1.0) == pytest.approx(sweep)
    assert sched.next_task(sweep - 0.01) is None
    got = {sched.next_task(sweep), sched.next_task(sweep + 0.1), sched.next_task(sweep + 0.2)}
    assert got == {"t0", "t1", None}
    sched.complete("t0", RUNNING, sweep + 0.3)
    assert sched.due_at("t0", sweep + 0.3) == pytest.approx(sweep + 30)  # back to the plan
    assert sched.due_at("t2") is None


def test_finished_tasks_are_not_polled_again_unless_asked() -> None:
    sched = make()
    poll(sched, 0.0, DONE)
    assert sched.due_at("t0") is None
    assert sched.next_wakeup(0.0) is None
    assert sched.next_task(10_000.0) is None
    assert sched.refresh("t0", 20.0)
    assert poll(sched, 20.0, DONE) == "t0"
    assert sched.next_task(30_000.0) is None


def test_tracking_a_known_final_result_never_polls() -> None:
    sched = make(n=0)
    sched.track("done", DONE.result, now=0.0)
    sched.track("failed", result(State.FAILED), now=0.0)
    assert sched.next_task(100.0) is None
    assert sched.pending() == 0


def test_succeeded_without_url_is_rechecked_slowly_then_left() -> None:
    sched = make()
    anomaly = Ok(result(State.SUCCEEDED))
    now = 0.0
    for _ in range(SUCCESS_NO_URL_LIMIT):
        poll(sched, now, anomaly)
        due = sched.due_at("t0")
        assert due is not None
        assert due - now >= 60 * 0.8
        now = due
    poll(sched, now, anomaly)
    assert sched.due_at("t0") is None


def test_budget_limits_requests_per_second() -> None:
    sched = make(
        Policy(min_interval=0.01, max_interval=0.02, concurrency=1000, max_requests_per_second=5),
        n=200,
    )
    handed = 0
    now = 0.0
    while now < 10.0:
        while (task := sched.next_task(now)) is not None:
            handed += 1
            sched.complete(task, RUNNING, now)
        now += 0.01
    assert 45 <= handed <= 51  # 5/s for 10 s (+1 burst)


def test_concurrency_cap_and_one_request_per_task() -> None:
    sched = make(Policy(concurrency=3, max_requests_per_second=1000), n=10)
    out = [sched.next_task(i * 0.01) for i in range(5)]
    assert out[:3] == ["t0", "t1", "t2"]
    assert out[3:] == [None, None]
    assert sched.in_flight == 3
    assert sched.is_in_flight("t0")
    assert not sched.refresh("t0", 0.1)
    sched.complete("t0", RUNNING, 0.1)
    assert sched.next_task(0.1) == "t3"


def test_retry_after_holds_every_task() -> None:
    sched = make(n=5)
    poll(sched, 0.0, RateLimited(retry_after=30.0))
    assert sched.hold_until == 30.0
    assert sched.next_task(29.9) is None
    assert sched.next_wakeup(1.0) == 30.0
    assert sched.next_task(30.0) is not None


@pytest.mark.parametrize("retry_after", [0.0, 0.2])
def test_a_retry_after_of_now_does_not_turn_off_backoff(retry_after: float) -> None:
    sched = make(n=5)
    now = 0.0
    sent = 0
    while now < 10.0:
        task = sched.next_task(now)
        if task is not None:
            sent += 1
            sched.complete(task, RateLimited(retry_after), now)
        now = max(sched.next_wakeup(now) or now + 0.01, now + 0.001)
    assert sent <= 8  # 429 after 429 with "come back now": it slows down anyway
    assert sched.hold_until - now < 60


def test_429_without_retry_after_backs_off_growing() -> None:
    sched = make(n=5)
    holds = []
    now = 0.0
    for _ in range(6):
        task = sched.next_task(now)
        assert task is not None
        sched.complete(task, RateLimited(None), now)
        holds.append(sched.hold_until - now)
        now = sched.hold_until
    assert all(h >= 1.5 for h in holds)  # never a hot loop
    assert max(holds) <= 60


@pytest.mark.parametrize("error", [ServerError(502), BadResponse("junk"), NetworkError("reset")])
def test_errors_back_off_with_full_jitter(error: Outcome) -> None:
    delays = []
    for seed in range(30):
        sched = Scheduler(Policy(), rng=random.Random(seed))
        sched.track("t", None, 0.0)
        now = 0.0
        for _ in range(5):
            poll(sched, now, error)
            due = sched.due_at("t")
            assert due is not None
            now = due
        delays.append(now)
    assert len({round(d, 3) for d in delays}) > 20  # jittered
    assert all(d >= 5 * 1.5 for d in delays)  # at least half the minimum each time


def test_auth_rejection_pauses_all_until_resumed() -> None:
    sched = make(n=3)
    poll(sched, 0.0, AuthRejected(401))
    assert sched.blocked
    assert sched.next_task(1000.0) is None
    assert sched.next_wakeup(1000.0) is None
    sched.resume(1000.0)
    assert not sched.blocked
    assert sched.next_task(1000.0) is not None


def test_pause_and_resume() -> None:
    sched = make()
    sched.pause()
    assert sched.next_task(0.0) is None
    sched.resume(0.0)
    assert sched.next_task(0.0) == "t0"


def test_not_found_is_confirmed_at_the_polling_floor_then_marked() -> None:
    sched = make()
    now = 0.0
    for _ in range(1, NOT_FOUND_LIMIT):
        poll(sched, now, NotFound(404))
        due = sched.due_at("t0")
        assert due is not None
        assert due - now == pytest.approx(3.0)  # min_interval: `wait` ends in seconds
        now = due
    poll(sched, now, NotFound(404))
    assert sched.gave_up("t0")
    assert sched.due_at("t0") is None
    assert sched.refresh("t0", now)
    assert not sched.gave_up("t0")


def test_a_task_the_server_knew_survives_flaky_404s() -> None:
    sched = make()
    now = 0.0
    poll(sched, now, Ok(result(State.RUNNING)))
    for _ in range(KNOWN_NOT_FOUND_LIMIT - 1):
        now = sched.due_at("t0") or now
        poll(sched, now, NotFound(404))
        assert not sched.gave_up("t0")
        due = sched.due_at("t0")
        assert due is not None
        assert due - now <= 60  # retried like an error, not every few minutes
    now = sched.due_at("t0") or now
    poll(sched, now, Ok(result(State.RUNNING)))  # it was a blip
    for _ in range(KNOWN_NOT_FOUND_LIMIT):
        now = sched.due_at("t0") or now
        poll(sched, now, NotFound(404))
    assert sched.gave_up("t0")  # ten in a row: really gone


def test_poll_after_hint_is_honoured() -> None:
    sched = make()
    poll(sched, 0.0, Ok(result(State.RUNNING), poll_after=20.0))
    due = sched.due_at("t0")
    assert due is not None
    assert due >= 20.0


def test_forget_while_in_flight_frees_the_slot() -> None:
    sched = make(Policy(concurrency=1), n=2)
    assert sched.next_task(0.0) == "t0"
    sched.forget("t0")
    assert sched.in_flight == 0
    assert "t0" not in sched
    sched.complete("t0", RUNNING, 0.0)  # a late answer is ignored
    assert sched.next_task(0.0) is None  # the budget: one request per 0.1 s
    assert sched.next_task(0.1) == "t1"


def test_earliest_due_goes_first() -> None:
    sched = make(n=0)
    sched.track("late", None, 0.0, delay=5.0)
    sched.track("early", None, 0.0, delay=1.0)
    assert sched.next_task(0.5) is None
    assert sched.next_wakeup(0.0) == 1.0
    assert sched.next_task(10.0) == "early"


def test_budget_paces_even_at_one_instant() -> None:
    sched = make(Policy(max_requests_per_second=10), n=5)
    assert sched.next_task(0.0) == "t0"
    assert sched.next_task(0.0) is None
    assert sched.next_wakeup(0.0) == pytest.approx(0.1)


def test_rate_limiter_wait_time() -> None:
    limiter = RateLimiter(rate=2.0, now=0.0)
    assert limiter.try_acquire(0.0)
    assert not limiter.try_acquire(0.0)
    assert limiter.wait_time(0.0) == pytest.approx(0.5)
    assert limiter.try_acquire(0.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_interval": 0},
        {"min_interval": 10, "max_interval": 5},
        {"concurrency": 0},
        {"max_requests_per_second": 0},
        {"min_interval": float("nan")},
    ],
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        Policy(**kwargs)  # type: ignore[arg-type]
