"""The simulator's money: balance, usage and the request log, as new-api answers them.

Each job is charged when it is made, at a per-model price that depends on the fields
that set a price (``duration``/``seconds``, ``size``); some failed jobs are refunded
when they fail (new-api's refund entry, naming the task), the others stay charged (a
"failed but charged" job). The balance is what is left of :data:`START_QUOTA`. sora's
charges name their task in ``other`` (as new-api's task settlements do); the others do
not (matched by model and time). With ``offered`` off, every billing route answers
new-api's 404, as a gateway that offers none of them.

Routes (``shared/api.md``, "Balance and usage"): ``/api/status`` (public),
``/api/usage/token``, ``/v1/dashboard/billing/subscription``,
``/v1/dashboard/billing/usage``, ``/api/log/token`` (the last 100 entries, newest first).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from aiohttp import web

from vidwatch.simulator.creates import CreateDesk
from vidwatch.simulator.jobs import Job

__all__ = ["PRICES", "QUOTA_PER_UNIT", "START_QUOTA", "BillingDesk", "price_of"]

QUOTA_PER_UNIT: Final = 500_000
START_QUOTA: Final = 15_600_000  # 31.20 USD
PRICES: Final = {"grok": 0.24, "sora": 0.40, "veo": 0.50, "doc": 0.30}  # USD, base length
LOG_SIZE: Final = 100  # new-api answers its last 100 entries


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.rstrip("s"))
        except ValueError:
            return None
    return None


def price_of(family: str, body: Mapping[str, Any] | None) -> int:
    """Quota units a job costs: the model's price, × length / 10 s, × 1.5 when large."""
    price = PRICES.get(family, PRICES["doc"])
    body = body or {}
    seconds = _number(body.get("duration", body.get("seconds")))
    if seconds is not None and 0 < seconds <= 60:
        price *= seconds / 10
    size = str(body.get("size", "")).lower()
    if size in ("large", "1080p", "1792x1024", "1024x1792"):
        price *= 1.5
    return round(price * QUOTA_PER_UNIT)


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    kind: int  # 2 a charge, 6 a refund
    model: str
    quota: int
    task_id: str


class Host(Protocol):
    jobs: dict[str, Job]
    create: CreateDesk

    def now(self) -> float: ...

    def wall_time(self, sim_seconds: float) -> datetime: ...

    def key_ok(self, request: web.Request) -> bool: ...

    def answer_json(
        self, status: int, body: object, headers: dict[str, str] | None = None
    ) -> web.Response: ...


class BillingDesk:
    """The simulator's billing routes (see the module's docstring)."""

    def __init__(self, host: Host, not_found: Callable[[web.Request], Any]) -> None:
        self.host = host
        self.offered = True
        self.asked: dict[str, int] = {}  # route → requests
        self._not_found = not_found

    def entries(self) -> list[Entry]:
        """Every entry so far, oldest first."""
        host, now = self.host, self.host.now()
        bodies = dict(zip(host.create.job_ids, host.create.bodies, strict=False))
        out: list[Entry] = []
        for number, job in enumerate(host.jobs.values()):
            quota = price_of(job.family, bodies.get(job.id))
            named = job.id if job.family == "sora" else ""
            out.append(Entry(host.wall_time(job.created), 2, job.model, quota, named))
            if job.fails and number % 2 == 0 and job.finishes_at <= now:
                out.append(Entry(host.wall_time(job.finishes_at), 6, job.model, quota, job.id))
        out.sort(key=lambda e: e.at)
        return out

    def used(self) -> int:
        return sum(e.quota if e.kind == 2 else -e.quota for e in self.entries())

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/usage/token", self._token_usage)
        app.router.add_get("/v1/dashboard/billing/subscription", self._subscription)
        app.router.add_get("/v1/dashboard/billing/usage", self._usage)
        app.router.add_get("/api/log/token", self._log)

    async def _gate(self, request: web.Request, *, key: bool = True) -> web.StreamResponse | None:
        self.asked[request.path] = self.asked.get(request.path, 0) + 1
        if not self.offered:
            answer: web.StreamResponse = await self._not_found(request)
            return answer
        if key and not self.host.key_ok(request):
            body = {"success": False, "message": "无权进行此操作，未登录且未提供 access token"}
            return self.host.answer_json(401, body)
        return None

    async def _status(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request, key=False)
        if refused is not None:
            return refused
        data = {"quota_per_unit": QUOTA_PER_UNIT, "quota_display_type": "USD"}
        return self.host.answer_json(200, {"success": True, "message": "", "data": data})

    async def _token_usage(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        used = self.used()
        data = {
            "object": "token_usage",
            "name": "vidwatch",
            "total_granted": START_QUOTA,
            "total_used": used,
            "total_available": START_QUOTA - used,
            "unlimited_quota": False,
            "model_limits": {},
            "expires_at": 0,
        }
        return self.host.answer_json(200, {"code": True, "message": "ok", "data": data})

    async def _subscription(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        limit = START_QUOTA / QUOTA_PER_UNIT
        body = {
            "object": "billing_subscription",
            "has_payment_method": True,
            "soft_limit_usd": limit,
            "hard_limit_usd": limit,
            "system_hard_limit_usd": limit,
            "access_until": 0,
        }
        return self.host.answer_json(200, body)

    async def _usage(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        body = {"object": "list", "total_usage": self.used() / QUOTA_PER_UNIT * 100}
        return self.host.answer_json(200, body)

    async def _log(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        newest = list(reversed(self.entries()))[:LOG_SIZE]
        data = [
            {
                "id": number + 1,
                "created_at": int(entry.at.timestamp()),
                "type": entry.kind,
                "content": "task refunded" if entry.kind == 6 else "video task",
                "username": "sim",
                "token_name": "vidwatch",
                "model_name": entry.model,
                "quota": entry.quota,
                "use_time": 0,
                "is_stream": False,
                "other": json.dumps({"task_id": entry.task_id}) if entry.task_id else "",
            }
            for number, entry in enumerate(newest)
        ]
        return self.host.answer_json(200, {"success": True, "message": "", "data": data})
