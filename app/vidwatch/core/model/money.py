"""Money as the gateway counts it, and as vidwatch shows it.

new-api counts in **quota units** (integers): a charge, a refund, a balance. The site
shows them in its own unit: ``quota / quota_per_unit`` dollars (``GET /api/status``
publishes ``quota_per_unit``, 500,000 by default, and how the site shows money: USD, CNY
at the site's own ``usd_exchange_rate``, a custom symbol at its own rate, or plain
tokens). :class:`Units` is that conversion, read from the site; without it vidwatch shows
quota units and says so. It never invents a rate or a currency.

Amounts are :class:`~decimal.Decimal`, never floats: a charge is an integer of quota
units and the site's rate a short decimal, so ``quota × rate / per_unit`` is exact in
decimal (1 / 500,000 is 0.000002), and the sums shown in the stats view (hundreds of
charges) never drift the way binary floats do (0.1 + 0.2). Amounts are written to files
and JSON as decimal text (``"0.24"``) for the same reason.

:class:`Charge` is one entry of the gateway's request log (a charge or a refund);
:class:`Cost` is what one task cost, kept with the task (``Task.cost``) through the
records' one field list.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from vidwatch.core.model.kinds import Kind, stored

__all__ = [
    "QUOTA",
    "QUOTA_UNITS",
    "Balance",
    "Charge",
    "ChargeKind",
    "Cost",
    "Money",
    "Units",
    "decimal_of",
    "show_amount",
]

QUOTA: Final = "quota"  # the unit when the site does not say how it shows money
MAX_AMOUNT: Final = Decimal("1e15")  # larger is not a price (a hostile or broken answer)


def decimal_of(value: object) -> Decimal | None:
    """A finite decimal from JSON (a number or its text), ``None`` otherwise. A float is
    taken by its shortest repr (``0.24``, not ``0.2399999…``): what the server wrote."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str) and 0 < len(value.strip()) <= 40:
            number = Decimal(value.strip())
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or abs(number) > MAX_AMOUNT:
        return None
    return number


_CENT: Final = Decimal("0.01")


def show_amount(amount: Decimal, unit: str = "") -> str:
    """``31.20``, ``0.24``, ``0.0045`` (small amounts keep their digits, up to six
    places); quota units as whole numbers with separators (``120,000 quota``)."""
    if unit == QUOTA:
        return f"{amount.quantize(Decimal(1)):,} {QUOTA}"
    cents = amount.quantize(_CENT)
    if cents == amount or abs(amount) >= 1:
        text = f"{cents:,}"
    else:
        text = f"{amount.quantize(Decimal('0.000001')).normalize():f}"
    return f"{text} {unit}" if unit else text


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a unit (``USD``, ``CNY``, a site's symbol, or ``quota``)."""

    amount: Decimal
    unit: str

    def __str__(self) -> str:
        return show_amount(self.amount, self.unit)

    @property
    def short(self) -> str:
        """Without the unit when it is the site's currency (the header: ``31.20``)."""
        return str(self) if self.unit == QUOTA else show_amount(self.amount)


@dataclass(frozen=True, slots=True)
class Units:
    """How the site shows quota: ``quota × rate / per_unit`` in ``name``.

    ``known`` is False when the site did not say (``/api/status`` not offered): then
    amounts are quota units, named so."""

    name: str = QUOTA
    per_unit: Decimal = Decimal(1)
    rate: Decimal = Decimal(1)
    known: bool = False

    @property
    def unit(self) -> str:
        """The name amounts carry: the site's unit, or ``quota`` when it did not say."""
        return self.name if self.known else QUOTA

    def amount(self, quota: int | Decimal) -> Decimal:
        return Decimal(quota) * self.rate / self.per_unit

    def money(self, quota: int | Decimal) -> Money:
        return Money(self.amount(quota), self.unit)

    def describe(self) -> str:
        """What a user reads about the unit: ``USD (500,000 quota a unit, from the site)``."""
        if not self.known:
            return "quota units (the gateway does not publish how it shows money)"
        if self.name == QUOTA:
            return "quota units (the site shows money as tokens)"
        rate = "" if self.rate == 1 else f" at the site's rate {self.rate.normalize():f}"
        return f"{self.name} ({self.per_unit.normalize():,f} quota a unit{rate}, from the site)"


QUOTA_UNITS: Final = Units()


@dataclass(frozen=True, slots=True)
class Balance:
    """What the key has left to spend (``money``; None: the key has no limit), which
    route said it, and when."""

    money: Money | None
    source: str
    at: datetime

    @property
    def unlimited(self) -> bool:
        return self.money is None

    @property
    def short(self) -> str:
        """``31.20``, ``1,200,000 quota``, ``no limit``: what the header shows."""
        return "no limit" if self.money is None else self.money.short

    def __str__(self) -> str:
        return "no limit on this key" if self.money is None else str(self.money)


class ChargeKind(enum.StrEnum):
    """What a log entry did to the balance: new-api's ``type`` 2 and 6."""

    CHARGE = "charge"
    REFUND = "refund"


@dataclass(frozen=True, slots=True)
class Charge:
    """One entry of the gateway's request log for this key: a charge or a refund.

    ``key`` identifies the entry across fetches (the log's ``id`` does not: new-api
    numbers the entries of each answer afresh). ``task_id`` is the task the gateway names
    in the entry's ``other`` (refunds and settlements do; a create's charge often does
    not); ``""`` when none."""

    key: str
    at: datetime
    kind: ChargeKind
    model: str
    quota: int
    task_id: str = ""
    note: str = ""

    @property
    def signed(self) -> int:
        """What it did to the spend: a charge adds, a refund takes away."""
        return self.quota if self.kind is ChargeKind.CHARGE else -self.quota


@dataclass(frozen=True, slots=True)
class Cost:
    """What one task cost, from the gateway's request log.

    ``charged`` and ``refunded`` are quota units as the gateway counted them; ``amount``
    is what they come to (charged less refunded) in ``unit``; ``source`` says how the
    log entries were matched to the task (``task id`` or ``model and time``); ``at`` is
    the time of the first charge; ``entries`` the log entries it holds (so that an entry
    seen again is not counted twice)."""

    charged: int = field(default=0, metadata=stored(Kind.QUOTA))
    refunded: int = field(default=0, metadata=stored(Kind.QUOTA))
    amount: Decimal = field(default=Decimal(0), metadata=stored(Kind.DECIMAL))
    unit: str = field(default="", metadata=stored(Kind.LINE, 24))
    source: str = field(default="", metadata=stored(Kind.LINE, 40))
    model: str = field(default="", metadata=stored(Kind.LINE, 128))
    at: datetime | None = field(default=None, metadata=stored(Kind.TIME))
    # the entries' keys, space-separated (at most MAX_ENTRIES of them)
    entries: str = field(default="", metadata=stored(Kind.LINE, 2048))

    @property
    def money(self) -> Money:
        return Money(self.amount, self.unit)

    @property
    def net(self) -> int:
        """Quota units charged less refunded."""
        return self.charged - self.refunded

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.entries.split())

    @property
    def refunded_in_full(self) -> bool:
        return self.charged > 0 and self.refunded >= self.charged
