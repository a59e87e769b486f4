"""What the answer to ``POST /v1/video/create`` means, and what a lost answer means.

:func:`parse_create_response` turns one HTTP answer into a typed outcome and never
raises. Both error envelopes are read: ``{"code", "message", "data"}`` (task routes) and
``{"error": {"message", "type", "code"}}`` (OpenAI style). Every text taken from the
server is cleaned (no escapes, control or bidi characters) and capped.

=========================  ==================================================  ============
answer                     outcome                                             job made?
=========================  ==================================================  ============
2xx with a usable ``id``   :class:`Created`                                    yes
2xx without one            :class:`CreateBadResponse`                                maybe
2xx, quota/no-channel code :class:`Refused` / :class:`NoChannel`               no
4xx (not 404, 408, 429)    :class:`Refused` (403 quota, 400 bad field, 401…)   no
404                        :class:`WrongUrl` (no such route: the base URL)     no
408                        :class:`CreateTimedOut` (a server or proxy on the   maybe
                           way gave up waiting: it may have passed it on)
429                        :class:`CreateRateLimited` (``Retry-After`` honoured)     no
503 / 404 with a model     :class:`NoChannel`                                  no
code (``model_not_found``)
503 otherwise              :class:`CreateServerError` (``unavailable``)              no
other 5xx                  :class:`CreateServerError` (500, 502, 504, 524…)          maybe
301/302/303/307/308        :class:`CreateBadResponse` (a redirect is not followed:   no
                           the key goes nowhere else)
anything else (304, 1xx…)  :class:`CreateBadResponse` (not an answer to a create)    maybe
=========================  ==================================================  ============

"Maybe" is the heart of never paying twice: a gateway that answers 500/502/504 may have
passed the job upstream before failing (gateways themselves never retry a create on
504/524 for this reason), and a 200 with a body we cannot read most likely made a job.
:attr:`made_job` says ``True``, ``False`` or ``None`` (maybe).

When no answer arrives at all, :func:`classify_transport_error` decides from the httpx
exception whether the request can have reached the server (the client's ``create``
returns it as :class:`NoAnswer`):

- **not sent** — ``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``, ``ProxyError``,
  ``UnsupportedProtocol``, ``InvalidURL``: no connection was ever made for this request;
  ``WriteError``, ``WriteTimeout``: the transport failed while writing the request, so
  it never went out whole (a server acts on a create only once it has read the whole
  body). Retrying cannot create a second job.
- **uncertain** — ``ReadTimeout``, ``ReadError``, ``RemoteProtocolError``,
  ``NetworkError`` (the connection was lost after the request was written: the server
  hung up without answering), and *anything else* (cancellation, an unknown error): the
  body may have been read and the job made. Never sent again automatically.

Transports must raise httpx's exception types. :mod:`vidwatch.core.gateway.http` maps
aiohttp's onto them, ``WriteError`` only where aiohttp says it could not write the
request. That verdict holds because a create goes out on a connection opened for it
(``purpose="create"``): on a kept-alive connection the server may have closed in the
meantime, a request can be written whole and still never be read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from vidwatch.core.gateway.outcomes import WrongUrl
from vidwatch.core.gateway.parsing import (
    REDIRECTS,
    page_detail,
    parse_retry_after,
    redirect_words,
    task_result,
)
from vidwatch.core.model.records import (
    MAX_ID_LENGTH,
    TaskResult,
    plausible_time,
    utcnow,
    validate_task_id,
)
from vidwatch.core.text.sanitize import MAX_SHORT, clean_line

__all__ = [
    "ACCOUNT_CODES",
    "CreateBadResponse",
    "CreateOutcome",
    "CreateRateLimited",
    "CreateServerError",
    "CreateTimedOut",
    "Created",
    "NoAnswer",
    "NoChannel",
    "Refused",
    "SendFate",
    "answer_text",
    "classify_transport_error",
    "parse_create_response",
]

MAX_BODY: Final = 256 * 1024  # a create answer is a few hundred bytes
MAX_ANSWERED_ID: Final = 4 * MAX_ID_LENGTH  # of an unusable ID, what is kept to show
MAX_MESSAGE: Final = 500
# Codes that say "this account cannot create now", not "this row is wrong".
ACCOUNT_CODES: Final = frozenset(
    {
        "quota_not_enough",
        "insufficient_user_quota",
        "insufficient_quota",
        "invalid_api_key",
        "account_deactivated",
    }
)


def answer_text(status: int | None, code: str, message: str) -> str:
    """A create's answer as every interface says it: ``403 quota_not_enough: user quota
    is not enough``. Without a status no code is shown: the codes of sends that got no
    answer (``lost``, ``connect``) are vidwatch's, not the server's."""
    head = f"{status} {code}".strip() if status is not None else ""
    return f"{head}: {message}" if head and message else head or message


@dataclass(frozen=True, slots=True)
class Created:
    """The gateway took the job. ``task_id`` is exactly as returned (``grok:…``).
    ``result``: what the answer says of the task, read as a query's answer is (veo's
    ``detail`` fields kept as capped extras), or None when it says nothing usable."""

    task_id: str
    status: str
    status_update_time: datetime | None
    made_job: bool | None = True
    result: TaskResult | None = field(default=None, compare=False, repr=False)

    @property
    def message(self) -> str:
        return f"created {self.task_id}"


@dataclass(frozen=True, slots=True)
class Refused:
    """A definite no (4xx): no job was made. ``code``/``message`` are the server's, cleaned."""

    status: int
    code: str
    message: str
    made_job: bool | None = False

    @property
    def account_level(self) -> bool:
        """True when the account, not the row, is the problem (key, balance, wrong URL):
        every other row would get the same answer, and the row may be sent as it is later."""
        return (
            self.status in (401, 402, 404, 405)
            or self.code.lower() in ACCOUNT_CODES
            or "quota" in self.code.lower()
        )

    @property
    def text(self) -> str:
        """``403 quota_not_enough: user quota is not enough``."""
        return answer_text(self.status, self.code, self.message)


@dataclass(frozen=True, slots=True)
class NoChannel:
    """503 ``model_not_found``: the gateway has no channel for the model; no job was made."""

    model_hint: str
    message: str
    status: int = 503
    made_job: bool | None = False


@dataclass(frozen=True, slots=True)
class CreateRateLimited:
    """429: too many requests or too many running jobs. No job was made."""

    retry_after: float | None
    message: str
    code: str = ""
    status: int = 429
    made_job: bool | None = False


@dataclass(frozen=True, slots=True)
class CreateTimedOut:
    """408: a server on the way gave up waiting. It cannot be told from the answer whether
    that was the gateway before it read the request or a proxy after it had passed the
    request on (a job may have been made), so the job is "maybe", never sent again
    automatically."""

    status: int
    code: str
    message: str
    made_job: bool | None = None


@dataclass(frozen=True, slots=True)
class CreateServerError:
    """5xx. ``made_job`` is False only for a plain 503 (unavailable: nothing was done)."""

    status: int
    code: str
    message: str

    @property
    def made_job(self) -> bool | None:
        return False if self.status == 503 else None


@dataclass(frozen=True, slots=True)
class CreateBadResponse:
    """An answer that cannot be read. After a 2xx the job was most likely made.
    ``answered_id``: the ID the answer held when it fails the one ID rule (raw, cut to
    :data:`MAX_ANSWERED_ID` characters; show it escaped)."""

    status: int
    reason: str
    answered_id: str = ""

    @property
    def made_job(self) -> bool | None:
        # Only a redirect proves nothing was acted on; a 304, a 1xx or a status no server
        # should send may come from anything on the way: "maybe", never "not sent".
        return False if self.status in REDIRECTS else None


class SendFate(StrEnum):
    """Whether a request that got no answer can have made a job."""

    NOT_SENT = "not_sent"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """No answer came (the client's verdict on the exception, see
    :func:`classify_transport_error`): ``NOT_SENT`` no job can have been made;
    ``UNCERTAIN`` the request may have gone out and made one."""

    fate: SendFate
    reason: str

    @property
    def made_job(self) -> bool | None:
        return False if self.fate is SendFate.NOT_SENT else None


CreateOutcome = (
    Created
    | Refused
    | NoChannel
    | CreateTimedOut
    | WrongUrl
    | CreateRateLimited
    | CreateServerError
    | CreateBadResponse
    | NoAnswer
)
_MODEL_CODES: Final = frozenset({"model_not_found", "no_available_channel"})


def classify_transport_error(exc: BaseException) -> SendFate:
    """``NOT_SENT`` only when no connection was made for the request or it was not
    written whole; else ``UNCERTAIN``.

    ``ConnectTimeout`` is a ``TimeoutException`` like ``ReadTimeout``, so the check is by
    the precise classes, never by a base class; unknown errors are uncertain.
    """
    # httpx is imported here, where a send failed (so it is loaded already): reading the
    # record of sends (``vidwatch list``) must not load the HTTP stack.
    import httpx

    not_sent = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.ProxyError,
        httpx.UnsupportedProtocol,
        httpx.InvalidURL,
        httpx.WriteError,
        httpx.WriteTimeout,
    )
    return SendFate.NOT_SENT if isinstance(exc, not_sent) else SendFate.UNCERTAIN


def parse_create_response(
    status: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
) -> CreateOutcome:
    """One HTTP answer to a create as a typed outcome. Never raises.

    ``headers`` must be case-insensitive (httpx's are) or use lower-case keys.
    """
    try:
        return _parse(status, headers, body, now or utcnow())
    except Exception as exc:  # a defect here must not lose the fact that an answer came
        return CreateBadResponse(status, f"could not be read ({type(exc).__name__})")


def _parse(status: int, headers: Mapping[str, str], body: bytes, now: datetime) -> CreateOutcome:
    if len(body) > MAX_BODY:
        return CreateBadResponse(status, f"body larger than {MAX_BODY // 1024} KiB")
    data, problem = _decode(body)
    code, message = _error_of(data)
    if 200 <= status <= 299:
        if problem:
            return CreateBadResponse(status, problem)
        return _created(status, data, code, message, now)
    said = message  # the server's own words only, not why its body could not be read
    message = message or problem or ""
    if status == 408:
        return CreateTimedOut(status, code, said)
    if status == 429:
        return CreateRateLimited(parse_retry_after(headers.get("retry-after"), now), message, code)
    if status in (404, 503) and code.lower() in _MODEL_CODES:
        return NoChannel(_model_in(message), message, status)
    if 500 <= status <= 599:
        return CreateServerError(status, code, message)
    if status == 404:  # no such route (the client names the address and the fix)
        return WrongUrl(status, message or (page_detail(body) if data is None else ""))
    if 400 <= status <= 499:
        return Refused(status, code, message)
    if 300 <= status <= 399:
        return CreateBadResponse(status, redirect_words(status))
    return CreateBadResponse(status, f"unexpected HTTP status {status}")


def _created(status: int, data: object, code: str, message: str, now: datetime) -> CreateOutcome:
    if not isinstance(data, Mapping):
        return CreateBadResponse(status, "the answer is not a JSON object")
    inner = data.get("data")
    if "id" not in data and "task_id" not in data and isinstance(inner, Mapping):
        data = inner  # {"code": "success", "data": {"id": ...}}
    task_id = data.get("id") or data.get("task_id")
    if not isinstance(task_id, str) or not task_id.strip():
        # Some gateways answer errors with 200. Codes that are only ever given before
        # anything goes upstream are a definite no; any other error stays "maybe".
        if code.lower() == "model_not_found":
            return NoChannel(_model_in(message), message, status)
        if code.lower() in ACCOUNT_CODES:
            return Refused(status, code, message)
        why = f"no task id in the answer ({message})" if message else "no task id in the answer"
        return CreateBadResponse(status, why)
    task_id = task_id.strip()
    problem = validate_task_id(task_id)  # the one ID rule: what the task file can hold
    if problem is not None:
        why = f"the gateway answered with an ID vidwatch cannot use ({problem})"
        return CreateBadResponse(status, why, task_id[:MAX_ANSWERED_ID])
    raw_status = data.get("status")
    word = clean_line(raw_status, MAX_SHORT) if isinstance(raw_status, str) else ""
    result = task_result(data, now)  # kept for what a bare answer lacks: its extras
    kept = result if result is not None and result.extras else None
    return Created(task_id, word, _epoch(data.get("status_update_time")), result=kept)


def _decode(body: bytes) -> tuple[object, str]:
    """(JSON or None, why it could not be read or "")."""
    if not body.strip():
        return None, "empty answer"
    if body.lstrip()[:1] == b"<":
        return None, "an HTML page instead of JSON (a proxy or gateway error?)"
    try:
        return json.loads(body), ""
    except UnicodeDecodeError:
        return None, "the answer is not UTF-8"
    except (ValueError, RecursionError):
        return None, "the answer is not valid JSON"


def _error_of(data: object) -> tuple[str, str]:
    """(code, message) from either envelope; ("", "") when there is none."""
    if not isinstance(data, Mapping):
        return "", ""
    error = data.get("error")
    if isinstance(error, Mapping):
        return _text(error.get("code"), MAX_SHORT), _text(error.get("message"), MAX_MESSAGE)
    message = _text(data.get("message") or data.get("msg") or error, MAX_MESSAGE)
    code = _text(data.get("code"), MAX_SHORT)
    return ("" if code.lower() in ("success", "0", "200") else code), message


def _text(value: object, limit: int) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str | int):
        return clean_line(str(value), limit)
    return ""


def _model_in(message: str) -> str:
    """The model a 'no channel' message names, when it quotes one or says it the way
    new-api does (``当前分组 default 下对于模型 veo9 无可用渠道``); else ""."""
    for quote in ("'", '"', "`"):
        start = message.find(quote)
        end = message.find(quote, start + 1)
        if 0 <= start < end:
            return message[start + 1 : end][:MAX_SHORT]
    _, said, rest = message.partition("对于模型 ")
    model, ended, _ = rest.partition(" 无可用渠道")
    return model.strip()[:MAX_SHORT] if said and ended else ""


def _epoch(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / 1000.0 if value > 1e12 else float(value)  # ms when above 1e12
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    try:
        return plausible_time(datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        return None
