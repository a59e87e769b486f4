"""A run stops sending when the charges seen reach ``[create] max_spend``: the request
log read on the billing routes' own client, charges less refunds since the run began,
today's spend before it; a log not offered, failing or hanging never stops the sends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.model.money import Money, Units
from vidwatch.core.money.limit import SpendWatch

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
USD = Units("USD", Decimal(500_000), known=True)


def entry(at: datetime, quota: int, kind: int = 2) -> dict[str, object]:
    return {
        "id": 1,
        "created_at": int(at.timestamp()),
        "type": kind,
        "model_name": "grok-video-3",
        "quota": quota,
        "token_name": "vidwatch",
        "use_time": 0,
        "content": "video task",
        "other": "",
    }


def watch(handler: httpx.MockTransport, limit: float, before: Money | None = None) -> SpendWatch:
    client = BillingClient("https://gateway.example", "sk-test", transport=handler)
    return SpendWatch(client, limit, USD, since=START, spent_before=before)


def log_of(entries: list[dict[str, object]]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/log/token"
        return httpx.Response(200, json={"success": True, "message": "", "data": entries})

    return httpx.MockTransport(answer)


async def test_the_charges_since_the_run_began_stop_it_at_the_limit() -> None:
    entries = [entry(START - timedelta(hours=1), 500_000)]  # before the run: not its own
    spend = watch(log_of(entries), 0.5)
    await spend.read()
    assert spend.reached() is None
    entries.insert(0, entry(START + timedelta(seconds=3), 120_000))  # 0.24 USD
    await spend.read()
    assert spend.seen == Decimal("0.24")
    assert spend.reached() is None
    entries.insert(0, entry(START + timedelta(seconds=9), 150_000))  # 0.30 USD
    await spend.read()
    why = spend.reached()
    assert why == "the charges seen since this run began (0.54 USD) reached the spending limit 0.5"
    entries.insert(0, entry(START + timedelta(seconds=20), 150_000, kind=6))  # a refund
    await spend.read()
    assert spend.seen == Decimal("0.24")
    assert spend.reached() is None
    await spend.aclose()


async def test_todays_spend_before_the_run_counts() -> None:
    entries = [entry(START + timedelta(seconds=3), 120_000)]
    spend = watch(log_of(entries), 1.0, before=Money(Decimal("0.8"), "USD"))
    assert spend.reached() is None
    await spend.read()
    why = spend.reached()
    assert why is not None
    assert why == (
        "today's spend 1.04 USD (0.24 USD of it since this run began) reached the "
        "spending limit 1 for a day"
    )
    other_unit = watch(log_of(entries), 1.0, before=Money(Decimal("900000"), "quota"))
    assert other_unit.reached() is None  # an amount of another unit is not added in
    await spend.aclose()
    await other_unit.aclose()


async def test_a_log_not_offered_is_asked_once_and_stops_nothing() -> None:
    asked: list[str] = []

    def not_found(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(404, json={"error": {"message": "Invalid URL"}})

    spend = watch(httpx.MockTransport(not_found), 0.5)
    spend.every = 0.0
    spend.start()
    async with asyncio.timeout(10):
        while spend.offered:
            await asyncio.sleep(0.01)
    await spend.aclose()
    assert asked == ["/api/log/token"]
    assert spend.reached() is None


async def test_a_hanging_log_never_holds_the_question_the_sender_asks() -> None:
    reached = asyncio.Event()
    hang = asyncio.Event()

    async def hanging(request: httpx.Request) -> httpx.Response:
        reached.set()
        await hang.wait()
        return httpx.Response(200, json={"success": True, "data": []})

    spend = watch(httpx.MockTransport(hanging), 0.5)
    spend.start()
    async with asyncio.timeout(10):
        await reached.wait()
    assert spend.reached() is None  # answered at once, the read still out
    await spend.aclose()
    assert spend.reads == 0


async def test_charges_that_fall_off_the_logs_newest_entries_still_count() -> None:
    # new-api answers its newest entries: a long run's first charges leave the answer
    # while the run goes on, and must not leave the sum.
    entries = [entry(START + timedelta(seconds=3), 120_000)]  # 0.24 USD
    spend = watch(log_of(entries), 0.5)
    await spend.read()
    entries[:] = [entry(START + timedelta(seconds=9), 150_000)]  # 0.30 USD; the first gone
    await spend.read()
    assert spend.seen == Decimal("0.54")
    assert spend.reached() is not None
    await spend.read()  # the same entry read again counts once
    assert spend.seen == Decimal("0.54")
