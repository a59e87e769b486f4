"""The balance: the routes asked in order, "not offered" said once, units never invented,
and a billing route that hangs never slows polling or creating."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.gateway.billing_answer import NotOffered, Unanswered
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.create_answer import Created
from vidwatch.core.gateway.outcomes import Ok
from vidwatch.core.model.money import Balance
from vidwatch.core.money.balance import SITE_UNIT, BalanceKeeper, Reading, read_balance
from vidwatch.simulator.server import Simulator

KEY = "sk-test-BALANCE-0123456789"
BASE = "https://gw.example"
STATUS = {"success": True, "data": {"quota_per_unit": 500000, "quota_display_type": "USD"}}
USAGE = {
    "code": True,
    "message": "ok",
    "data": {
        "total_granted": 20_000_000,
        "total_used": 4_400_000,
        "total_available": 15_600_000,
        "unlimited_quota": False,
    },
}
Routes = dict[str, tuple[int, object]]


def billing(routes: Routes, seen: list[str] | None = None) -> BillingClient:
    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request.url.path)
        status, body = routes.get(request.url.path, (404, {"message": "Invalid URL"}))
        return httpx.Response(status, content=json.dumps(body).encode())

    return BillingClient(BASE, KEY, transport=httpx.MockTransport(answer))


async def read(routes: Routes, seen: list[str] | None = None) -> Reading:
    async with billing(routes, seen) as client:
        return await read_balance(client)


def money(reading: Reading) -> str:
    assert isinstance(reading.balance, Balance), reading.balance
    return str(reading.balance)


async def test_token_usage_first_in_the_sites_unit() -> None:
    seen: list[str] = []
    reading = await read({"/api/status": (200, STATUS), "/api/usage/token": (200, USAGE)}, seen)
    assert money(reading) == "31.20 USD"
    assert isinstance(reading.balance, Balance)
    assert reading.balance.short == "31.20"
    assert "/v1/dashboard/billing/subscription" not in seen  # the first route answered


async def test_without_the_sites_units_amounts_are_quota_units_said_so() -> None:
    reading = await read({"/api/usage/token": (200, USAGE)})
    assert money(reading) == "15,600,000 quota"
    assert not reading.units.known


async def test_the_billing_pair_when_token_usage_is_not_offered() -> None:
    pair: Routes = {
        "/v1/dashboard/billing/subscription": (200, {"hard_limit_usd": 40.0}),
        "/v1/dashboard/billing/usage": (200, {"total_usage": 880.0}),  # hundredths
    }
    assert money(await read({**pair, "/api/status": (200, STATUS)})) == "31.20 USD"
    unknown = await read(pair)  # the site did not say its unit: none is invented
    assert money(unknown) == f"31.20 {SITE_UNIT}"


async def test_a_key_without_a_limit() -> None:
    unlimited = {"code": True, "data": {"unlimited_quota": True, "total_available": 0}}
    reading = await read({"/api/usage/token": (200, unlimited)})
    assert isinstance(reading.balance, Balance)
    assert reading.balance.short == "no limit"


@pytest.mark.parametrize(
    "answer",
    [
        (404, {"message": "Invalid URL"}),
        (401, {"success": False, "message": "no"}),
        (200, {"success": False, "message": "需要 key 参数"}),
        (200, ["not", "a", "balance"]),
    ],
)
async def test_nothing_usable_is_not_offered(answer: tuple[int, object]) -> None:
    routes: Routes = {p: answer for p in ("/api/usage/token", "/v1/dashboard/billing/subscription")}
    reading = await read(routes)
    assert isinstance(reading.balance, NotOffered)


async def test_a_failing_route_is_unanswered_not_refused() -> None:
    reading = await read({"/api/usage/token": (502, {})})
    assert isinstance(reading.balance, Unanswered)


async def test_not_offered_is_said_once_and_never_asked_again() -> None:
    seen: list[str] = []
    echo = {"success": False, "message": f"bad key Bearer {KEY}"}
    routes: Routes = {
        "/api/usage/token": (401, echo),
        "/v1/dashboard/billing/subscription": (200, echo),
    }
    readings: list[Reading] = []
    keeper = BalanceKeeper(billing(routes, seen), readings.append)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logger = logging.getLogger("vidwatch.money")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        first = await keeper.refresh()
        asked = len(seen)
        again = await keeper.refresh()
        keeper.created()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    await keeper.aclose()
    assert first is not None
    assert first.not_offered
    assert again is None
    assert len(seen) == asked
    assert len(readings) == 1
    said = [r.getMessage() for r in records if "offers no balance" in r.getMessage()]
    assert len(said) == 1
    assert all(KEY not in r.getMessage() for r in records)
    assert KEY not in repr(first)


async def test_the_simulator_balance_goes_down_with_each_job() -> None:
    sim = Simulator(jobs=0, seed=5)
    base_url = await sim.start()
    try:
        async with BillingClient(base_url, sim.api_key, allow_insecure_http=True) as client:
            before = await read_balance(client)
            sim.add_job(model="grok")
            after = await read_balance(client)
            sim.billing.offered = False
            gone = await read_balance(client)
    finally:
        await sim.stop()
    assert money(before) == "31.20 USD"
    assert money(after) == "30.96 USD"
    assert isinstance(gone.balance, NotOffered)


async def test_a_hanging_billing_route_never_slows_polling_or_creating() -> None:
    """The keeper's refresh hangs on every billing route; meanwhile the query and the
    create clients answer at once: they share no connection and no budget with it."""
    sim = Simulator(jobs=1, seed=6)
    base_url = await sim.start()
    hung = asyncio.Event()
    never = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        hung.set()
        await never.wait()
        return httpx.Response(500)

    hanging = BillingClient(
        base_url,
        sim.api_key,
        timeout=3600,
        allow_insecure_http=True,
        transport=httpx.MockTransport(hang),
    )
    keeper = BalanceKeeper(hanging, lambda reading: None)
    try:
        keeper.start()
        await hung.wait()
        async with QueryClient(base_url, sim.api_key, allow_insecure_http=True) as client:
            polled = await client.query(sim.job_ids[0])
            made = await client.create(
                {"model": "grok-video-3", "prompt": "a cow", "aspect_ratio": "3:2", "images": []}
            )
        assert keeper.last is None  # the refresh still hangs
    finally:
        await keeper.aclose()
        await sim.stop()
    assert isinstance(polled, Ok)
    assert isinstance(made, Created)
