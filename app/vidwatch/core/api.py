"""The QuickRouter query client and the parsing of its answers.

Every call returns one typed :data:`Outcome`; no exception escapes
:meth:`QueryClient.query`. Parsing is a pure function
(:func:`parse_response`) so it can be fuzzed and unit-tested without a network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import httpx

from vidwatch import __version__
from vidwatch.core import fields
from vidwatch.core.models import (
    Problem,
    State,
    TaskResult,
    canonical_state,
    plausible_time,
    utcnow,
)
from vidwatch.core.sanitize import (
    MAX_SHORT,
    MAX_TEXT,
    clean_line,
    clean_text,
    url_problem,
)

__all__ = [
    "MAX_BODY",
    "MAX_RETRY_AFTER",
    "AuthRejected",
    "BadResponse",
    "InsecureURLError",
    "NetworkError",
    "NotFound",
    "Ok",
    "Outcome",
    "QueryClient",
    "RateLimited",
    "ServerError",
    "check_base_url",
    "is_loopback_url",
    "parse_response",
    "parse_retry_after",
]

MAX_BODY: Final = 1024 * 1024  # bodies over 1 MiB are refused
MAX_RETRY_AFTER: Final = 3600.0  # a hostile Retry-After cannot stop us for days
MAX_MESSAGE: Final = 300
QUERY_PATH: Final = "/v1/video/query"


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class Ok:
    """A well-formed answer about the task."""

    result: TaskResult
    poll_after: float | None = None  # the server's hint (``openai-poll-after-ms``), seconds

    @property
    def message(self) -> str:
        return ""

    @property
    def problem(self) -> Problem | None:
        return None


@dataclass(frozen=True, slots=True)
class AuthRejected:
    """401/402/403: the key is wrong, out of balance, or not allowed."""

    status: int
    detail: str = ""

    @property
    def problem(self) -> Problem:
        return Problem.AUTH

    @property
    def message(self) -> str:
        what = {
            401: "The API key was rejected (HTTP 401)",
            402: "The account has no balance left (HTTP 402)",
            403: "The API key is not allowed to do this (HTTP 403)",
        }.get(self.status, f"The API key was rejected (HTTP {self.status})")
        hint = "check QUICKROUTER_API_KEY or api_key in the config file"
        return _join(what, self.detail, hint)


@dataclass(frozen=True, slots=True)
class NotFound:
    """404, or 400 with ``task_not_exist``: the server does not know this ID."""

    status: int
    detail: str = ""

    @property
    def problem(self) -> Problem:
        return Problem.NOT_FOUND

    @property
    def message(self) -> str:
        # What to do (check the ID and base_url) is the problem's advice, shown beside it.
        what = f"The server does not know this task (HTTP {self.status})"
        return f"{what}: {self.detail}" if self.detail else what


@dataclass(frozen=True, slots=True)
class RateLimited:
    """429. ``retry_after`` is seconds from now when the server said so."""

    retry_after: float | None = None
    detail: str = ""

    @property
    def problem(self) -> Problem:
        return Problem.RATE_LIMITED

    @property
    def message(self) -> str:
        wait = (
            f"the server asked to wait {self.retry_after:.0f} s"
            if self.retry_after is not None
            else "backing off"
        )
        return _join("Rate limited (HTTP 429)", self.detail, wait)


@dataclass(frozen=True, slots=True)
class ServerError:
    """5xx: the gateway or the upstream model failed; retried later."""

    status: int
    detail: str = ""

    @property
    def problem(self) -> Problem:
        return Problem.SERVER

    @property
    def message(self) -> str:
        return _join(f"Server error (HTTP {self.status})", self.detail, "will retry")


@dataclass(frozen=True, slots=True)
class BadResponse:
    """An answer we cannot use: not JSON, wrong types, missing fields, too big…"""

    reason: str
    status: int | None = None

    @property
    def problem(self) -> Problem:
        return Problem.BAD_RESPONSE

    @property
    def message(self) -> str:
        where = f" (HTTP {self.status})" if self.status is not None else ""
        return f"Unusable answer from the server{where}: {self.reason}; will retry"


@dataclass(frozen=True, slots=True)
class NetworkError:
    """No answer: connection refused, reset, DNS failure, timeout."""

    reason: str
    timeout: bool = False

    @property
    def problem(self) -> Problem:
        return Problem.TIMEOUT if self.timeout else Problem.NETWORK

    @property
    def message(self) -> str:
        what = "Timed out" if self.timeout else "Network error"
        return f"{what}: {self.reason}; will retry"


Outcome = Ok | AuthRejected | NotFound | RateLimited | ServerError | BadResponse | NetworkError


def _join(what: str, detail: str, hint: str) -> str:
    return f"{what}: {detail} — {hint}" if detail else f"{what} — {hint}"


# --------------------------------------------------------------------------- parsing


class _Invalid(Exception):
    """A field of the body has a type or value we refuse."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse ``Retry-After`` given as delta-seconds or as an HTTP date.

    Returns seconds from ``now`` (never negative, capped at one hour), or
    ``None`` when absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or utcnow())).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _epoch_to_datetime(value: float) -> datetime | None:
    if not math.isfinite(value) or value <= 0:
        return None
    seconds = value / 1000.0 if value > 1e12 else value  # ms when above 1e12
    try:
        return plausible_time(datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        return None


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Invalid("status_update_time is a boolean")
    if isinstance(value, int | float):
        return _epoch_to_datetime(float(value))
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            return None
        try:
            return _epoch_to_datetime(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return plausible_time(parsed)
    raise _Invalid(f"status_update_time has type {type(value).__name__}")


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _Invalid(f"{key} has type {type(value).__name__}, expected a string")


def _clean_url(value: object) -> str | None:
    """A usable http(s) URL, or None. Anything odd is dropped, never shown raw."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    return url if url_problem(url) is None else None  # the one URL rule (sanitize)


def _dig(body: Mapping[str, Any], *path: str) -> object:
    node: object = body
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _text_of(value: object, limit: int = MAX_MESSAGE) -> str:
    """Readable text from an error field that may be a string or an object."""
    if isinstance(value, str):
        return clean_line(value, limit)
    if isinstance(value, Mapping):
        for key in ("message", "msg", "detail", "reason", "error"):
            inner = value.get(key)
            if isinstance(inner, str) and inner.strip():
                return clean_line(inner, limit)
        code = value.get("code")
        if isinstance(code, str | int) and not isinstance(code, bool):
            return clean_line(str(code), limit)
    return ""


def _first_text(*candidates: object) -> str:
    for value in candidates:
        text = _text_of(value)
        if text:
            return text
    return ""


def _progress(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().rstrip("%"))
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        number = float(value)
        if 0.0 <= number <= 1.0 and not isinstance(value, int):
            number *= 100.0
        return min(max(number, 0.0), 100.0)
    return None


def _decode_json(body: bytes) -> object:
    if not body.strip():
        raise _Invalid("empty body")
    head = body.lstrip()[:1]
    if head == b"<":
        raise _Invalid("an HTML page instead of JSON (a proxy or gateway error?)")
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise _Invalid("body is not UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise _Invalid("body is not valid JSON") from exc


def _error_detail(body: bytes) -> tuple[str, object]:
    """(message, decoded JSON or None) from an error body; never raises."""
    if len(body) > MAX_BODY:
        return "", None
    try:
        data = _decode_json(body)
    except _Invalid:
        return "", None
    if isinstance(data, Mapping):
        return _first_text(data.get("error"), data.get("message"), data.get("msg")), data
    return "", data


def _is_not_exist(data: object) -> bool:
    if not isinstance(data, Mapping):
        return False
    code = data.get("code")
    if code is None and isinstance(data.get("error"), Mapping):
        code = data["error"].get("code")
    return isinstance(code, str) and code.strip().lower() in ("task_not_exist", "task_not_found")


def parse_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
) -> Outcome:
    """Turn one HTTP answer into an :data:`Outcome`. Never raises.

    ``headers`` must be case-insensitive (httpx's are) or use lower-case keys.
    """
    try:
        return _parse(status, headers, body, now or utcnow())
    except Exception as exc:  # a defect in parsing must not stop polling
        return BadResponse(f"could not be parsed ({type(exc).__name__})", status)


def _parse(status: int, headers: Mapping[str, str], body: bytes, now: datetime) -> Outcome:
    if len(body) > MAX_BODY:
        return BadResponse(f"body larger than {MAX_BODY // 1024} KiB", status)
    if status != 200:
        return _parse_error_status(status, headers, body, now)
    try:
        data = _decode_json(body)
    except _Invalid as exc:
        return BadResponse(str(exc), status)
    if not isinstance(data, dict):
        return BadResponse(f"expected a JSON object, got {type(data).__name__}", status)
    if _is_not_exist(data):
        return NotFound(status, _first_text(data.get("message"), data.get("error")))
    # Some gateways wrap the task in {"code": ..., "data": {...}}.
    inner = data.get("data")
    if "status" not in data and isinstance(inner, dict) and "status" in inner:
        data = inner
    if "status" not in data and not isinstance(_dig(data, "detail", "status"), str):
        if "error" in data:
            return BadResponse(_first_text(data.get("error")) or "an error object", status)
        return BadResponse("missing field 'status'", status)
    try:
        result = _result_from(data, now)
    except _Invalid as exc:
        return BadResponse(str(exc), status)
    hint = headers.get("openai-poll-after-ms")
    poll_after: float | None = None
    if hint:
        try:
            ms = float(hint)
        except ValueError:
            ms = math.nan
        if math.isfinite(ms) and ms >= 0:
            poll_after = min(ms / 1000.0, MAX_RETRY_AFTER)
    return Ok(result, poll_after)


def _parse_error_status(
    status: int, headers: Mapping[str, str], body: bytes, now: datetime
) -> Outcome:
    detail, data = _error_detail(body)
    if status in (401, 402, 403):
        return AuthRejected(status, detail)
    if status == 404 or (status == 400 and _is_not_exist(data)):
        return NotFound(status, detail)
    if status == 429:
        return RateLimited(parse_retry_after(headers.get("retry-after"), now), detail)
    if 500 <= status <= 599:
        return ServerError(status, detail)
    if 300 <= status <= 399:
        return BadResponse(
            "a redirect, not followed so the key is not sent elsewhere — check base_url",
            status,
        )
    return BadResponse(detail or f"unexpected HTTP status {status}", status)


_URL_FALLBACKS: Final = (("detail", "video_url"), ("url",), ("result_url",), ("output", "url"))
_URL_KEYS: Final = frozenset(path[0] for path in _URL_FALLBACKS)
_REASONS: Final = (
    ("fail_reason",),
    ("error_message",),
    ("error",),
    ("detail", "error"),
    ("detail", "fail_reason"),
)
_REASON_KEYS: Final = frozenset(path[0] for path in _REASONS)


def _result_from(data: dict[str, Any], now: datetime) -> TaskResult:
    raw_status = data.get("status")
    if raw_status is None:
        raw_status = _dig(data, "detail", "status")
    if not isinstance(raw_status, str):
        raise _Invalid(f"status has type {type(raw_status).__name__}, expected a string")
    status = clean_line(raw_status, MAX_SHORT)

    raw_url = data.get("video_url")
    if raw_url is not None and not isinstance(raw_url, str):
        raise _Invalid(f"video_url has type {type(raw_url).__name__}, expected a string")
    url = _clean_url(raw_url) if raw_url else None
    if url is None and not _URL_KEYS.isdisjoint(data):  # sibling gateways put it elsewhere
        for path in _URL_FALLBACKS:
            url = _clean_url(_dig(data, *path))
            if url:
                break
    bad_url = isinstance(raw_url, str) and raw_url.strip() != "" and url is None

    prompt = _optional_str(data, "enhanced_prompt")
    server_id = data.get("id")
    if isinstance(server_id, bool) or not (server_id is None or isinstance(server_id, str | int)):
        raise _Invalid(f"id has type {type(server_id).__name__}")
    update_time = _parse_time(data.get("status_update_time"))

    state = canonical_state(status, url is not None)
    fail_reason = ""
    if not _REASON_KEYS.isdisjoint(data):
        for path in _REASONS:
            value = _dig(data, *path)
            if value is not None and (fail_reason := _text_of(value)):
                break
    progress = _progress(data["progress"]) if "progress" in data else None
    if progress is None and "detail" in data:
        progress = _progress(_dig(data, "detail", "progress"))
    error = None
    problem = None
    if state is State.SUCCEEDED and url is None:
        problem = Problem.NO_URL
        error = (
            "The server sent a video URL that is not a plain http(s) link; it was not kept"
            if bad_url
            else "The job is reported finished but no video URL was sent; checking again"
        )
    return TaskResult(
        state=state,
        status=status,
        video_url=url,
        enhanced_prompt=clean_text(prompt, MAX_TEXT) if prompt is not None else None,
        server_id=clean_line(str(server_id), MAX_SHORT) if server_id is not None else None,
        status_update_time=update_time,
        checked_at=now,
        error=error,
        fail_reason=fail_reason or None,
        progress=progress,
        problem=problem,
    )


# --------------------------------------------------------------------------- base URL policy


class InsecureURLError(ValueError):
    """The base URL would send the key somewhere it should not go."""


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """Validate a base URL; returns it without a trailing slash.

    The key never travels over plain http except to loopback, unless the user
    set ``allow_insecure_http`` explicitly.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise InsecureURLError(f"The base URL {url!r} is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureURLError(f"The base URL {url!r} must start with https:// and name a host")
    if parts.username or parts.password:
        raise InsecureURLError("The base URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise InsecureURLError("The base URL must not contain a query or fragment")
    if parts.scheme == "http" and not is_loopback_url(url) and not allow_insecure_http:
        raise InsecureURLError(
            f"Refusing to send the API key over plain http to {parts.hostname}; use https, "
            "or set allow_insecure_http = true in the config file if you really mean it"
        )
    return url.strip().rstrip("/")


# --------------------------------------------------------------------------- client


class QueryClient:
    """One long-lived HTTP client for ``GET /v1/video/query``.

    Requests go through one aiohttp session: keep-alive, no redirects (the key must
    not follow one to another host), bodies capped at :data:`MAX_BODY`, timeouts.
    aiohttp is used directly because cost per poll matters at thousands of tasks:
    ``make bench`` measures it against raw aiohttp and httpx's default transport.

    ``transport`` (an httpx transport) routes requests through httpx instead — the
    tests use ``httpx.MockTransport`` to play any server. Both paths end in the same
    :func:`parse_response`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 20.0,
        connections: int = 16,
        allow_insecure_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._key = ""
        self._headers: dict[str, str] = {}
        self._timeout = timeout
        self._connections = connections
        self._url = self.base_url + QUERY_PATH
        self._session: aiohttp.ClientSession | None = None
        self._stale = False
        self._closing: set[asyncio.Task[None]] = set()
        self._httpx: httpx.AsyncClient | None = None
        if transport is not None:
            self._httpx = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                follow_redirects=False,
                transport=transport,
            )
        self.set_key(api_key)

    @property
    def has_key(self) -> bool:
        return bool(self._key)

    def set_key(self, api_key: str | None) -> None:
        """Use a new key from the next request on."""
        self._key = api_key or ""
        headers = {"Accept": "application/json", "User-Agent": f"vidwatch/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._headers = headers
        self._stale = True  # the session carries the headers: the next request opens a new one

    def redact(self, text: str) -> str:
        """Remove the key from text that may echo it (server messages, exceptions)."""
        if self._key and len(self._key) >= 4 and self._key in text:
            return text.replace(self._key, "***")
        return text

    async def query(self, task_id: str) -> Outcome:
        """Ask for one task. Never raises (cancellation aside)."""
        try:
            if self._httpx is not None:
                status, headers, body = await self._get_httpx(task_id)
            else:
                status, headers, body = await self._get(task_id)
        except (httpx.TimeoutException, TimeoutError):
            return NetworkError("no answer in time", timeout=True)
        except _TooLarge:
            return BadResponse(f"body larger than {MAX_BODY // 1024} KiB")
        except (httpx.HTTPError, aiohttp.ClientError, OSError, ValueError) as exc:
            return NetworkError(self.redact(_describe(exc)))
        except Exception as exc:
            return NetworkError(self.redact(f"unexpected {type(exc).__name__}"))
        outcome = parse_response(status, headers, body)
        return self._redacted(outcome)

    def _open(self) -> aiohttp.ClientSession:
        session = self._session
        if session is not None and self._stale and not session.closed:
            closing = asyncio.get_running_loop().create_task(session.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            session = None
        if session is None or session.closed:
            self._stale = False
            connector = aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout, connect=min(self._timeout, 10.0)
                ),
                auto_decompress=True,
                trust_env=False,  # never hand the key to a proxy from the environment
                headers=self._headers,
            )
            self._session = session
        return session

    async def _get(self, task_id: str) -> tuple[int, Mapping[str, str], bytes]:
        session = self._open()
        async with session.get(
            self._url, params={"id": task_id}, allow_redirects=False
        ) as response:
            length = response.content_length
            if length is not None:
                if length > MAX_BODY:
                    raise _TooLarge
                return response.status, response.headers, await response.read()
            chunks: list[bytes] = []  # no length given: read, but never past the cap
            size = 0
            while chunk := await response.content.read(65536):
                size += len(chunk)
                if size > MAX_BODY:
                    raise _TooLarge
                chunks.append(chunk)
            return response.status, response.headers, b"".join(chunks)

    async def _get_httpx(self, task_id: str) -> tuple[int, Mapping[str, str], bytes]:
        assert self._httpx is not None
        async with self._httpx.stream(
            "GET", QUERY_PATH, params={"id": task_id}, headers=self._headers
        ) as response:
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > MAX_BODY:
                raise _TooLarge
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise _TooLarge
                chunks.append(chunk)
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            return response.status_code, response.headers, body

    def _redacted(self, outcome: Outcome) -> Outcome:
        if not self._key or (isinstance(outcome, Ok) and not _mentions(outcome.result, self._key)):
            return outcome
        if isinstance(outcome, Ok):  # every text field, from the record's one field list
            return Ok(fields.redact(outcome.result, self.redact), outcome.poll_after)
        if isinstance(outcome, AuthRejected | NotFound | ServerError | RateLimited):
            return _replace_detail(outcome, self.redact(outcome.detail))
        if isinstance(outcome, BadResponse):
            return BadResponse(self.redact(outcome.reason), outcome.status)
        return NetworkError(self.redact(outcome.reason), outcome.timeout)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        if self._httpx is not None:
            await self._httpx.aclose()

    async def __aenter__(self) -> QueryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _TooLarge(Exception):
    pass


def _describe(exc: BaseException) -> str:
    text = clean_line(str(exc), MAX_MESSAGE)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _mentions(result: TaskResult, key: str) -> bool:
    return fields.mentions(result, key)


def _replace_detail(
    outcome: AuthRejected | NotFound | ServerError | RateLimited, detail: str
) -> Outcome:
    return replace(outcome, detail=detail)
