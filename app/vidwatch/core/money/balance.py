"""The key's balance: which route says it, in which unit, and the keeper that refreshes it.

:func:`read_balance` asks the gateway in ``shared/api.md``'s order: the site's units
(``/api/status``, public), then ``/api/usage/token`` (quota units, shown in the site's
unit when the site says how), and only when that route is not offered the OpenAI-style
pair (``/v1/dashboard/billing/subscription`` less ``…/usage``, already in the site's
display unit). When no route is offered the answer is :class:`NotOffered`; when one did
not answer this time, :class:`Unanswered`. Nothing is invented: without the site's units,
amounts are quota units and say so; the pair's amounts carry the site's unit only when
the site named it.

:class:`BalanceKeeper` is what the dashboard runs: its own :class:`BillingClient` (its
own two connections, never polling's or a create's), one refresh at a time, at start,
after creates (no sooner than :data:`MIN_GAP` after the last), and every
:data:`EVERY` seconds. "Not offered" is said once (the log, the callback) and the keeper
never asks again; a refresh that finds no answer is not retried before the next turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Final

from vidwatch.core.gateway.billing import (
    SUBSCRIPTION_PATH,
    TOKEN_USAGE_PATH,
    BillingClient,
)
from vidwatch.core.gateway.billing_answer import (
    Failure,
    NotOffered,
    Subscription,
    TokenUsage,
    Unanswered,
)
from vidwatch.core.model.money import QUOTA, QUOTA_UNITS, Balance, Money, Units
from vidwatch.core.model.records import TaskRecord, utcnow
from vidwatch.core.money.costs import Costs, read_costs
from vidwatch.core.store.charge_book import Book

__all__ = [
    "EVERY",
    "MIN_GAP",
    "SITE_UNIT",
    "BalanceKeeper",
    "Reading",
    "describe",
    "log_costs",
    "log_reading",
    "read_balance",
    "reading_json",
    "stop",
    "with_reading",
]

log = logging.getLogger("vidwatch.money")

EVERY: Final = 300.0  # seconds between refreshes in the dashboard
MIN_GAP: Final = 20.0  # seconds: creates in a row ask once, not once each
SITE_UNIT: Final = "site units"  # the pair's amounts when the site did not name its unit


@dataclass(frozen=True, slots=True)
class Reading:
    """What one refresh learned: the balance or why there is none, and the units."""

    balance: Balance | Failure
    units: Units

    @property
    def not_offered(self) -> bool:
        return isinstance(self.balance, NotOffered)


def _pair_unit(units: Units) -> str:
    """The unit of the ``*_usd`` fields: the site's display unit, when the site says it."""
    if not units.known:
        return SITE_UNIT
    return units.name  # QUOTA when the site shows tokens


async def read_balance(client: BillingClient, now: datetime | None = None) -> Reading:
    """Ask the routes in order; see the module's docstring."""
    at = now or utcnow()
    got_units = await client.units()
    units = got_units if isinstance(got_units, Units) else QUOTA_UNITS
    usage = await client.token_usage()
    if isinstance(usage, TokenUsage):
        if usage.unlimited:
            return Reading(Balance(None, TOKEN_USAGE_PATH, at), units)
        return Reading(Balance(units.money(usage.available), TOKEN_USAGE_PATH, at), units)
    pair = await client.subscription()
    if isinstance(pair, tuple):
        limit, used = pair
        return Reading(_from_pair(limit, used, units, at), units)
    if isinstance(usage, NotOffered) and isinstance(pair, NotOffered):
        why = f"{TOKEN_USAGE_PATH}: {usage.why}; {SUBSCRIPTION_PATH}: {pair.why}"
        return Reading(NotOffered(why), units)
    unanswered = usage if isinstance(usage, Unanswered) else pair
    return Reading(unanswered, units)


def _from_pair(limit: Subscription, used: Decimal, units: Units, at: datetime) -> Balance:
    if limit.unlimited:
        return Balance(None, SUBSCRIPTION_PATH, at)
    unit = _pair_unit(units)
    left = limit.hard_limit - used
    if unit == QUOTA:
        left = left.quantize(Decimal(1))
    return Balance(Money(left, unit), SUBSCRIPTION_PATH, at)


Listener = Callable[[Reading], None]


class BalanceKeeper:
    """Refreshes the balance in the background (see the module's docstring).

    ``on_reading`` hears every reading (the dashboard's header); ``not offered`` is
    logged once and ends the asking. Its own client: a hanging billing route holds
    none of polling's or a create's connections."""

    def __init__(
        self,
        client: BillingClient,
        on_reading: Listener,
        *,
        every: float = EVERY,
        min_gap: float = MIN_GAP,
        clock: Callable[[], float] | None = None,
        records: Callable[[], Mapping[str, TaskRecord]] | None = None,
        on_costs: Callable[[Costs], None] | None = None,
        book: Book | None = None,
    ) -> None:
        self.client = client
        self.records = records
        self.on_costs = on_costs
        self.book = book or Book()
        self.log_offered = records is not None  # the request log, for what jobs cost
        self.on_reading = on_reading
        self.every = every
        self.min_gap = min_gap
        self.last: Reading | None = None
        self.offered = True
        self._clock = clock
        self._asked_at: float | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def start(self) -> None:
        """Refresh now, then every :attr:`every` seconds, in a task of its own."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="balance")

    def created(self) -> None:
        """A job was created: refresh soon (once for creates in a row)."""
        if self.asking:
            self._wake.set()

    @property
    def asking(self) -> bool:
        """Something is still offered: the balance or the request log."""
        return self.offered or self.log_offered

    async def refresh(self) -> Reading | None:
        """One refresh: the balance, then what jobs cost (None: no balance read — not
        offered, or a refresh is under way already)."""
        if not self.asking or self._busy:
            return None
        self._busy = True
        try:
            self._asked_at = self._now()
            reading = await self._balance() if self.offered else None
            if self.log_offered:
                await self._costs(reading.units if reading else QUOTA_UNITS)
        finally:
            self._busy = False
        return reading

    async def _balance(self) -> Reading:
        reading = await read_balance(self.client)
        self.last = reading
        self.book = with_reading(self.book, reading)
        if isinstance(reading.balance, NotOffered):
            self.offered = False
        log_reading(reading)
        self.on_reading(reading)
        return reading

    async def _costs(self, units: Units) -> None:
        if self.records is None:
            return
        got = await read_costs(self.client, self.records(), self.book, units)
        log_costs(got)
        if isinstance(got, NotOffered):
            self.log_offered = False
        elif isinstance(got, Costs):
            self.book = got.book
            if self.on_costs is not None:
                self.on_costs(got)

    async def _run(self) -> None:
        while self.asking:
            try:
                await self.refresh()
            except Exception:  # a listener's bug: logged; the next turn tries again
                log.exception("refreshing the balance failed")
            if not self.asking:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.every):
                    await self._wake.wait()
            self._wake.clear()
            gap = self.min_gap - (self._now() - (self._asked_at or 0.0))
            if gap > 0:
                await asyncio.sleep(gap)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop(task)
        await self.client.aclose()


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel a background refresh and wait until it has ended (None: nothing to do)."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def log_reading(reading: Reading) -> None:
    """What the log keeps of a reading that found no balance (the dashboard's keeper
    says it once; ``check`` and ``balance`` once a run)."""
    if isinstance(reading.balance, NotOffered):
        log.info("the gateway offers no balance to this key (%s)", reading.balance.why)
    elif isinstance(reading.balance, Unanswered):
        log.info("the balance: no answer this time (%s)", reading.balance.why)


def log_costs(got: Costs | Failure) -> None:
    """What the log keeps of a request log that is not offered."""
    if isinstance(got, NotOffered):
        log.info("the gateway offers no request log to this key (%s)", got.why)


def with_reading(book: Book, reading: Reading) -> Book:
    """The book with what a reading learned (the site's units, the balance) kept, for
    the estimates of the next create."""
    units = reading.units if reading.units.known else book.units
    balance = reading.balance if isinstance(reading.balance, Balance) else book.balance
    return replace(book, units=units, balance=balance)


def describe(reading: Reading) -> str:
    """One line a user reads: ``31.20 USD (from /api/usage/token)``, ``not offered by
    this gateway``, ``no answer this time (…)``."""
    balance = reading.balance
    if isinstance(balance, NotOffered):
        return "not offered by this gateway"
    if isinstance(balance, Unanswered):
        return f"no answer this time ({balance.why})"
    return f"{balance} (from {balance.source})"


def reading_json(reading: Reading) -> dict[str, object]:
    """What ``vidwatch balance --json`` prints: amounts as decimal text, never floats."""
    balance = reading.balance
    out: dict[str, object] = {"offered": not isinstance(balance, NotOffered)}
    if isinstance(balance, Balance):
        money = balance.money
        out |= {
            "balance": None if money is None else str(money.amount),
            "unit": None if money is None else money.unit,
            "unlimited": money is None,
            "source": balance.source,
            "at": balance.at.isoformat(),
        }
    else:
        out |= {"balance": None, "unit": None, "why": balance.why}
        if isinstance(balance, Unanswered):
            out["unanswered"] = True
    out["units"] = reading.units.describe()
    return out
