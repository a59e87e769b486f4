"""The scheduler on a simulated clock: no sleeps, no network."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from vidwatch.core.models import State, TaskResult
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
from vidwatch.core.scheduler import (
    HIT_START,
    KNOWN_NOT_FOUND_LIMIT,
    NOT_FOUND_LIMIT,
    SUCCESS_NO_URL_LIMIT,
    Policy,
    RateLimiter,
    Scheduler,
)

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
    due = sched.due_at("t0")
    assert due is not None
    assert 3 * 0.8 <= due <= 3 * 1.2


def test_interval_grows_while_unchanged_and_resets_on_change() -> None:
    sched = make()
    now = 0.0
    intervals = []
    for _ in range(12):
        poll(sched, now, QUEUED)
        due = sched.due_at("t0")
        assert due is not None
        intervals.append(due - now)
        now = due
    assert intervals[3] > intervals[0] * 2  # growing
    assert max(intervals) <= 60 * 1.2  # capped (plus jitter)
    assert intervals[-1] >= 60 * 0.8
    poll(sched, now, Ok(result(State.QUEUED, stamp=99)))  # the server says it changed
    due = sched.due_at("t0")
    assert due is not None
    assert due - now <= 3 * 1.2


def next_delay(sched: Scheduler, now: float, outcome: Outcome) -> float:
    poll(sched, now, outcome)
    due = sched.due_at("t0")
    assert due is not None
    return due - now


def test_a_running_job_is_polled_where_jobs_like_it_finish() -> None:
    """Learned: jobs run about 90 s. A job 5 s into its run waits long; one at 85 s, briefly."""

    def trained() -> Scheduler:
        sched = make()
        for seconds in [60, 70, 80, 85, 90, 90, 95, 100, 110, 120] * 3:
            sched.durations.observe("", seconds)
        return sched

    early = next_delay(trained(), 5.0, RUNNING)  # started at stamp 0: 5 s in
    late = next_delay(trained(), 85.0, RUNNING)
    assert early > 30
    assert late < early / 4
    assert late >= 3 * 0.9  # never below min_interval (jitter aside)


def test_running_times_are_learned_from_the_servers_stamps() -> None:
    sched = make()
    poll(sched, 1.0, Ok(result(State.RUNNING, stamp=0.5)))
    now = sched.due_at("t0") or 0.0
    poll(sched, now, Ok(result(State.SUCCEEDED, url="https://v", stamp=40.5)))
    assert sched.durations.samples == 1
    assert abs(sched.durations.quantile(0.5) - 40.0) < 0.01  # type: ignore[operator]


def test_a_server_stamp_in_our_future_counts_as_now() -> None:
    sched = make()
    poll(sched, 10.0, Ok(result(State.RUNNING, stamp=3600)))  # the server's clock is ahead
    due = sched.due_at("t0")
    assert due is not None
    assert due - 10.0 >= 20  # treated as just started, not as running for -1 h


def test_the_hit_probability_follows_the_budget() -> None:
    tight = make(Policy(min_interval=3, max_interval=60, max_requests_per_second=1), n=50)
    now = 0.0
    while now < 300:
        task = tight.next_task(now)
        if task is not None:
            tight.complete(task, RUNNING, now)
        now += 0.1
    assert tight.hit_probability > HIT_START  # tasks wait for the budget: ask later

    roomy = make(Policy(min_interval=3, max_interval=60, max_requests_per_second=100), n=5)
    now = 0.0
    while now < 300:
        task = roomy.next_task(now)
        if task is not None:
            roomy.complete(task, RUNNING, now)
        now = roomy.next_wakeup(now) or now + 0.1
    assert roomy.hit_probability < 0.1  # the budget has room: ask sooner


def test_jitter_spreads_tasks_apart() -> None:
    sched = make(n=50)
    for i in range(50):
        poll(sched, i * 0.002, RUNNING)
    dues = {round(sched.due_at(f"t{i}") or 0, 5) for i in range(50)}
    assert len(dues) > 40


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


def test_unknown_status_is_polled_more_slowly() -> None:
    sched = make()
    poll(sched, 0.0, Ok(result(State.UNKNOWN, status="brewing")))
    due = sched.due_at("t0")
    assert due is not None
    assert due >= 12 * 0.8


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


def test_not_found_is_retried_rarely_then_marked() -> None:
    sched = make()
    now = 0.0
    for attempt in range(1, NOT_FOUND_LIMIT):
        poll(sched, now, NotFound(404))
        due = sched.due_at("t0")
        assert due is not None
        assert due - now >= 60 * attempt
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
