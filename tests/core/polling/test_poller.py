"""The asyncio poller with a scripted client (real loop, tiny intervals)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta

import pytest
from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    NetworkError,
    NotFound,
    Ok,
    Outcome,
    RateLimited,
)
from vidwatch.core.gateway.wording import describe
from vidwatch.core.model.records import Problem, State, Task, TaskRecord, TaskResult, utcnow
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.events import PollerEvent, StatusChange, TaskUpdate
from vidwatch.core.polling.poller import Poller
from vidwatch.core.polling.results import apply_outcome
from vidwatch.core.polling.scheduler import NOT_FOUND_LIMIT

from tests.support.keeper import Keeper, polled
from tests.support.waits import DEADLINE, eventually

FAST = Policy(min_interval=0.01, max_interval=0.05, concurrency=4, max_requests_per_second=1000)


def rec(task_id: str) -> TaskRecord:
    return TaskRecord(Task(task_id, utcnow()))


def ok(state: State, url: str | None = None) -> Ok:
    return Ok(TaskResult(state=state, status=state.value, video_url=url, checked_at=utcnow()))


class Scripted:
    """Answers each task from a script; the last answer repeats."""

    def __init__(self, script: dict[str, list[Outcome]], delay: float = 0.0) -> None:
        self.script = {k: deque(v) for k, v in script.items()}
        self.calls: dict[str, int] = defaultdict(int)
        self.active: dict[str, int] = defaultdict(int)
        self.max_parallel_per_task = 0
        self.max_parallel = 0
        self.delay = delay
        self.key: str | None = "k"

    def set_key(self, key: str | None) -> None:
        self.key = key

    async def query(self, task_id: str) -> Outcome:
        self.calls[task_id] += 1
        self.active[task_id] += 1
        self.max_parallel_per_task = max(self.max_parallel_per_task, self.active[task_id])
        self.max_parallel = max(self.max_parallel, sum(self.active.values()))
        try:
            await asyncio.sleep(self.delay)
            queue = self.script[task_id]
            return queue.popleft() if len(queue) > 1 else queue[0]
        finally:
            self.active[task_id] -= 1


async def run_until(poller: Poller, cond: object, timeout: float = DEADLINE) -> None:
    assert callable(cond)
    await asyncio.wait_for(poller.run(until=cond), timeout)
    await poller.aclose()


async def test_tasks_go_to_done_and_listeners_see_each_change() -> None:
    client = Scripted(
        {
            "a": [ok(State.QUEUED), ok(State.RUNNING), ok(State.SUCCEEDED, "https://v/a.mp4")],
            "b": [ok(State.RUNNING), ok(State.FAILED)],
        }
    )
    poller = polled(client, FAST, {"a": rec("a"), "b": rec("b")})
    events: list[PollerEvent] = []
    poller.subscribe(events.append)
    await run_until(poller, lambda: all(r.result.final for r in poller.records.values()))
    assert poller.records["a"].result.video_url == "https://v/a.mp4"
    assert poller.records["b"].result.state is State.FAILED
    changes = [
        e.record.result.state
        for e in events
        if isinstance(e, TaskUpdate) and e.record.id == "a" and e.state_changed
    ]
    assert changes == [State.QUEUED, State.RUNNING, State.SUCCEEDED]
    # finished tasks are left alone
    calls = dict(client.calls)
    poller2_run = asyncio.create_task(poller.run())
    await asyncio.sleep(0.1)  # a window in which nothing may be asked
    poller.stop()
    await poller2_run
    assert dict(client.calls) == calls


async def test_never_two_requests_for_one_task_and_concurrency_capped() -> None:
    script: dict[str, list[Outcome]] = {f"t{i}": [ok(State.RUNNING)] for i in range(20)}
    client = Scripted(script, delay=0.02)
    policy = Policy(
        min_interval=0.001, max_interval=0.002, concurrency=3, max_requests_per_second=1000
    )
    poller = polled(client, policy, {k: rec(k) for k in script})
    task = asyncio.create_task(poller.run())
    await eventually(lambda: sum(client.calls.values()) > 60)  # each task about 3 times
    poller.stop()
    await task
    await poller.aclose()
    assert client.max_parallel_per_task == 1
    assert client.max_parallel <= 3
    assert sum(client.calls.values()) > 60


async def test_refresh_polls_a_finished_task_again() -> None:
    client = Scripted({"a": [ok(State.SUCCEEDED, "https://v/a.mp4")]})
    poller = polled(client, FAST, {"a": rec("a")})
    await run_until(poller, lambda: poller.records["a"].result.final)
    assert client.calls["a"] == 1
    assert poller.refresh("a")
    await run_until(poller, lambda: client.calls["a"] == 2)
    assert client.calls["a"] == 2


async def test_auth_rejection_blocks_until_new_key() -> None:
    client = Scripted({"a": [AuthRejected(401), ok(State.RUNNING)]})
    poller = polled(client, FAST, {"a": rec("a")})
    statuses: list[StatusChange] = []
    poller.subscribe(lambda e: statuses.append(e) if isinstance(e, StatusChange) else None)
    await run_until(poller, lambda: poller.status.auth_error is not None)
    assert poller.status.label == "key rejected"
    assert "rejected" in (poller.records["a"].result.error or "")
    runner = asyncio.create_task(poller.run())
    await asyncio.sleep(0.1)  # a window in which nothing may be asked
    assert client.calls["a"] == 1  # nothing while rejected
    poller.set_key("new")
    await eventually(lambda: client.calls["a"] >= 2)
    poller.stop()
    await runner
    assert client.key == "new"
    assert client.calls["a"] >= 2
    assert poller.status.auth_error is None
    assert any(s.status.auth_error for s in statuses)


async def test_rate_limit_is_visible_in_status() -> None:
    client = Scripted({"a": [RateLimited(30.0)]})
    poller = polled(client, FAST, {"a": rec("a")})
    await run_until(poller, lambda: client.calls["a"] >= 1 and not poller.is_polling("a"))
    assert poller.status.hold_until is not None
    assert poller.status.label.startswith("rate limited until")


async def test_errors_keep_what_was_known() -> None:
    good = ok(State.RUNNING)
    client = Scripted({"a": [good, NetworkError("reset")]})
    poller = polled(client, FAST, {"a": rec("a")})
    await run_until(poller, lambda: client.calls["a"] >= 2 and not poller.is_polling("a"))
    result = poller.records["a"].result
    assert result.state is State.RUNNING
    assert result.error
    assert "reset" in result.error


async def test_poll_pass_polls_each_unfinished_task_once() -> None:
    client = Scripted({"a": [ok(State.RUNNING)], "b": [ok(State.QUEUED)]})
    done = TaskRecord(Task("c", utcnow()), ok(State.SUCCEEDED, "https://v/c").result)
    poller = polled(client, FAST, {"a": rec("a"), "b": rec("b"), "c": done})
    updates = await poller.poll_pass()
    assert sorted(u.record.id for u in updates) == ["a", "b"]
    assert client.calls["c"] == 0
    assert client.calls["a"] == 1
    only = await poller.poll_pass(["c"])
    assert [u.record.id for u in only] == ["c"]


async def test_poll_pass_stops_on_rejected_key() -> None:
    client = Scripted({f"t{i}": [AuthRejected(401)] for i in range(5)})
    poller = polled(
        client,
        Policy(concurrency=1, max_requests_per_second=1000),
        {f"t{i}": rec(f"t{i}") for i in range(5)},
    )
    updates = await asyncio.wait_for(poller.poll_pass(), DEADLINE)
    assert len(updates) == 1
    assert poller.status.auth_error


async def test_removed_while_in_flight_is_dropped() -> None:
    client = Scripted({"a": [ok(State.RUNNING)]}, delay=0.05)
    poller = Poller(client, FAST)
    keeper = Keeper(poller, {"a": rec("a")})
    runner = asyncio.create_task(poller.run())
    await eventually(lambda: client.active["a"] == 1)  # in flight
    keeper.remove(["a"])
    await eventually(lambda: client.active["a"] == 0 and not poller.is_polling("a"))
    poller.stop()
    await runner
    assert "a" not in poller.records


async def test_a_broken_listener_does_not_stop_polling() -> None:
    client = Scripted({"a": [ok(State.SUCCEEDED, "https://v/a")]})
    poller = polled(client, FAST, {"a": rec("a")})

    def broken(event: PollerEvent) -> None:
        raise RuntimeError("boom")

    poller.subscribe(broken)
    await run_until(poller, lambda: poller.records["a"].result.final)
    assert poller.records["a"].result.final


def test_apply_outcome_not_found_gave_up_says_so() -> None:
    prev = TaskResult(
        state=State.RUNNING, status="processing", checked_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    now = datetime(2026, 1, 2, tzinfo=UTC)
    result = apply_outcome(prev, NotFound(404), now, gave_up=True)
    assert result.state is State.RUNNING
    assert result.checked_at == now
    assert result.error
    assert result.error.endswith(f"(gave up after {NOT_FOUND_LIMIT} tries)")
    assert result.problem is Problem.NOT_FOUND


@pytest.mark.parametrize(
    ("outcome", "problem"),
    [
        (AuthRejected(401), Problem.AUTH),
        (RateLimited(3.0), Problem.RATE_LIMITED),
        (NetworkError("refused"), Problem.NETWORK),
        (NetworkError("slow", timeout=True), Problem.TIMEOUT),
    ],
)
def test_apply_outcome_names_the_kind_of_problem(outcome: Outcome, problem: Problem) -> None:
    prev = TaskResult(state=State.QUEUED, status="pending")
    result = apply_outcome(prev, outcome, datetime(2026, 1, 2, tzinfo=UTC))
    assert result.problem is problem
    # Kept as a person would say it (core/gateway/wording.py), the words `vidwatch poll`
    # prints too: never the client's own message, never "will retry".
    assert result.error == describe(outcome)
    ok_again = apply_outcome(result, Ok(TaskResult(State.RUNNING, "processing")), datetime.now(UTC))
    assert ok_again.problem is None


async def test_aclose_keeps_quick_answers_and_cancels_a_hung_request() -> None:
    quick = Scripted({"a": [ok(State.RUNNING)]}, delay=0.05)
    poller = polled(quick, FAST, {"a": rec("a")})
    runner = asyncio.create_task(poller.run())
    await eventually(lambda: quick.active["a"] == 1)  # "a" is in flight
    await poller.aclose(grace=10.0)
    await runner
    assert poller.records["a"].result.state is State.RUNNING  # its answer was kept

    hung = Scripted({"b": [ok(State.RUNNING)]}, delay=3600)
    poller = polled(hung, FAST, {"b": rec("b")})
    runner = asyncio.create_task(poller.run())
    await eventually(lambda: hung.active["b"] == 1)
    await asyncio.wait_for(poller.aclose(grace=0.05), 30)  # quitting never hangs
    await runner
    assert poller.records["b"].result.checked_at is None
    assert not poller.is_polling("b")


async def test_requests_per_minute_falls_while_nothing_is_polled() -> None:
    """The header's req/min must not freeze at its last value once every task is done."""
    offset = [0.0]
    client = Scripted({"a": [ok(State.SUCCEEDED, "https://v/a.mp4")], "b": [ok(State.FAILED)]})
    poller = polled(
        client, FAST, {"a": rec("a"), "b": rec("b")}, clock=lambda: time.monotonic() + offset[0]
    )
    await run_until(poller, lambda: all(r.result.final for r in poller.records.values()))
    assert poller.refresh_status().requests_per_minute == 2
    offset[0] += 61.0  # a quiet minute: no request, so nothing else recounts
    assert poller.status.requests_per_minute == 2  # what was last published
    assert poller.refresh_status().requests_per_minute == 0
    assert poller.status.requests_per_minute == 0


async def test_is_done_and_paused_answer_without_the_scheduler() -> None:
    client = Scripted({"a": [ok(State.SUCCEEDED, "https://v/a.mp4")], "b": [ok(State.RUNNING)]})
    poller = polled(client, FAST, {"a": rec("a"), "b": rec("b")})
    assert not poller.is_done("a")
    await run_until(poller, lambda: poller.is_done("a") and client.calls["b"] >= 1)
    assert not poller.is_done("b")
    assert not poller.is_done("never-added")
    assert not poller.paused
    poller.pause()
    assert poller.paused
    poller.resume()
    assert not poller.paused


class Clocked(Scripted):
    """Answers at once; every request moves a simulated clock on by ``step`` seconds."""

    def __init__(self, script: dict[str, list[Outcome]], now: list[float], step: float) -> None:
        super().__init__(script)
        self.now = now
        self.step = step
        self.order: list[str] = []

    async def query(self, task_id: str) -> Outcome:
        self.now[0] += self.step
        self.order.append(task_id)
        return await super().query(task_id)


async def test_next_check_stays_true_when_the_plan_changes() -> None:
    """The dashboard's NEXT column: 300 running jobs at 10 req/s are asked about every
    30 s or so; when all but two are gone, the next check of a survivor is 3 s after its
    last, and next_check says so at once."""
    now = [0.0]
    ids = [f"t{i}" for i in range(300)]
    client = Clocked({i: [ok(State.RUNNING)] for i in ids}, now, step=0.1)
    policy = Policy(min_interval=3, max_interval=60, concurrency=4, max_requests_per_second=10)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    poller = Poller(
        client, policy, clock=lambda: now[0], wall=lambda: t0 + timedelta(seconds=now[0])
    )
    keeper = Keeper(poller, {i: rec(i) for i in ids})
    await asyncio.wait_for(poller.poll_pass(), 10)
    last = client.order[-1]

    def wait_for_next_check() -> float:
        when = poller.next_check(last)
        assert when is not None
        return (when - poller.wall()).total_seconds()

    assert wait_for_next_check() > 20  # the budget is shared by 300 jobs
    keeper.remove([i for i in ids if i != last][1:])  # two are left
    assert 0 < wait_for_next_check() <= 3.0  # budget freed: re-planned at once


async def test_check_by_asks_once_more_before_the_deadline() -> None:
    """`wait --timeout`: a check planned for after the deadline comes before it instead."""
    offset = [0.0]
    client = Scripted({"a": [ok(State.RUNNING), ok(State.SUCCEEDED, "https://v/a.mp4")]})
    policy = Policy(min_interval=30, max_interval=60, concurrency=4, max_requests_per_second=10)
    poller = polled(client, policy, {"a": rec("a")}, clock=lambda: time.monotonic() + offset[0])
    await asyncio.wait_for(poller.poll_pass(), 5)
    offset[0] += 10.0  # ten seconds later; the next check is still 20 s away
    poller.check_by(poller.clock() + 0.5)
    await run_until(poller, lambda: poller.records["a"].result.final)
    assert client.calls["a"] == 2
