"""What can go wrong on the simulator, and what the gateway says when it does.

:data:`FAULTS` are the query faults a test or ``vidwatch simulate --chaos`` can switch on
(the answers themselves are served by :mod:`vidwatch.simulator.server`; the create side's
are in :mod:`vidwatch.simulator.creates`); :data:`CHAOS_WEIGHTS` says how often chaos picks
each. Injected faults wait in a queue of ``(kind, requests left)`` that
:func:`pop_fault` counts down.

The error bodies are new-api's (the open-source gateway these services run; its
``middleware/`` and ``relay/``, summed up in ``shared/api.md``): its own
``{"error": {"message": "… (request id: …)", "type": "new_api_error"}}`` from the key
check and the channel choice, OpenAI's ``{"error": {…, "type": "invalid_request_error"}}``
for an unknown route, and the task routes' ``{"code", "message", "data"}``. A 429 from
its rate limiter has no body and no ``Retry-After``.
"""

from __future__ import annotations

import json
import random
import textwrap
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

__all__ = [
    "AUTH_BURST",
    "AUTH_FAULTS",
    "CHAOS_WEIGHTS",
    "FAULTS",
    "FAULTS_HELP",
    "canned_answer",
    "coded_body",
    "error_body",
    "exhausted_key_body",
    "invalid_key_body",
    "invalid_url_body",
    "no_channel_body",
    "not_found_body",
    "pop_fault",
    "quota_body",
    "rate_limit_body",
]

FAULTS = (
    "401",
    "401-exhausted",
    "404",
    "429",
    "429-date",
    "429-bare",
    "500",
    "502",
    "503",
    "html",
    "empty",
    "malformed",
    "truncated",
    "reset",
    "wrong-types",
    "missing-fields",
    "huge",
    "slow",
    "drop",
    "echo-key",
    "redirect",
)
# How often chaos picks each fault, relative to the others. A 429 stops the whole host
# for its Retry-After and a 401 burst stops everything until the user resumes, so
# those are rarer; everything else is equally likely.
CHAOS_WEIGHTS: dict[str, float] = {
    **dict.fromkeys(FAULTS, 1.0),
    "401": 0.1,
    "401-exhausted": 0.05,
    "429": 0.25,
    "429-date": 0.25,
    "429-bare": 0.25,
    "huge": 0.5,
    "slow": 0.5,
}
FAULTS_HELP = "\n".join(
    textwrap.wrap(
        "Query faults (--chaos picks among them; or switch one on for the next N queries: "
        'curl -X POST $URL/_sim/fault -d \'{"kind": "429-bare", "count": 3}\'): '
        + ", ".join(FAULTS)
        + ". 401: a wrong key; 401-exhausted: a used-up key (该令牌额度已用尽); 404: an "
        "unknown task as some gateways say it; 429: Retry-After in seconds; 429-date: as "
        "an HTTP date; 429-bare: no body, no Retry-After (new-api).",
        88,
        break_on_hyphens=False,
        break_long_words=False,
    )
)
AUTH_BURST = (2, 5)  # a chaos 401 answers this many requests in a row
AUTH_FAULTS = ("401", "401-exhausted")
_LETTERS = random.Random()  # request ids only: never the seeded draws


def pop_fault(queue: list[tuple[str, int]]) -> str | None:
    """The fault for this request from a queue of ``(kind, requests left)``, counted down;
    ``None`` when the queue is empty."""
    if not queue:
        return None
    kind, count = queue[0]
    if count <= 1:
        queue.pop(0)
    else:
        queue[0] = (kind, count - 1)
    return kind


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, object]:
    """OpenAI's error envelope, as the gateway relays it."""
    return {"error": {"message": message, "type": kind, "code": code}}


def coded_body(code: str, message: str) -> dict[str, object]:
    """The task routes' error envelope."""
    return {"code": code, "message": message, "data": None}


def request_id() -> str:
    """new-api's request id: the time to the second, nanoseconds, eight random letters."""
    now = time.time_ns()
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    tail = "".join(_LETTERS.choice(letters) for _ in range(8))
    return f"{time.strftime('%Y%m%d%H%M%S', time.gmtime(now // 10**9))}{now % 10**9}{tail}"


def _new_api_body(message: str, code: str | None = None) -> dict[str, object]:
    """new-api's own envelope (its ``abortWithOpenAiMessage``)."""
    error: dict[str, object] = {
        "message": f"{message} (request id: {request_id()})",
        "type": "new_api_error",
    }
    if code is not None:
        error["code"] = code
    return {"error": error}


def invalid_key_body() -> dict[str, object]:
    """The 401 for a missing or wrong key."""
    return _new_api_body("无效的令牌")


def exhausted_key_body() -> dict[str, object]:
    """The 401 for a key whose own quota is used up."""
    return _new_api_body("该令牌额度已用尽")


def quota_body(code: str = "quota_not_enough") -> dict[str, object]:
    """The 403 when the account's balance is used up."""
    return coded_body(code, "user quota is not enough")


def no_channel_body(model: str, group: str = "default") -> dict[str, object]:
    """The 503 when no channel serves the model."""
    return _new_api_body(f"当前分组 {group} 下对于模型 {model} 无可用渠道", "model_not_found")


def rate_limit_body(per_minute: int) -> dict[str, object]:
    """The 429 of new-api's per-model request limit (its global limiter sends no body)."""
    return _new_api_body(f"您已达到请求数限制：1分钟内最多请求{per_minute}次")


def not_found_body() -> dict[str, object]:
    """The body for a task ID the gateway does not know (new-api: with a 400)."""
    return coded_body("task_not_exist", "task_not_exist")


def invalid_url_body(method: str, path: str) -> dict[str, object]:
    """The 404 for a route the gateway does not have, answered before the key is
    checked (``Invalid URL (GET /v1/v1/video/query)`` when the base URL ends in /v1)."""
    return {
        "error": {
            "message": f"Invalid URL ({method} {path})",
            "type": "invalid_request_error",
            "param": "",
            "code": "",
        }
    }


# A fault's whole answer: status, body, content type, headers, and the wait a 429 asks for.
Canned = tuple[int, bytes, str, dict[str, str], float | None]
_JSON = "application/json"


def canned_answer(kind: str, retry_after: int, authorization: str = "") -> Canned | None:
    """The answer of a fault that is nothing but an answer (no wait, no cut connection,
    no redirect): ``None`` for the others. ``authorization`` is what ``echo-key`` quotes."""
    if kind in ("401", "401-exhausted"):
        body = invalid_key_body() if kind == "401" else exhausted_key_body()
        return _canned(401, body)
    if kind == "404":  # some gateways answer an unknown task with a 404
        return _canned(404, not_found_body())
    if kind == "429":
        limited = error_body("Rate limit reached", "rate_limit")
        return _canned(429, limited, {"Retry-After": str(retry_after)}, float(retry_after))
    if kind == "429-date":
        # HTTP dates have whole seconds: the wait is between retry_after and one more.
        now = datetime.now(UTC)
        when = now.replace(microsecond=0) + timedelta(seconds=retry_after + 1)
        headers = {"Retry-After": format_datetime(when, usegmt=True)}
        limited = error_body("Rate limit reached", "rate_limit")
        return _canned(429, limited, headers, (when - now).total_seconds())
    if kind == "429-bare":  # new-api's rate limiter: no body, no Retry-After
        return 429, b"", "text/plain", {}, None
    if kind in ("500", "502", "503"):
        return _canned(int(kind), error_body("upstream error", "server_error"))
    if kind == "echo-key":  # a hostile or careless server repeats the credentials
        return _canned(500, error_body(f"bad auth header: {authorization}", "server_error"))
    if kind == "wrong-types":
        wrong = {"id": 7, "status": ["completed"], "video_url": 12, "status_update_time": "soon"}
        return _canned(200, wrong)
    if kind == "missing-fields":
        return _canned(200, {"id": "x"})
    if kind == "huge":
        return 200, b'{"id": "' + b"x" * (2 * 1024 * 1024) + b'"}', _JSON, {}, None
    raw = {
        "html": (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
        "empty": (200, b"", _JSON),
        "malformed": (200, b'{"id": "x", "status": ', _JSON),
        "truncated": (200, b'{"id": "abc", "status": "proc', _JSON),  # JSON cut halfway
    }.get(kind)
    return None if raw is None else (*raw, {}, None)


def _canned(
    status: int, body: object, headers: dict[str, str] | None = None, wait: float | None = None
) -> Canned:
    data = json.dumps(body, ensure_ascii=False).encode()
    return status, data, _JSON, headers or {}, wait
