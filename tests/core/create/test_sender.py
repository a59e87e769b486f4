"""The sender: the create budget, retries only of what certainly was not sent, the
journal before every send, the task list after."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from vidwatch.core.create.batch import Batch, parse_batch
from vidwatch.core.create.journal import Manifest, RowState, Verdict
from vidwatch.core.create.ledger import Ledger, keys_of
from vidwatch.core.create.plan import BatchPlan, plan_batch
from vidwatch.core.create.sender import (
    WINDOW,
    CreateBudget,
    Pacer,
    Resumed,
    Sender,
    SendEvent,
    Sent,
    Stopped,
    unlisted_tasks,
)
from vidwatch.core.gateway.create_answer import (
    Created,
    CreateOutcome,
    CreateRateLimited,
    NoAnswer,
    NoChannel,
    Refused,
    SendFate,
    parse_create_response,
)
from vidwatch.core.gateway.outcomes import server_wait
from vidwatch.core.model.records import Task
from vidwatch.core.store.task_file import TaskStore

BUDGET = CreateBudget(30, 2)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class FakeGateway:
    """Answers each body's prompt from a script (a list of outcomes, one per send), and
    checks that the row's intent was durably recorded before the send."""

    def __init__(self, manifest: Manifest, script: Mapping[str, list[CreateOutcome]]) -> None:
        self.manifest = manifest
        self.script = {prompt: list(outcomes) for prompt, outcomes in script.items()}
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.gate: asyncio.Event | None = None

    async def create(self, body: Mapping[str, Any]) -> CreateOutcome:
        # On disk already: an intent with this body, and nothing after it for its row.
        records = [json.loads(line) for line in self.manifest.path.read_bytes().splitlines()]
        intents = [n for n, r in enumerate(records) if r.get("body") == dict(body)]
        assert intents, "sent before its intent was written"
        row = records[intents[-1]]["row"]
        assert not any(r.get("row") == row for r in records[intents[-1] + 1 :])
        self.bodies.append(dict(body))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            outcomes = self.script.get(str(body["prompt"])) or []
            if outcomes:
                return outcomes.pop(0)
            return Created(f"grok:{body['prompt']}-{len(self.bodies)}", "pending", None)
        finally:
            self.in_flight -= 1


def batch_of(*prompts: str, model: str = "grok-video-3") -> Batch:
    lines = [json.dumps({"prompt": p, "label": f"L-{p}", "model": model}) for p in prompts]
    return parse_batch("\n".join(lines).encode(), source="/data/b.jsonl")


class Run:
    def __init__(self, tmp: Path, batch: Batch, script: Mapping[str, list[CreateOutcome]]) -> None:
        self.batch = batch
        self.store = TaskStore(tmp / "tasks.toml")
        self.ledger = Ledger(tmp / "sent", self.store.path)
        self.folder = self.ledger.ready().journals
        self.manifest = self.folder.open(batch.source)
        self.gateway = FakeGateway(self.manifest, script)
        self.clock = Clock()
        self.events: list[SendEvent] = []
        self.added: list[list[Task]] = []

    def add(self, tasks: list[Task]) -> None:
        self.added.append(tasks)
        self.store.add(tasks)

    def sender(self, budget: CreateBudget = BUDGET, **kw: Any) -> Sender:
        pacer = Pacer(budget.per_minute, clock=self.clock, sleep=self.clock.sleep)
        return Sender(
            self.gateway,
            self.manifest,
            budget,
            ledger=self.ledger,
            add_tasks=kw.pop("add_tasks", self.add),
            report=self.events.append,
            pacer=pacer,
            sleep=self.clock.sleep,
            **kw,
        )

    def plan(self) -> BatchPlan:
        keys = keys_of(self.batch.rows)
        return plan_batch(
            self.batch, self.manifest.entries, blocked=self.manifest.blocked, keys=keys
        )

    def go(self, budget: CreateBudget = BUDGET, **kw: Any) -> Any:
        plan = self.plan()
        return asyncio.run(self.sender(budget, **kw).run(plan.steps))

    def state(self, prompt: str) -> RowState:
        row = next(r for r in self.batch.rows if r.request and r.request.prompt == prompt)
        return self.manifest.entries[row.identity].state


def test_the_pacer_allows_per_minute_starts_in_any_window_and_holds_for_the_server() -> None:
    clock = Clock()
    pacer = Pacer(3, clock=clock, sleep=clock.sleep)

    async def starts(n: int) -> list[float]:
        times = []
        for _ in range(n):
            await pacer.turn()
            times.append(clock.now)
        return times

    assert asyncio.run(starts(4)) == [0.0, 0.0, 0.0, WINDOW]
    pacer.hold(7.5)
    begin = clock.now
    assert asyncio.run(starts(3)) == [begin + 7.5, begin + 7.5, WINDOW * 2]


def test_every_row_is_sent_once_journaled_and_listed(tmp_path: Path) -> None:
    run = Run(tmp_path, batch_of("a", "b", "c"), {})
    report = run.go()
    assert [b["prompt"] for b in run.gateway.bodies] == ["a", "b", "c"]
    assert report.sends == 3
    assert all(run.state(p) is RowState.CREATED for p in "abc")
    listed = run.store.load().records
    assert {r.task.label for r in listed.values()} == {"L-a", "L-b", "L-c"}
    assert {r.task.request.prompt for r in listed.values() if r.task.request} == {"a", "b", "c"}
    assert all(entry.listed for entry in run.manifest.entries.values())


def test_not_sent_is_retried_with_backoff_and_a_lost_answer_never(tmp_path: Path) -> None:
    refused = NoAnswer(SendFate.NOT_SENT, "ConnectError: refused")
    lost = NoAnswer(SendFate.UNCERTAIN, "ServerDisconnectedError")
    run = Run(tmp_path, batch_of("a", "b"), {"a": [refused, refused], "b": [lost]})
    run.go(CreateBudget(30, 1))
    assert [b["prompt"] for b in run.gateway.bodies] == ["a", "a", "a", "b"]
    assert run.clock.slept == [1.0, 2.0]  # backoff doubles
    assert run.state("a") is RowState.CREATED
    assert run.state("b") is RowState.UNCERTAIN
    finals = [e for e in run.events if isinstance(e, Sent) and e.final]
    assert len(finals) == 2


def test_a_row_that_never_connects_stays_not_sent_after_its_attempts(tmp_path: Path) -> None:
    refused = NoAnswer(SendFate.NOT_SENT, "ConnectError: refused")
    run = Run(tmp_path, batch_of("a"), {"a": [refused] * 9})
    run.go(attempts=3)
    assert len(run.gateway.bodies) == 3
    assert run.state("a") is RowState.NOT_SENT  # sent again on the next run


def test_429_is_honoured_by_every_create(tmp_path: Path) -> None:
    busy = CreateRateLimited(12.0, "upstream saturated", "too_many_running")
    run = Run(tmp_path, batch_of("a", "b"), {"a": [busy]})
    run.go(CreateBudget(30, 1))
    assert [b["prompt"] for b in run.gateway.bodies] == ["a", "a", "b"]
    assert run.clock.slept[0] == 12.0  # the server's Retry-After, not our backoff
    assert run.clock.now >= 12.0


def test_an_account_refusal_stops_the_batch_and_no_channel_stops_the_model(
    tmp_path: Path,
) -> None:
    broke = Refused(403, "quota_not_enough", "user quota is not enough")
    run = Run(tmp_path, batch_of("a", "b", "c"), {"b": [broke]})
    report = run.go(CreateBudget(30, 1))
    assert [b["prompt"] for b in run.gateway.bodies] == ["a", "b"]
    assert run.state("b") is RowState.NOT_SENT
    assert "quota_not_enough" in (report.stopped or "")
    assert [
        e.row.request.prompt for e in run.events if isinstance(e, Stopped) and e.row.request
    ] == ["c"]

    lines = [
        json.dumps({"prompt": p, "model": m})
        for p, m in (("x", "veo9"), ("y", "grok-video-3"), ("z", "veo9"))
    ]
    mixed = parse_batch("\n".join(lines).encode(), source="/data/m.jsonl")
    run = Run(tmp_path / "2", mixed, {"x": [NoChannel("veo9", "no channel for veo9")]})
    report = run.go(CreateBudget(30, 1))
    assert [b["prompt"] for b in run.gateway.bodies] == ["x", "y"]
    assert report.stopped is None
    assert "no channel" in report.stopped_rows[mixed.rows[2].identity]


def test_at_most_concurrency_creates_wait_for_an_answer(tmp_path: Path) -> None:
    run = Run(tmp_path, batch_of(*"abcdefg"), {})

    async def go() -> None:
        run.gateway.gate = asyncio.Event()
        plan = plan_batch(run.batch, run.manifest.entries)
        task = asyncio.create_task(run.sender(CreateBudget(30, 3)).run(plan.steps))
        for _ in range(50):
            await asyncio.sleep(0)
        assert run.gateway.in_flight == 3
        run.gateway.gate.set()
        await task

    asyncio.run(go())
    assert run.gateway.most_in_flight == 3
    assert len(run.gateway.bodies) == 7


def test_a_send_cut_short_is_recorded_uncertain(tmp_path: Path) -> None:
    run = Run(tmp_path, batch_of("a"), {})

    async def go() -> None:
        run.gateway.gate = asyncio.Event()  # never set: the answer never comes
        task = asyncio.create_task(run.sender().run(run.plan().steps))
        while not run.gateway.in_flight:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert run.state("a") is RowState.UNCERTAIN
    reread = Manifest.read(run.manifest.path)
    assert next(iter(reread.entries.values())).state is RowState.UNCERTAIN


def test_a_task_list_that_cannot_be_written_stops_the_batch_and_keeps_the_ids(
    tmp_path: Path,
) -> None:
    run = Run(tmp_path, batch_of("a", "b"), {})

    def broken(tasks: list[Task]) -> None:
        raise OSError(28, "No space left on device")

    report = run.go(CreateBudget(30, 1), add_tasks=broken)
    assert report.list_errors
    assert "cannot be written" in (report.stopped or "")
    assert run.state("a") is RowState.CREATED
    assert len(run.gateway.bodies) <= 2
    pending = unlisted_tasks(run.manifest, run.batch.rows)  # the next run lists them
    created = {e.task_id for e in run.manifest.entries.values() if e.state is RowState.CREATED}
    assert {task.id for _, task in pending} == created
    assert all(task.request is not None for _, task in pending)


def test_jobs_never_listed_are_found_again(tmp_path: Path) -> None:
    run = Run(tmp_path, batch_of("a", "b"), {})
    for n, row in enumerate(run.batch.rows):  # killed after the answers, before the list
        run.manifest.record_intent(row)
        run.manifest.record_verdict(row.identity, Verdict(RowState.CREATED, task_id=f"grok:{n}"))
    run.manifest.close()
    manifest = Manifest.read(run.manifest.path)
    found = unlisted_tasks(manifest, run.batch.rows)
    assert sorted(task.label for _, task in found) == ["L-a", "L-b"]
    assert sorted(task.id for _, task in found) == sorted(
        e.task_id for e in manifest.entries.values() if e.task_id
    )
    gone = unlisted_tasks(manifest, [])  # the rows were removed from the file since
    assert sorted(task.label for _, task in gone) == ["L-a", "L-b"]
    assert all(task.request is None for _, task in gone)


def test_marked_done_with_the_job_found_is_listed(tmp_path: Path) -> None:
    run = Run(tmp_path, batch_of("a"), {"a": [NoAnswer(SendFate.UNCERTAIN, "lost")]})
    run.go()
    row_id = run.batch.rows[0].identity
    run.manifest.mark_done(row_id, "grok:found-in-console")
    found = unlisted_tasks(run.manifest, run.batch.rows)
    assert [(r, t.id, t.label) for r, t in found] == [(row_id, "grok:found-in-console", "L-a")]
    asyncio.run(run.sender().run([], found))
    assert "grok:found-in-console" in run.store.load().records
    assert unlisted_tasks(run.manifest, run.batch.rows) == []


@pytest.mark.parametrize("retry_after", ["0", "-5", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_a_retry_after_that_says_now_backs_off_as_polling_does(
    tmp_path: Path, retry_after: str
) -> None:
    """A Retry-After of 0, negative or in the past gave four back-to-back sends: now the
    backoff grows, and with every 429 in a row (across rows), as polling's does."""
    busy = parse_create_response(429, {"retry-after": retry_after}, b"")
    assert isinstance(busy, CreateRateLimited)
    assert busy.retry_after == 0.0  # parse_retry_after clamps "now" and the past to 0
    run = Run(tmp_path, batch_of("a", "b"), {"a": [busy] * 4, "b": [busy]})
    run.go(CreateBudget(30, 1))
    assert [b["prompt"] for b in run.gateway.bodies] == ["a"] * 4 + ["b", "b"]
    assert run.clock.slept == [1.0, 2.0, 4.0, 16.0]  # b: the fifth 429 in a row
    assert run.state("a") is RowState.NOT_SENT
    assert run.state("b") is RowState.CREATED
    waits = [e.delay for e in run.events if isinstance(e, Sent) and not e.final]
    assert waits == run.clock.slept
    resumed = [e.waited for e in run.events if isinstance(e, Resumed)]
    assert resumed == run.clock.slept


def test_the_one_rule_for_a_servers_wait() -> None:
    assert server_wait(3600.0, 2.0) == 3600.0  # obeyed to the letter
    assert server_wait(0.0, 2.0) == 2.0  # "now": the backoff
    assert server_wait(0.5, 2.0) == 2.0
    assert server_wait(None, 8.0) == 8.0


def test_no_send_starts_after_a_stop_even_if_the_client_swallowed_it(tmp_path: Path) -> None:
    """A client library that turns the cancellation (Ctrl-C) into an error outcome must not
    make the loop go on to pay for the next row."""
    run = Run(tmp_path, batch_of("a", "b", "c"), {})
    entered = asyncio.Event()

    class Swallowing(FakeGateway):
        async def create(self, body: Mapping[str, Any]) -> CreateOutcome:
            if body["prompt"] != "b":
                return await super().create(body)
            self.bodies.append(dict(body))
            entered.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:  # swallowed: an error outcome instead
                return NoAnswer(SendFate.UNCERTAIN, "ClientOSError: Can not write request body")
            raise AssertionError("never answered")

    run.gateway = Swallowing(run.manifest, {})

    async def go() -> None:
        plan = plan_batch(run.batch, run.manifest.entries)
        task = asyncio.create_task(run.sender(CreateBudget(30, 1)).run(plan.steps))
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert [b["prompt"] for b in run.gateway.bodies] == ["a", "b"]  # never c
    assert run.state("b") is RowState.UNCERTAIN


def test_a_halt_asked_before_each_row_stops_the_rest_of_the_batch(tmp_path: Path) -> None:
    """The spending limit reached mid-run (``halt``): no row after it is sent, each is
    reported stopped with the reason, and the rows sent keep their jobs."""
    run = Run(tmp_path, batch_of("a", "b", "c", "d"), {})

    def halt() -> str | None:
        return "the limit is reached" if len(run.gateway.bodies) >= 2 else None

    report = run.go(CreateBudget(30, 1), halt=halt)
    assert [b["prompt"] for b in run.gateway.bodies] == ["a", "b"]
    assert report.stopped == "the limit is reached"
    assert [
        e.row.request.prompt for e in run.events if isinstance(e, Stopped) and e.row.request
    ] == ["c", "d"]
    assert {r.task.label for r in run.store.load().records.values()} == {"L-a", "L-b"}
