"""What sets a job's price, and the user's own price list (``[prices]`` in the config).

Two jobs cost the same when they agree on the model and on every field that changes the
price: :data:`PRICE_FIELDS` (duration, size or resolution, upscaling, quality). That is
:func:`price_key`, what estimates are kept by and what tells alike jobs apart when a
charge is matched by time.

``[prices]`` maps a model, or a model with some of those fields, to a price per job in
the unit vidwatch shows for the gateway (``vidwatch balance`` says which)::

    [prices]
    "grok-video-3" = 0.24
    "sora-2:duration=15" = 0.9
    "sora-2:duration=15,size=large" = 1.5

The most specific entry that fits a request wins (every field it names equal).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from vidwatch.core.model.money import decimal_of
from vidwatch.core.model.records import TaskRequest

__all__ = ["PRICE_FIELDS", "PriceKey", "PriceList", "price_key"]

PRICE_FIELDS: Final = (
    "duration",
    "seconds",
    "size",
    "resolution",
    "enable_upsample",
    "upsample",
    "quality",
)

PriceKey = tuple[str, tuple[tuple[str, str], ...]]  # (model, ((field, value as text), …))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip().lower()
    return json.dumps(value, sort_keys=True).lower()


def price_key(request: TaskRequest) -> PriceKey:
    """The model and the price-setting fields of ``request``."""
    fields = request.fields
    return request.model, tuple(
        (name, _text(fields[name])) for name in PRICE_FIELDS if name in fields
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    model: str
    fields: tuple[tuple[str, str], ...]
    price: Decimal


class PriceList:
    """The ``[prices]`` table: ``MODEL`` or ``MODEL:FIELD=VALUE,…`` → a price per job."""

    def __init__(self, table: Mapping[str, float]) -> None:
        entries: list[_Entry] = []
        for name, value in table.items():
            price = decimal_of(value)
            if price is None or price < 0:
                continue
            model, _, rest = name.partition(":")
            pairs: list[tuple[str, str]] = []
            for part in filter(None, rest.split(",")):
                field, sep, wanted = part.partition("=")
                if sep:
                    pairs.append((field.strip(), wanted.strip().lower()))
            entries.append(_Entry(model.strip(), tuple(pairs), price))
        # the most specific first: more fields named wins
        self.entries = sorted(entries, key=lambda e: -len(e.fields))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def price(self, key: PriceKey) -> tuple[Decimal, str] | None:
        """The price of a job of ``key`` and the entry that gave it, or None."""
        model, fields = key
        known = dict(fields)
        for entry in self.entries:
            if entry.model == model and all(known.get(f) == v for f, v in entry.fields):
                named = ",".join(f"{f}={v}" for f, v in entry.fields)
                return entry.price, f"{model}:{named}" if named else model
        return None
