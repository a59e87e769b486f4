"""What new-api's balance, usage and request-log answers mean (pure: no HTTP stack).

The endpoints (``shared/api.md``, "Balance and usage"; new-api's ``controller/token.go``,
``billing.go``, ``log.go``, ``misc.go``):

- ``GET /api/usage/token`` → ``{"code": true, "message": "ok", "data": {"total_granted",
  "total_used", "total_available", "unlimited_quota", …}}`` in quota units; a failure is
  ``{"success": false, "message": …}`` (HTTP 200 or 401). Newer versions add
  ``data.account`` (``quota``, ``used_quota``): the wallet behind a key without a limit.
- ``GET /v1/dashboard/billing/subscription`` → ``{"hard_limit_usd", …}`` and
  ``GET /v1/dashboard/billing/usage`` → ``{"total_usage"}`` (hundredths): amounts in the
  site's display unit; a failure is HTTP 200 with ``{"error": {…}}``. A key without a limit
  gets ``hard_limit_usd`` 100,000,000.
- ``GET /api/log/token`` → ``{"success": true, "data": [LOG…]}``, or paginated (forks)
  ``"data": {"items": [LOG…], "total", "page", "page_size"}``. A LOG has ``created_at``
  (seconds), ``type`` (2 a charge, 6 a refund; others are not money moved by a job),
  ``model_name``, ``quota``, ``content`` and ``other`` (a JSON *string*; refunds and
  settlements name the task: ``other.task_id``). Its ``id`` is the entry's place in that
  answer, renumbered every time: entries are told apart by what they hold
  (:func:`entry_key`). Forks that want the key in the URL answer ``success: false``
  without it: vidwatch never puts the key in a URL, so for it they offer no log.
- ``GET /api/status`` (public) → ``{"success": true, "data": {"quota_per_unit",
  "quota_display_type" (USD, CNY, TOKENS, CUSTOM), "display_in_currency" (older),
  "usd_exchange_rate", "custom_currency_symbol", "custom_currency_exchange_rate"}}``.

Every answer is judged into a value or one of two failures: :class:`NotOffered` (404,
401/403 on that route, ``success: false``, an ``error`` envelope, an answer that is not
the shape: the gateway does not offer it to this key, said once and not asked again)
or :class:`Unanswered` (a timeout, 429, 5xx: ask again at the next refresh).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from vidwatch.core.model.money import QUOTA, Charge, ChargeKind, Units, decimal_of
from vidwatch.core.model.records import epoch_time, validate_task_id
from vidwatch.core.text.sanitize import clean_line

__all__ = [
    "MAX_BILLING_BODY",
    "MAX_LOG_BODY",
    "MAX_LOG_ENTRIES",
    "UNLIMITED",
    "Failure",
    "LogPage",
    "NotOffered",
    "Subscription",
    "TokenUsage",
    "Unanswered",
    "entry_key",
    "judge_status",
    "parse_log",
    "parse_status",
    "parse_subscription",
    "parse_token_usage",
    "parse_usage",
]

MAX_BILLING_BODY: Final = 64 * 1024  # a balance or a status answer is a few hundred bytes
MAX_LOG_BODY: Final = 2 * 1024 * 1024  # new-api's log answer: up to 100 entries (~1 KiB each)
MAX_LOG_ENTRIES: Final = 1000  # entries taken from one answer
MAX_OTHER: Final = 8 * 1024  # characters of an entry's ``other`` that are read
UNLIMITED: Final = Decimal(100_000_000)  # new-api's hard_limit_usd for a key without a limit
_CHARGE_TYPES: Final = {2: ChargeKind.CHARGE, 6: ChargeKind.REFUND}
_INT64: Final = 1 << 63


@dataclass(frozen=True, slots=True)
class NotOffered:
    """The gateway does not offer this to the key (``why``: what it answered)."""

    why: str


@dataclass(frozen=True, slots=True)
class Unanswered:
    """No usable answer this time (``why``); the next refresh asks again."""

    why: str


Failure = NotOffered | Unanswered


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """``/api/usage/token``: quota units left on the key (``available``) and used;
    ``account`` is the wallet behind the key when the gateway says (newer versions)."""

    available: int
    used: int
    unlimited: bool
    account: int | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """``/v1/dashboard/billing/subscription``: the limit in the site's display unit."""

    hard_limit: Decimal

    @property
    def unlimited(self) -> bool:
        return self.hard_limit >= UNLIMITED


@dataclass(frozen=True, slots=True)
class LogPage:
    """One answer of the request log: its charges and refunds, newest first."""

    charges: tuple[Charge, ...]
    paginated: bool = False
    total: int | None = None


def judge_status(status: int) -> Failure | None:
    """What an HTTP status says before the body is read: ``None`` for 200."""
    if status == 200:
        return None
    if status in (401, 403):
        return NotOffered(f"HTTP {status}: the route does not take this key")
    if status == 429 or status == 408 or status >= 500:
        return Unanswered(f"HTTP {status}")
    return NotOffered(f"HTTP {status}")


def _document(body: bytes) -> dict[str, Any] | NotOffered:
    if not body.strip():
        return NotOffered("an empty answer")
    if body.lstrip()[:1] == b"<":
        return NotOffered("a web page instead of JSON")
    try:
        doc = json.loads(body, parse_constant=lambda name: None)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return NotOffered("an answer that is not JSON")
    if not isinstance(doc, dict):
        return NotOffered("an answer that is not a JSON object")
    return doc


def _opened(status: int, body: bytes) -> dict[str, Any] | Failure:
    """The answer's JSON object, or what its status or body says instead."""
    failed = judge_status(status)
    return failed if failed is not None else _document(body)


def _message(doc: Mapping[str, Any]) -> str:
    """The failure's own words (``message``, or ``error.message``), one line."""
    message = doc.get("message")
    error = doc.get("error")
    if not isinstance(message, str) or not message.strip():
        message = error.get("message") if isinstance(error, Mapping) else error
    return clean_line(message, 200) if isinstance(message, str) else ""


def _refused(doc: Mapping[str, Any], what: str) -> NotOffered:
    said = _message(doc)
    return NotOffered(f"{what}: {said}" if said else what)


def _whole(value: object) -> int | None:
    """A 64-bit integer, or a float that is a whole number (JSON from some forks)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and -_INT64 <= value < _INT64:
        return value
    return None


def parse_token_usage(status: int, body: bytes) -> TokenUsage | Failure:
    doc = _opened(status, body)
    if not isinstance(doc, dict):
        return doc
    if doc.get("code") is not True and doc.get("success") is not True:
        return _refused(doc, "success: false")
    data = doc.get("data")
    if not isinstance(data, Mapping):
        return NotOffered("no data in the answer")
    available = _whole(data.get("total_available"))
    used = _whole(data.get("total_used"))
    unlimited = data.get("unlimited_quota") is True
    if available is None and not unlimited:
        return NotOffered("no total_available in the answer")
    account = data.get("account")
    wallet = _whole(account.get("quota")) if isinstance(account, Mapping) else None
    return TokenUsage(available or 0, max(used or 0, 0), unlimited, wallet)


def parse_subscription(status: int, body: bytes) -> Subscription | Failure:
    doc = _opened(status, body)
    if not isinstance(doc, dict):
        return doc
    if "error" in doc:
        return _refused(doc, "an error")
    limit = decimal_of(doc.get("hard_limit_usd"))
    if limit is None:
        return NotOffered("no hard_limit_usd in the answer")
    return Subscription(limit)


def parse_usage(status: int, body: bytes) -> Decimal | Failure:
    """``total_usage`` in the site's display unit (the answer gives hundredths)."""
    doc = _opened(status, body)
    if not isinstance(doc, dict):
        return doc
    if "error" in doc:
        return _refused(doc, "an error")
    usage = decimal_of(doc.get("total_usage"))
    if usage is None:
        return NotOffered("no total_usage in the answer")
    return usage / 100


def parse_status(status: int, body: bytes) -> Units | Failure:
    """How the site shows money. ``quota / quota_per_unit`` is US dollars in new-api;
    CNY and a custom unit multiply by the site's own published rate, and without that
    rate vidwatch stays with dollars rather than guess one."""
    doc = _opened(status, body)
    if not isinstance(doc, dict):
        return doc
    data = doc.get("data")
    if doc.get("success") is False or not isinstance(data, Mapping):
        return _refused(doc, "no status data")
    per_unit = decimal_of(data.get("quota_per_unit"))
    if per_unit is None or per_unit <= 0:
        return NotOffered("no quota_per_unit in the status")
    shown = data.get("quota_display_type")
    kind = shown.strip().upper() if isinstance(shown, str) else ""
    if not kind:  # older versions: a flag
        kind = "TOKENS" if data.get("display_in_currency") is False else "USD"
    if kind == "TOKENS":
        return Units(QUOTA, Decimal(1), Decimal(1), known=True)
    dollars = Units("USD", per_unit, Decimal(1), known=True)
    if kind == "CNY":
        rate = decimal_of(data.get("usd_exchange_rate"))
        return Units("CNY", per_unit, rate, known=True) if rate and rate > 0 else dollars
    if kind == "CUSTOM":
        symbol = data.get("custom_currency_symbol")
        name = clean_line(symbol, 12).strip() if isinstance(symbol, str) else ""
        rate = decimal_of(data.get("custom_currency_exchange_rate"))
        if name and rate and rate > 0:
            return Units(name, per_unit, rate, known=True)
    return dollars


def entry_key(entry: Mapping[str, Any]) -> str:
    """What tells a log entry apart from the others across answers (its ``id`` does not):
    a digest of when, what, for which model, how much, and its texts."""
    parts = [
        entry.get(name)
        for name in ("created_at", "type", "model_name", "quota", "token_name", "content", "other")
    ]
    text = json.dumps(parts, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def _other(value: object) -> Mapping[str, Any]:
    """An entry's ``other``: a JSON object in a string (an object as is, from a fork)."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or not value or len(value) > MAX_OTHER:
        return {}
    try:
        parsed = json.loads(value, parse_constant=lambda name: None)
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, Mapping) else {}


def _task_id(other: Mapping[str, Any]) -> str:
    value = other.get("task_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or validate_task_id(value) is not None:
        return ""  # the one ID rule: an ID with escapes or spaces is no task's
    return value


def _charge(entry: Mapping[str, Any], key: str) -> Charge | None:
    kind = _CHARGE_TYPES.get(_whole(entry.get("type")) or 0)
    quota = _whole(entry.get("quota"))
    stamp = _whole(entry.get("created_at"))
    at = epoch_time(float(stamp)) if stamp is not None else None
    if kind is None or quota is None or quota < 0 or at is None:
        return None
    model = entry.get("model_name")
    content = entry.get("content")
    return Charge(
        key=key,
        at=at,
        kind=kind,
        model=clean_line(model, 128) if isinstance(model, str) else "",
        quota=quota,
        task_id=_task_id(_other(entry.get("other"))),
        note=clean_line(content, 200) if isinstance(content, str) else "",
    )


def parse_log(status: int, body: bytes) -> LogPage | Failure:
    doc = _opened(status, body)
    if not isinstance(doc, dict):
        return doc
    if doc.get("success") is not True:
        return _refused(doc, "success: false")
    data = doc.get("data")
    paginated = isinstance(data, Mapping)
    total: int | None = None
    if isinstance(data, Mapping):
        total = _whole(data.get("total"))
        data = data.get("items")
    if data is None:  # Go's empty slice
        data = []
    if not isinstance(data, list):
        return NotOffered("the log is not a list")
    seen: Counter[str] = Counter()
    charges: list[Charge] = []
    for entry in data[:MAX_LOG_ENTRIES]:
        if not isinstance(entry, Mapping):
            continue
        key = entry_key(entry)
        seen[key] += 1
        if seen[key] > 1:  # the same charge twice in one second: both count
            key = f"{key}#{seen[key]}"
        charge = _charge(entry, key)
        if charge is not None:
            charges.append(charge)
    return LogPage(tuple(charges), paginated, total)
