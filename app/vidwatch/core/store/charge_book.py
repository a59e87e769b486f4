"""The charge book: what the gateway's billing routes last said, beside the task list.

``tasks.charges.json`` (beside ``tasks.toml``) keeps, per gateway (base URL):

- the site's units (``/api/status``) and the last balance, with when it was read: the
  confirmations of ``vidwatch create`` and ``submit`` show them without asking the
  gateway (a billing route that hangs never delays a create);
- the charges of the request log that match no watched task, kept as such (never
  guessed onto a job): the spend of today and this week counts them, and a later
  refresh may still match them to a job that reached the list afterwards.

What each task cost lives with the task (``Task.cost``). The file is hostile when read
back (every value checked, sizes capped; an unreadable file is set aside and a new one
started), written atomically under its own lock, mode 0600, redacted of the key.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from vidwatch.core.model.money import (
    QUOTA,
    Balance,
    Charge,
    ChargeKind,
    Money,
    Units,
    decimal_of,
)
from vidwatch.core.model.records import plausible_time, validate_task_id
from vidwatch.core.runtime.logs import redact_secrets
from vidwatch.core.store.atomic import atomic_write
from vidwatch.core.store.lock import locked
from vidwatch.core.text.sanitize import clean_line

__all__ = ["MAX_UNMATCHED", "Book", "ChargeBook", "book_path"]

log = logging.getLogger("vidwatch.money")

VERSION: Final = 1
MAX_UNMATCHED: Final = 2000  # charges kept per gateway (the newest)
MAX_BOOK: Final = 4 * 1024 * 1024  # bytes read at most
MAX_GATEWAYS: Final = 16


def book_path(tasks_file: Path) -> Path:
    """``tasks.charges.json`` beside ``tasks.toml``."""
    return tasks_file.with_name(f"{tasks_file.stem}.charges.json")


@dataclass(frozen=True, slots=True)
class Book:
    """What one gateway's billing routes last said."""

    units: Units | None = None
    balance: Balance | None = None
    unmatched: tuple[Charge, ...] = field(default=())

    def with_unmatched(self, charges: Iterable[Charge], matched: Iterable[str]) -> Book:
        """These charges kept (newest first, one per key), those matched since dropped."""
        gone = set(matched)
        kept: dict[str, Charge] = {}
        for charge in (*charges, *self.unmatched):
            if charge.key not in gone and charge.key not in kept:
                kept[charge.key] = charge
        newest = sorted(kept.values(), key=lambda c: c.at, reverse=True)[:MAX_UNMATCHED]
        return Book(self.units, self.balance, tuple(newest))


class ChargeBook:
    """The file at ``path``; every method is safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    def read(self, base_url: str) -> Book:
        """What the file holds for ``base_url`` (an empty book when nothing)."""
        return _book_of(self._load().get(base_url))

    def write(self, base_url: str, book: Book) -> None:
        """Keep ``book`` for ``base_url`` (other gateways' books stay). Raises OSError
        or :class:`~vidwatch.core.store.lock.StoreError` when it cannot be written."""
        with locked(self.path, self.lock_path, "the charge book"):
            gateways = self._load()
            gateways.pop(base_url, None)
            gateways[base_url] = _book_to_json(book)
            kept = dict(list(gateways.items())[-MAX_GATEWAYS:])
            text = json.dumps({"version": VERSION, "gateways": kept}, ensure_ascii=False)
            atomic_write(self.path, redact_secrets(text).encode("utf-8"), mode=0o600)

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read(MAX_BOOK + 1)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("the charge book %s cannot be read: %s", self.path, exc)
            return {}
        try:
            if len(raw) > MAX_BOOK:
                raise ValueError("too large")
            document = json.loads(raw.decode("utf-8"), parse_constant=lambda name: None)
            gateways = document.get("gateways") if isinstance(document, dict) else None
            if not isinstance(gateways, dict):
                raise ValueError("no gateways")
        except (ValueError, RecursionError) as exc:
            self._set_aside(str(exc))
            return {}
        return {k: v for k, v in gateways.items() if isinstance(k, str) and isinstance(v, dict)}

    def _set_aside(self, why: str) -> None:
        """An unreadable book is kept aside for a look, never overwritten silently."""
        aside = self.path.with_name(f"{self.path.name}.corrupt-{datetime.now():%Y%m%d-%H%M%S}")
        try:
            os.replace(self.path, aside)
        except OSError:
            return
        log.warning("the charge book %s could not be read (%s); moved to %s", self.path, why, aside)


# --------------------------------------------------------------------------- JSON


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return plausible_time(datetime.fromisoformat(value))
    except ValueError:
        return None


def _units_to_json(units: Units) -> dict[str, Any]:
    return {
        "name": units.name,
        "per_unit": str(units.per_unit),
        "rate": str(units.rate),
        "known": units.known,
    }


def _units_of(raw: object) -> Units | None:
    if not isinstance(raw, Mapping):
        return None
    name = raw.get("name")
    per_unit, rate = decimal_of(raw.get("per_unit")), decimal_of(raw.get("rate"))
    if not isinstance(name, str) or per_unit is None or rate is None or per_unit <= 0:
        return None
    return Units(clean_line(name, 12) or QUOTA, per_unit, rate, raw.get("known") is True)


def _balance_to_json(balance: Balance) -> dict[str, Any]:
    money = balance.money
    return {
        "amount": None if money is None else str(money.amount),
        "unit": "" if money is None else money.unit,
        "source": balance.source,
        "at": balance.at.astimezone(UTC).isoformat(),
    }


def _balance_of(raw: object) -> Balance | None:
    if not isinstance(raw, Mapping):
        return None
    at = _time(raw.get("at"))
    source, unit = raw.get("source"), raw.get("unit")
    if at is None or not isinstance(source, str) or not isinstance(unit, str):
        return None
    amount = raw.get("amount")
    money = None
    if amount is not None:
        number = decimal_of(amount) if isinstance(amount, str) else None
        if number is None:
            return None
        money = Money(number, clean_line(unit, 12))
    return Balance(money, clean_line(source, 80), at)


def _charge_to_json(charge: Charge) -> dict[str, Any]:
    return {
        "key": charge.key,
        "at": charge.at.astimezone(UTC).isoformat(),
        "kind": charge.kind.value,
        "model": charge.model,
        "quota": charge.quota,
        "task_id": charge.task_id,
        "note": charge.note,
    }


def _charge_of(raw: object) -> Charge | None:
    if not isinstance(raw, Mapping):
        return None
    key, at, quota = raw.get("key"), _time(raw.get("at")), raw.get("quota")
    try:
        kind = ChargeKind(str(raw.get("kind")))
    except ValueError:
        return None
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= 40
        or at is None
        or isinstance(quota, bool)
        or not isinstance(quota, int)
        or not 0 <= quota < (1 << 63)
    ):
        return None
    task_id = raw.get("task_id")
    if not isinstance(task_id, str) or (task_id and validate_task_id(task_id) is not None):
        task_id = ""
    model, note = raw.get("model"), raw.get("note")
    return Charge(
        clean_line(key, 40),
        at,
        kind,
        clean_line(model, 128) if isinstance(model, str) else "",
        quota,
        task_id,
        clean_line(note, 200) if isinstance(note, str) else "",
    )


def _book_to_json(book: Book) -> dict[str, Any]:
    return {
        "units": None if book.units is None else _units_to_json(book.units),
        "balance": None if book.balance is None else _balance_to_json(book.balance),
        "unmatched": [_charge_to_json(c) for c in book.unmatched[:MAX_UNMATCHED]],
    }


def _book_of(raw: object) -> Book:
    if not isinstance(raw, Mapping):
        return Book()
    entries = raw.get("unmatched")
    charges = (
        tuple(c for item in entries[:MAX_UNMATCHED] if (c := _charge_of(item)) is not None)
        if isinstance(entries, list)
        else ()
    )
    return Book(_units_of(raw.get("units")), _balance_of(raw.get("balance")), charges)
