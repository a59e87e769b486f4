"""What a job will cost before it is sent, and where that figure comes from.

For a request, the estimate is, in this order:

1. the user's own ``[prices]`` entry that fits it (:class:`~vidwatch.core.money.prices.PriceList`);
2. the median of the last :data:`SAMPLE` charges vidwatch has seen for jobs alike in
   everything that sets a price (:func:`~vidwatch.core.money.prices.price_key`);
3. unknown, said as unknown.

The source is always part of the words. :func:`quote` sums a batch: ``≈ 4.80: 20 ×
grok-video-3 at 0.24, from your last 12 jobs; balance 31.20`` — the line every create
confirmation, ``--dry-run`` and the dashboard's confirm screen show.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from vidwatch.core.model.money import QUOTA_UNITS, Balance, Money, Units
from vidwatch.core.model.records import TaskRecord, TaskRequest
from vidwatch.core.money.prices import PriceKey, PriceList, price_key
from vidwatch.core.store.charge_book import Book
from vidwatch.core.text.wording import plural, relative

__all__ = [
    "SAMPLE",
    "Estimate",
    "Estimator",
    "Quote",
    "batch_quote",
    "over_limit",
    "quote",
    "what_of",
]

SAMPLE: Final = 20  # charges the median is taken over (the latest)
STALE: Final = 60.0  # seconds: an older balance says how old it is


@dataclass(frozen=True, slots=True)
class Estimate:
    """One job's estimate: ``each`` (None: unknown) and where it came from."""

    key: PriceKey
    each: Money | None
    source: str
    seen: int = 0  # charges it was taken from (0: from [prices], or none)


class Estimator:
    """Estimates from the charges seen on ``records`` and the ``[prices]`` table."""

    def __init__(self, records: Iterable[TaskRecord], prices: PriceList, units: Units) -> None:
        self.prices = prices
        self.units = units
        seen: defaultdict[PriceKey, list[tuple[datetime, int]]] = defaultdict(list)
        for record in records:
            request, cost = record.task.request, record.task.cost
            if request is None or cost is None or cost.charged <= 0 or cost.at is None:
                continue
            seen[price_key(request)].append((cost.at, cost.charged))
        self._seen = {key: [q for _, q in sorted(v)[-SAMPLE:]] for key, v in seen.items()}

    @property
    def unit(self) -> str:
        return self.units.unit

    def estimate(self, request: TaskRequest) -> Estimate:
        key = price_key(request)
        listed = self.prices.price(key)
        if listed is not None:
            price, entry = listed
            # the user's own figure: in the site's unit when it is known, else unnamed
            unit = self.units.name if self.units.known else ""
            return Estimate(key, Money(price, unit), f"from [prices] {entry}")
        charges = self._seen.get(key)
        if charges:
            n = len(charges)
            median = statistics.median(Decimal(q) for q in charges)
            if len(set(charges)) == 1:
                words = f"from your last {plural(n, 'job')}" if n > 1 else "from your last job"
            else:
                words = f"the median of your last {n} jobs"
            return Estimate(key, self.units.money(median), words, n)
        return Estimate(
            key, None, f"unknown: no charge seen yet for {what_of(key)}, no [prices] entry"
        )


@dataclass(frozen=True, slots=True)
class Quote:
    """A batch's estimate: per kind of job, the total (None: some unknown), the
    balance it would come out of."""

    lines: tuple[tuple[int, Estimate], ...]
    total: Money | None
    unknown: int
    balance: Balance | None = None

    @property
    def known(self) -> Money | None:
        """The sum of what is known (the unknown jobs left out)."""
        amounts = [est.each.amount * n for n, est in self.lines if est.each is not None]
        if not amounts:
            return None
        unit = next(est.each.unit for _, est in self.lines if est.each is not None)
        return Money(sum(amounts, Decimal(0)), unit)

    def line_texts(self) -> list[str]:
        """``20 × grok-video-3 at 0.24, from your last 12 jobs``, one per kind of job."""
        texts = []
        for count, est in self.lines:
            what = what_of(est.key)
            if est.each is None:
                texts.append(f"{count} × {what}: {est.source}")
            else:
                texts.append(f"{count} × {what} at {est.each.short}, {est.source}")
        return texts

    def text(self, now: datetime | None = None) -> str:
        """The one line: ``≈ 4.80: …; balance 31.20``."""
        known = self.known
        if self.total is not None:
            head = f"≈ {self.total}"
        elif known is not None:
            head = f"≈ {known} + {plural(self.unknown, 'job')} of unknown cost"
        else:
            head = "cost unknown"
        words = f"{head}: {'; '.join(self.line_texts())}"
        if self.balance is not None:
            words += f"; balance {self.balance}"
            if now is not None and (now - self.balance.at).total_seconds() > STALE:
                words += f" ({relative(self.balance.at, now)} ago)"
            if self.above_balance:
                words += " — more than the balance: the gateway refuses jobs once it is spent"
        return words

    @property
    def above_balance(self) -> bool:
        """The estimate (what is known of it) is more than the balance, in the same unit."""
        spend = self.total or self.known
        money = self.balance.money if self.balance is not None else None
        if spend is None or money is None or spend.unit != money.unit:
            return False
        return spend.amount > money.amount

    def to_json(self) -> dict[str, Any]:
        return {
            "total": None if self.total is None else str(self.total.amount),
            "unit": (self.total or self.known or Money(Decimal(0), "")).unit or None,
            "unknown_jobs": self.unknown,
            "lines": [
                {
                    "jobs": n,
                    "model": est.key[0],
                    "fields": dict(est.key[1]),
                    "each": None if est.each is None else str(est.each.amount),
                    "source": est.source,
                }
                for n, est in self.lines
            ],
            "balance": None
            if self.balance is None or self.balance.money is None
            else str(self.balance.money.amount),
        }


def quote(
    requests: Sequence[TaskRequest], estimator: Estimator, balance: Balance | None = None
) -> Quote:
    """The estimate of sending ``requests``, by kind of job (most first)."""
    counts: Counter[PriceKey] = Counter()
    sample: dict[PriceKey, TaskRequest] = {}
    for request in requests:
        key = price_key(request)
        counts[key] += 1
        sample.setdefault(key, request)
    lines = tuple(
        (n, estimator.estimate(sample[key]))
        for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    unknown = sum(n for n, est in lines if est.each is None)
    total = None
    if not unknown:
        amount = sum((est.each.amount * n for n, est in lines if est.each), Decimal(0))
        units = [est.each.unit for _, est in lines if est.each is not None]
        total = Money(amount, units[0] if units else estimator.unit)
    return Quote(lines, total, unknown, balance)


def what_of(key: PriceKey) -> str:
    """``sora-2 (duration 15, size large)``: a kind of job, as the estimate names it."""
    model, fields = key
    return f"{model} ({', '.join(f'{n} {v}' for n, v in fields)})" if fields else model


def batch_quote(
    requests: Sequence[TaskRequest],
    records: Iterable[TaskRecord],
    prices: Mapping[str, float],
    book: Book,
) -> Quote:
    """The estimate of a batch from what is at hand: the charges seen on the list, the
    ``[prices]`` table, and the book's units and last balance (no request is made: a
    billing route that hangs never delays a create)."""
    units = book.units or QUOTA_UNITS
    return quote(requests, Estimator(records, PriceList(prices), units), book.balance)


def over_limit(
    quote: Quote, jobs: int, limit: float | None, today: Money | None = None
) -> str | None:
    """Why a batch is refused under ``limit`` (``[create] max_spend``, ``--max-spend``:
    per batch, and per day with what was spent ``today``), or None. With no estimate for
    every job, the limit counts jobs, and says so."""
    if limit is None:
        return None
    cap = Decimal(repr(limit))
    if quote.total is not None:
        if quote.total.amount > cap:
            return f"the estimate {quote.total} is above the spending limit {cap.normalize():f}"
        same = today is not None and today.unit == quote.total.unit
        if today is not None and same and today.amount + quote.total.amount > cap:
            return (
                f"today's spend {today} and the estimate {quote.total} come to more "
                f"than the spending limit {cap.normalize():f} for a day"
            )
        return None
    if jobs > cap:
        return (
            f"{plural(jobs, 'job')} of unknown cost: with no estimate, the spending limit "
            f"{cap.normalize():f} counts jobs"
        )
    return None
