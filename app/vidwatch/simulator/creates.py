"""The simulator's ``POST /v1/video/create``: the gateway's checks, errors and faults.

Kept apart from :mod:`vidwatch.simulator.server` (which serves queries and videos). The
seam between the two is :class:`Host`: what the create side needs of the server (the
key check, its jobs and clock, its answers). The server's handler calls
:func:`handle_create` with itself and the request; this module never imports the server.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from aiohttp import web

from vidwatch.core.create.catalogue import check_body, lookup
from vidwatch.simulator.faults import (
    coded_body,
    error_body,
    exhausted_key_body,
    invalid_key_body,
    no_channel_body,
    pop_fault,
    quota_body,
    rate_limit_body,
)
from vidwatch.simulator.jobs import Job, Stats
from vidwatch.simulator.shapes import create_body

__all__ = [
    "CREATE_FAULTS",
    "CREATE_HELP",
    "CreateDesk",
    "Host",
    "handle_control",
    "handle_create",
]

CREATE_FAULTS: Final = (
    "lose-answer",
    "drop",
    "malformed",
    "400",
    "401-exhausted",
    "429",
    "500",
    "502",
    "503",
    "504",
    "echo-key",
)
_GATEWAY_FAULTS: Final = ("500", "502", "503", "504")

CREATE_HELP: Final = """\
Creating jobs (POST /v1/video/create) on the simulator costs nothing. It takes the
models vidwatch knows (grok-video-3, veo3…, veo…-frames, veo3.1-components, sora-2,
sora-2-pro) and checks their fields as the gateway does; its errors are the open-source
gateway's (new-api). To see each:

  wrong key            any other key                       401 无效的令牌 (request id: …)
                                                           ({"error": {…}} envelope)
  unknown model        any other model name                503 model_not_found
  bad field            e.g. --param aspect_ratio=16:9 on   400 invalid_request
                       grok-video-3, or a bad image URL    ({"code", "message"} envelope)
  no balance           credit N: the N+1st create fails    403 quota_not_enough
  too many running     max_running N: a create while N     429 您已达到请求数限制…
                       created jobs are unfinished         (no Retry-After)
  answer lost          fault lose-answer: the job is made, the connection is dropped
                       before the answer (vidwatch must call the row "uncertain")
  connection dropped   fault drop: dropped after the request was read, before anything
                       is made (vidwatch cannot know: "uncertain" too)
  broken answer        fault malformed: the job is made, the answer is cut JSON
  refused row          fault 400: 400 invalid_request (no job is made)
  key used up          fault 401-exhausted: 401 该令牌额度已用尽 (no job is made)
  rate limited         fault 429: no body, no Retry-After, as new-api (no job is made);
                       with retry_after set, a Retry-After of that many seconds
  gateway errors       fault 500 | 502 | 503 | 504 (no job is made)
  key echoed           fault echo-key: a 400 that quotes the Authorization header
                       (vidwatch must never show or write it)

Drive a running simulator with
  curl -X POST $URL/_sim/create -d '{"credit": 3, "max_running": 5}'
  curl -X POST $URL/_sim/create -d '{"fault": "lose-answer", "count": 1, "after": 2}'
                                         (the 3rd create from now loses its answer)
  curl -X POST $URL/_sim/create -d '{"models": ["my-new-model"]}'   (give it a channel)
  curl -X POST $URL/_sim/create -d '{"retry_after": 600}'   (what the 429s ask; may be -5)
and read what it accepted with  curl $URL/_sim/stats  ("creates_accepted").
"""


@dataclass
class CreateDesk:
    """The create side's settings and counters (one per simulator)."""

    credit: int | None = None  # creates accepted before 403 quota_not_enough (None: no limit)
    quota_code: str = "quota_not_enough"  # or insufficient_user_quota
    max_running: int | None = None  # 429 while this many created jobs are unfinished
    retry_after: int | None = None  # the 429 fault's Retry-After (None: none, as new-api)
    extra_models: set[str] = field(default_factory=set)  # channels besides the catalogue's
    accepted: int = 0  # creates that made a job, answered or not
    bodies: list[dict[str, Any]] = field(default_factory=list)  # each accepted body
    job_ids: list[str] = field(default_factory=list)  # the jobs made, in order
    answers: Counter[int] = field(default_factory=Counter)  # by HTTP status
    faults: list[tuple[str, int]] = field(default_factory=list)

    def inject(self, kind: str, count: int = 1, *, after: int = 0) -> None:
        """Apply fault ``kind`` to ``count`` creates, once ``after`` more have gone by
        (faults queue up: each applies after the ones injected before it)."""
        if kind not in CREATE_FAULTS:
            raise ValueError(f"unknown create fault {kind!r}; one of {', '.join(CREATE_FAULTS)}")
        if after > 0:
            self.faults.append(("", after))  # creates answered normally
        self.faults.append((kind, count))

    def next_fault(self) -> str | None:
        return pop_fault(self.faults) or None  # "": a create answered normally

    def times_accepted(self, body: dict[str, Any]) -> int:
        """How many accepted creates had exactly this body (proof nothing was paid twice)."""
        return sum(1 for seen in self.bodies if seen == body)

    def has_channel(self, model: str) -> bool:
        return lookup(model) is not None or model in self.extra_models

    def configure(self, settings: dict[str, Any]) -> None:
        """Apply ``/_sim/create`` settings; ValueError/TypeError when malformed."""
        if "credit" in settings:
            self.credit = None if settings["credit"] is None else int(settings["credit"])
        if "max_running" in settings:
            value = settings["max_running"]
            self.max_running = None if value is None else int(value)
        if "retry_after" in settings:  # seconds the 429s ask for (may be 0 or negative)
            value = settings["retry_after"]
            self.retry_after = None if value is None else int(value)
        if "quota_code" in settings:
            self.quota_code = str(settings["quota_code"])
        if "models" in settings:
            self.extra_models.update(str(m) for m in settings["models"])
        if "fault" in settings:
            count, after = int(settings.get("count", 1)), int(settings.get("after", 0))
            self.inject(str(settings["fault"]), count, after=after)

    def stats(self) -> dict[str, object]:
        return {
            "creates_accepted": self.accepted,
            "create_answers": {str(k): v for k, v in self.answers.items()},
            "credit": self.credit,
        }


class Host(Protocol):
    """What the create side needs of the simulator it runs in."""

    create: CreateDesk
    stats: Stats
    jobs: dict[str, Job]

    def wall_time(self, sim_seconds: float) -> datetime: ...

    def key_ok(self, request: web.Request) -> bool: ...

    def now(self) -> float: ...

    def add_job(
        self,
        *,
        model: str,
        prompt: str,
        id_prefix: str,
        ratio: str,
        seconds: float = 0.0,
        orientation: str = "",
    ) -> str: ...

    def answer_json(
        self, status: int, body: object, headers: dict[str, str] | None = None
    ) -> web.Response: ...

    def answer_raw(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> web.Response: ...


async def handle_create(sim: Host, request: web.Request) -> web.StreamResponse:
    desk = sim.create
    sim.stats.requests += 1
    if not sim.key_ok(request):
        return _answer(sim, 401, invalid_key_body())
    fault = desk.next_fault()
    if fault == "drop":
        await request.read()  # it was received whole: a drop now is a lost answer
        return _drop(sim, request)
    if fault == "401-exhausted":
        return _answer(sim, 401, exhausted_key_body())
    if fault == "429":  # new-api's rate limiter: no body, and no Retry-After unless set
        desk.answers[429] += 1
        response = sim.answer_raw(429, b"", "text/plain")
        if desk.retry_after is not None:  # as other gateways send it
            response.headers["Retry-After"] = str(desk.retry_after)
        return response
    if fault in _GATEWAY_FAULTS:
        body = error_body("upstream error", "server_error", None)
        return _answer(sim, int(fault), body)
    if fault == "400":
        return _answer(sim, 400, coded_body("invalid_request", "the request was refused"))
    if fault == "echo-key":
        echoed = f"bad auth header {request.headers.get('Authorization', '')}"
        return _answer(sim, 400, coded_body("invalid_request", echoed))
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _answer(sim, 400, coded_body("invalid_request", "body is not JSON"))
    if not isinstance(body, dict):
        return _answer(sim, 400, coded_body("invalid_request", "body must be a JSON object"))
    refusal = _refusal(sim, body)
    if refusal is not None:
        status, payload, headers = refusal
        return _answer(sim, status, payload, headers)
    model = str(body["model"])
    spec = lookup(model)
    ratio = body.get("aspect_ratio")
    seconds = body.get("duration", body.get("seconds"))
    orientation = body.get("orientation")
    task_id = sim.add_job(
        model=model,
        prompt=str(body["prompt"])[:2000],
        id_prefix=spec.id_prefix if spec else model,
        ratio=ratio if isinstance(ratio, str) else "",
        # what the video will be: as long as asked, in the orientation asked
        seconds=float(seconds) if isinstance(seconds, int | float) and 0 < seconds <= 60 else 0.0,
        orientation=orientation if isinstance(orientation, str) else "",
    )
    desk.accepted += 1
    desk.bodies.append(body)
    desk.job_ids.append(task_id)
    if desk.credit is not None:
        desk.credit -= 1
    if fault == "lose-answer":
        return _drop(sim, request)
    if fault == "malformed":
        return sim.answer_raw(200, b'{"id": "' + task_id.encode()[:8], "application/json")
    return _answer(sim, 200, create_body(sim.jobs[task_id], sim.now(), sim.wall_time))


def _refusal(
    sim: Host, body: dict[str, Any]
) -> tuple[int, dict[str, object], dict[str, str] | None] | None:
    """The gateway's checks, in its order: model channel, fields, balance, load."""
    desk = sim.create
    model = body.get("model")
    if isinstance(model, str) and model and not desk.has_channel(model):
        return 503, no_channel_body(model), None
    problem = check_body(body)
    if problem is not None:
        return 400, coded_body("invalid_request", problem), None
    if desk.credit is not None and desk.credit <= 0:
        return 403, quota_body(desk.quota_code), None
    if desk.max_running is not None:
        now = sim.now()
        running = sum(1 for i in desk.job_ids if sim.jobs[i].finishes_at > now)
        if running >= desk.max_running:
            return 429, rate_limit_body(desk.max_running), None
    return None


def _drop(sim: Host, request: web.Request) -> web.StreamResponse:
    """Close the connection before any answer is written."""
    sim.create.answers[0] += 1
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


def _answer(
    sim: Host, status: int, body: object, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    sim.create.answers[status] += 1
    return sim.answer_json(status, body, headers)


async def handle_control(sim: Host, request: web.Request) -> web.StreamResponse:
    """``POST /_sim/create {"credit": 3, "max_running": 5, "fault": "…", "count": 1,
    "models": [...]}`` — for driving a running simulator."""
    try:
        settings = await request.json()
        if not isinstance(settings, dict):
            raise TypeError("expected a JSON object")
        sim.create.configure(settings)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        return sim.answer_json(400, {"error": str(exc)})
    return sim.answer_json(200, {"ok": True, **sim.create.stats()})
