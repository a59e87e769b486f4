"""What each job cost: the simulator's request log matched to the watched tasks, by task
id or by model and time; a charge for no watched job is kept apart, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.gateway.billing_answer import Failure, LogPage
from vidwatch.core.model.money import Charge, ChargeKind, Units
from vidwatch.core.model.records import Task, TaskRecord, TaskRequest, TaskResult
from vidwatch.core.money.balance import BalanceKeeper
from vidwatch.core.money.costs import Costs, read_costs
from vidwatch.core.money.matching import BY_ID, BY_TIME
from vidwatch.core.store.charge_book import Book
from vidwatch.simulator.server import Simulator

USD = Units("USD", Decimal(500_000), known=True)


def watched(sim: Simulator, job_id: str) -> TaskRecord:
    job = sim.jobs[job_id]
    request = TaskRequest(job.model, job.prompt)
    return TaskRecord(Task(job_id, sim.wall_time(job.created), request=request), TaskResult())


async def test_charges_are_matched_by_task_id_or_model_and_time_and_the_rest_kept_apart() -> None:
    sim = Simulator(jobs=0, seed=9)
    sora = sim.add_job(model="sora-2", fails=False)
    grok = sim.add_job(model="grok", fails=False)
    stranger = sim.add_job(model="veo3.1-fast", fails=False)  # made elsewhere: not watched
    records = {i: watched(sim, i) for i in (sora, grok)}
    heard: list[Costs] = []
    base_url = await sim.start()
    try:
        client = BillingClient(base_url, sim.api_key, allow_insecure_http=True)
        keeper = BalanceKeeper(
            client, lambda r: None, records=lambda: records, on_costs=heard.append
        )
        await keeper.refresh()
        again = heard[-1]
        for task_id, cost in again.matching.costs.items():  # as the session would
            records[task_id] = TaskRecord(records[task_id].task.with_cost(cost), TaskResult())
        await keeper.refresh()
        await keeper.aclose()
    finally:
        await sim.stop()
    costs = heard[0].matching.costs
    assert set(costs) == {sora, grok}
    assert (costs[sora].source, costs[sora].amount, costs[sora].unit) == (
        BY_ID,
        Decimal("0.4"),
        "USD",
    )
    assert (costs[grok].source, costs[grok].amount) == (BY_TIME, Decimal("0.24"))
    assert [c.model for c in heard[0].book.unmatched] == ["veo3.1-fast"]
    assert stranger not in costs
    assert heard[1].matching.costs == {}  # entries counted once: a second look adds nothing
    assert len(heard[1].book.unmatched) == 1


async def test_a_refund_takes_the_charge_back() -> None:
    sim = Simulator(jobs=0, seed=10)
    refunded = sim.add_job(model="sora-2", fails=True, queue_time=0, duration=0)  # index 0
    kept = sim.add_job(model="sora-2", fails=True, queue_time=0, duration=0)  # index 1
    records = {i: watched(sim, i) for i in (refunded, kept)}
    heard: list[Costs] = []
    base_url = await sim.start()
    try:
        client = BillingClient(base_url, sim.api_key, allow_insecure_http=True)
        keeper = BalanceKeeper(
            client, lambda r: None, records=lambda: records, on_costs=heard.append
        )
        await keeper.refresh()
        await keeper.aclose()
    finally:
        await sim.stop()
    costs = heard[0].matching.costs
    assert costs[refunded].refunded_in_full
    assert costs[refunded].amount == 0
    assert costs[kept].amount == Decimal("0.4")  # failed, and still charged


async def test_a_gateway_without_a_log_is_not_asked_again() -> None:
    sim = Simulator(jobs=1, seed=11)
    sim.billing.offered = False
    base_url = await sim.start()
    try:
        client = BillingClient(base_url, sim.api_key, allow_insecure_http=True)
        keeper = BalanceKeeper(client, lambda r: None, records=dict, on_costs=print)
        await keeper.refresh()
        asked = dict(sim.billing.asked)
        assert await keeper.refresh() is None
        await keeper.aclose()
    finally:
        await sim.stop()
    assert not keeper.asking
    assert asked == sim.billing.asked
    assert asked["/api/log/token"] == 1


class PagedLog:
    """A fork's request log that pages: ``pages[n - 1]`` for ``p=n``, then nothing."""

    def __init__(self, pages: list[list[Charge]], *, paginated: bool = True) -> None:
        self.pages = pages
        self.paginated = paginated
        self.asked: list[int] = []

    async def log_page(self, page: int = 1) -> LogPage:
        self.asked.append(page)
        total = sum(len(p) for p in self.pages)
        entries = self.pages[page - 1] if page <= len(self.pages) else []
        return LogPage(tuple(entries), self.paginated, total if self.paginated else None)


def charge(task_id: str, at: datetime) -> Charge:
    return Charge(f"k-{task_id}", at, ChargeKind.CHARGE, "sora-2", 200_000, task_id)


def created(task_id: str, at: datetime) -> TaskRecord:
    return TaskRecord(Task(task_id, at, request=TaskRequest("sora-2", "a cat")), TaskResult())


async def test_older_pages_of_a_log_that_pages_are_read_for_jobs_older_than_the_first() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    old, new = "sora-2:old", "sora-2:new"
    records = {old: created(old, now - timedelta(hours=5)), new: created(new, now)}
    newer = [charge(f"sora-2:other{n}", now + timedelta(seconds=n)) for n in range(3)]
    log = PagedLog([[charge(new, now), *newer], [charge(old, now - timedelta(hours=5))]])
    costs = await read_costs(log, records, Book(), USD)  # type: ignore[arg-type]
    assert not isinstance(costs, Failure)
    assert set(costs.matching.costs) == {old, new}
    assert log.asked == [1, 2]  # every entry of the log read: no third page asked

    # new-api's own log (not paged: its newest entries whatever is asked) is asked once,
    # and a log that answers the same page whatever is asked is not read over and over
    for same, asked in (
        (PagedLog([[charge(new, now)]], paginated=False), [1]),
        (PagedLog([[charge(new, now)]] * 5), [1, 2]),
    ):
        await read_costs(same, records, Book(), USD)  # type: ignore[arg-type]
        assert same.asked == asked
    # no job older than the charges read: no older page is asked for
    recent = PagedLog([[charge(new, now)], [charge(old, now - timedelta(hours=5))]])
    await read_costs(recent, {new: records[new]}, Book(), USD)  # type: ignore[arg-type]
    assert recent.asked == [1]
