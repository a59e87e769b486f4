"""The estimate before spending: said with its source and the balance, and said plainly
when it is more than the balance."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from vidwatch.core.model.money import Balance, Money, Units
from vidwatch.core.model.records import TaskRequest
from vidwatch.core.money.estimates import batch_quote
from vidwatch.core.store.charge_book import Book

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
USD = Units("USD", Decimal(500_000), known=True)


def book(left: str | None) -> Book:
    money = Money(Decimal(left), "USD") if left is not None else None
    return Book(units=USD, balance=Balance(money, "/api/usage/token", NOW))


def test_an_estimate_above_the_balance_says_so() -> None:
    wanted = [TaskRequest("grok-video-3", "")] * 20
    prices = {"grok-video-3": 0.24}
    low = batch_quote(wanted, [], prices, book("3.10"))
    assert low.above_balance
    assert low.text(NOW) == (
        "≈ 4.80 USD: 20 × grok-video-3 at 0.24, from [prices] grok-video-3; balance 3.10 USD — "
        "more than the balance: the gateway refuses jobs once it is spent"
    )
    enough = batch_quote(wanted, [], prices, book("31.20"))
    assert not enough.above_balance
    assert enough.text(NOW).endswith("; balance 31.20 USD")
    unlimited = batch_quote(wanted, [], prices, book(None))
    assert not unlimited.above_balance
    unknown = batch_quote(wanted, [], {}, book("0.01"))
    assert not unknown.above_balance  # nothing known to compare
