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

__all__ = ["MAX_BODY", "MAX_RETRY_AFTER", "parse_response", "parse_retry_after"]

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
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Invalid("status_update_time is a boolean")
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
    raise _Invalid(f"status_update_time has type {type(value).__name__}")


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _Invalid(f"{key} has type {type(value).__name__}, expected a string")


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


def _page_detail(body: bytes) -> str:
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
    if status in (400, 404) and _about_task(data, detail):
        return NotFound(status, detail)
    if status == 404:  # not about the task: the server has no such address
        return WrongUrl(status, detail or (_page_detail(body) if data is None else ""))
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


def _result_from(data: dict[str, Any], now: datetime) -> TaskResult:
    raw_status = data.get("status")
    if raw_status is None:
        raw_status = _dig(data, "detail", "status")
    if not isinstance(raw_status, str):
        raise _Invalid(f"status has type {type(raw_status).__name__}, expected a string")
    status = clean_line(raw_status, MAX_SHORT)
    state = canonical_state(status)

    raw_url = data.get("video_url")
    if raw_url is not None and not isinstance(raw_url, str):
        raise _Invalid(f"video_url has type {type(raw_url).__name__}, expected a string")
    url = clean_url(raw_url) if raw_url else None
    if url is None and state is State.SUCCEEDED and not _URL_KEYS.isdisjoint(data):
        for path in _URL_FALLBACKS:  # sibling gateways put it elsewhere
            url = clean_url(_dig(data, *path))
            if url:
                break
    bad_url = isinstance(raw_url, str) and raw_url.strip() != "" and url is None

    prompt = _optional_str(data, "enhanced_prompt")
    if not prompt and "detail" in data:  # veo's completed answer keeps it there only
        nested = _dig(data, "detail", "enhanced_prompt")
        prompt = nested if isinstance(nested, str) else prompt
    raw_sent = data.get("prompt")  # grok: the prompt it was sent, not a rewrite
    server_id = data.get("id")
    if isinstance(server_id, bool) or not (server_id is None or isinstance(server_id, str | int)):
        raise _Invalid(f"id has type {type(server_id).__name__}")
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
