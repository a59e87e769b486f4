"""Parsing the gateway's answers: pure functions, no network import.

:func:`parse_response` turns one HTTP answer (status, headers, body) into one
:data:`~vidwatch.core.gateway.outcomes.Outcome` and never raises, so it can be fuzzed and
unit-tested without a network, and the scheduler can use the outcomes without
loading an HTTP stack.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from vidwatch.core.gateway.outcomes import (
    MAX_MESSAGE,
    AuthRejected,
    BadResponse,
    NotFound,
    Ok,
    Outcome,
    RateLimited,
    ServerError,
    WrongUrl,
)
from vidwatch.core.model.records import (
    Problem,
    State,
    TaskResult,
    canonical_state,
    clean_extras,
    epoch_time,
    plausible_time,
    utcnow,
)
from vidwatch.core.text.sanitize import MAX_SHORT, MAX_TEXT, clean_line, clean_text
from vidwatch.core.text.urls import clean_url

__all__ = ["MAX_BODY", "MAX_RETRY_AFTER", "parse_response", "parse_retry_after", "task_result"]

MAX_BODY: Final = 1024 * 1024  # bodies over 1 MiB (after decompression) are refused
MAX_RETRY_AFTER: Final = 3600.0  # a hostile Retry-After cannot stop us for days


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
        from email.utils import parsedate_to_datetime  # rare (an HTTP date); email is slow to load

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


def _parse_time(value: object) -> datetime | None:
    """A time the server sent, or None: a value of the wrong type (a boolean, a list) is
    ignored like an unreadable one — one bad field never costs the rest of the answer."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return epoch_time(float(value))
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            return None
        try:
            return epoch_time(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return plausible_time(parsed)
    return None


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    """A text field, or None when it is absent or not text (ignored, not fatal)."""
    value = body.get(key)
    return value if isinstance(value, str) else None


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


# Words a gateway uses to say it does not know a task (a 404 with one of them is about the
# task; any other 404 is about the address).
_TASK_UNKNOWN: Final = re.compile(
    r"task[\s_-]*(?:id[\s_-]*)?(?:not[\s_-]*(?:exists?|found)|does[\s_-]*not[\s_-]*exist"
    r"|is[\s_-]*unknown)|(?:no[\s_-]*such|unknown)[\s_-]*task|任务不存在",
    re.IGNORECASE,
)


def _about_task(data: object, detail: str) -> bool:
    """Whether an error answer says the task is unknown (as opposed to the address)."""
    return _is_not_exist(data) or _TASK_UNKNOWN.search(detail) is not None


def page_detail(body: bytes) -> str:
    """A few words about a body that is not JSON: a proxy's or a web server's page."""
    text = body[:2048].decode("utf-8", "replace").strip()
    if not text:
        return ""
    if text.startswith("<"):
        return "an HTML page (a proxy or a web site, not the gateway's API)"
    return clean_line(text.splitlines()[0], 120)


def parse_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
) -> Outcome:
    """Turn one HTTP answer into an :data:`Outcome`. Never raises.

    ``headers`` must be case-insensitive (httpx's are) or use lower-case keys. The
    answer is about the task that was asked for, whatever its ``id`` says (the doc's own
    example answers ``grok:eee6…`` with an unrelated upstream id): the id is kept as
    :attr:`~vidwatch.core.model.records.TaskResult.server_id`, never used to refuse it.
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
        if _TASK_FIELDS.isdisjoint(data):  # nothing about a task at all
            return BadResponse("missing field 'status'", status)
        # A task's answer without a status word: unknown (api.md), the rest kept.
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
    if status in (400, 404) and _about_task(data, detail):
        return NotFound(status, detail)
    if status == 404:  # not about the task: the server has no such address
        return WrongUrl(status, detail or (page_detail(body) if data is None else ""))
    if status == 429:
        return RateLimited(parse_retry_after(headers.get("retry-after"), now), detail)
    if 500 <= status <= 599:
        return ServerError(status, detail)
    if 300 <= status <= 399:
        return BadResponse(redirect_words(status) + " — check base_url", status)
    return BadResponse(detail or f"unexpected HTTP status {status}", status)


REDIRECTS: Final = frozenset({300, 301, 302, 303, 307, 308})


def redirect_words(status: int) -> str:
    """A 3xx answer in a few words (creates and queries alike): a redirect is not followed
    (the key would go with it); a 304 is no redirect but a cache's or proxy's answer to a
    question vidwatch never asks (it sends no cache headers)."""
    if status in REDIRECTS:
        return "a redirect, not followed so the key is not sent elsewhere"
    if status == 304:
        return "304 Not Modified, an answer from a cache or proxy, not from the gateway"
    return f"unexpected HTTP status {status}"


# Where sibling gateways put the video when the top-level video_url is empty, read only
# on a success word: while veo works, detail.video_url is the video before upscaling.
_URL_FALLBACKS: Final = (
    ("detail", "upsample_video_url"),
    ("detail", "video_url"),
    ("url",),
    ("result_url",),
    ("output", "url"),
)
_URL_KEYS: Final = frozenset(path[0] for path in _URL_FALLBACKS)
# A failed job's reason, read only on a failure word: on a job that succeeded these hold
# stale text from retried attempts (veo's detail.error_message, "reCAPTCHA failed").
_REASONS: Final = (
    ("fail_reason",),
    ("error_message",),
    ("error",),
    ("detail", "video_generation_error"),
    ("detail", "error_message"),
    ("detail", "error"),
    ("detail", "fail_reason"),
)
_REASON_KEYS: Final = frozenset(path[0] for path in _REASONS)
# Fields read into the result's own fields (or never kept: stale error text, the
# envelope); every other top-level field of the answer is one of its extras.
_READ: Final = frozenset(
    {
        "id",
        "status",
        "video_url",
        "enhanced_prompt",
        "prompt",
        "status_update_time",
        "progress",
        "thumbnail_url",
        "data",
        "code",
        "message",
        *_URL_KEYS,
        *_REASON_KEYS,
    }
)


# Fields that make a body a task's answer even without a status word (an ``id`` alone
# says nothing of the task: an answer of only that is still missing its status).
_TASK_FIELDS: Final = frozenset({"video_url", "progress", "detail", "enhanced_prompt"})
# Of ``detail``'s fields, those kept as extras (``detail.upsample_video_url``…) are all but
# what is read elsewhere, repeats the answer or misleads: its id and status, the prompt
# (kept as the enhanced prompt), the progress, and the error texts (a failed job's reason;
# stale on a job that succeeded).
_DETAIL_SKIPPED: Final = frozenset(
    {
        "id",
        "status",
        "enhanced_prompt",
        "prompt",
        "progress",
        "error",
        "error_message",
        "fail_reason",
        "video_generation_error",
    }
)


def _detail_extras(detail: Mapping[str, Any]) -> list[tuple[str, object]]:
    """``detail``'s plain fields as ``detail.NAME`` extras (the caps and the URL rule of
    :func:`~vidwatch.core.model.records.clean_extras` apply; an object inside is left out).
    ``detail.video_url`` is kept for what it is — on veo the video before upscaling — and
    never taken for the video."""
    return [
        (f"detail.{name}", value)
        for name, value in detail.items()
        if isinstance(name, str) and name not in _DETAIL_SKIPPED
    ]


def task_result(data: Mapping[str, Any], now: datetime) -> TaskResult | None:
    """A task's result from a body that holds one (a create's answer, which on veo and
    sibling gateways is the task itself, ``detail`` included), read as a query's answer
    is: the same fields, extras and caps. None when its status cannot be used."""
    try:
        return _result_from(dict(data), now)
    except (_Invalid, ValueError, TypeError):
        return None


def _result_from(data: dict[str, Any], now: datetime) -> TaskResult:
    """The task's result. Only the status word decides whether the answer can be used
    (a number, a list or an object there says nothing: :class:`_Invalid`); an empty or
    null one is "unknown" (api.md). Every other field of the wrong type is ignored and the
    rest kept: a hostile ``id`` or time must not hide a good status and URL."""
    raw_status = data.get("status")
    if raw_status is None:
        raw_status = _dig(data, "detail", "status")
    if raw_status is None:
        raw_status = ""
    if not isinstance(raw_status, str):
        raise _Invalid(f"status has type {type(raw_status).__name__}, expected a string")
    status = clean_line(raw_status, MAX_SHORT)
    state = canonical_state(status)

    raw_url = data.get("video_url")
    url = clean_url(raw_url) if raw_url else None
    if url is None and state is State.SUCCEEDED and not _URL_KEYS.isdisjoint(data):
        for path in _URL_FALLBACKS:  # sibling gateways put it elsewhere
            url = clean_url(_dig(data, *path))
            if url:
                break
    blank = raw_url is None or (isinstance(raw_url, str) and not raw_url.strip())
    bad_url = url is None and not blank  # sent, but not a plain link (or not text)

    prompt = _optional_str(data, "enhanced_prompt")
    if not prompt and "detail" in data:  # veo's completed answer keeps it there only
        nested = _dig(data, "detail", "enhanced_prompt")
        prompt = nested if isinstance(nested, str) else prompt
    raw_sent = data.get("prompt")  # grok: the prompt it was sent, not a rewrite
    server_id = data.get("id")
    if isinstance(server_id, bool) or not isinstance(server_id, str | int):
        server_id = None  # an object, a list: not an id
    update_time = _parse_time(data.get("status_update_time"))

    fail_reason = ""
    if state is State.FAILED and not _REASON_KEYS.isdisjoint(data):
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
    extras = (
        () if _READ.issuperset(data) else clean_extras(i for i in data.items() if i[0] not in _READ)
    )
    detail = data.get("detail")
    if isinstance(detail, Mapping) and detail:  # veo's: the upscaled link, its steps
        extras = clean_extras([*extras, *_detail_extras(detail)])
    sent = (clean_text(raw_sent, MAX_TEXT) or None) if isinstance(raw_sent, str) else None
    return TaskResult(
        state=state,
        status=status,
        video_url=url,
        enhanced_prompt=clean_text(prompt, MAX_TEXT) if prompt else None,
        server_id=(clean_line(str(server_id), MAX_SHORT) or None)
        if server_id is not None
        else None,
        status_update_time=update_time,
        checked_at=now,
        error=error,
        fail_reason=fail_reason or None,
        progress=progress,
        problem=problem,
        sent_prompt=sent,
        thumbnail_url=clean_url(data.get("thumbnail_url")) if "thumbnail_url" in data else None,
        extras=extras,
    )
