"""Parsing the gateway's answers (pure: no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from vidwatch.core.models import Problem, State
from vidwatch.core.outcomes import (
    AuthRejected,
    BadResponse,
    NotFound,
    Ok,
    RateLimited,
    ServerError,
)
from vidwatch.core.parsing import (
    MAX_BODY,
    MAX_RETRY_AFTER,
    parse_response,
    parse_retry_after,
    same_task,
)
from vidwatch.core.poll_results import apply_outcome

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
H = httpx.Headers


def body(**fields: object) -> bytes:
    base: dict[str, object] = {
        "id": "033fa60e",
        "status": "pending",
        "video_url": None,
        "enhanced_prompt": "```\nA cow\n```",
        "status_update_time": 1750323167003,
    }
    base.update(fields)
    return json.dumps(base).encode()


def ok(raw: bytes, headers: httpx.Headers | None = None) -> Ok:
    outcome = parse_response(200, headers or H(), raw, now=NOW)
    assert isinstance(outcome, Ok), outcome
    return outcome


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59", 253402300799, 1e300, -5, "1899-01-01"],
)
def test_implausible_server_times_are_dropped_not_kept(value: object) -> None:
    result = ok(body(status_update_time=value)).result
    assert result.status_update_time is None


def test_documented_example_parses() -> None:
    result = ok(body()).result
    assert result.state is State.QUEUED
    assert result.status == "pending"
    assert result.server_id == "033fa60e"
    assert result.enhanced_prompt == "```\nA cow\n```"
    assert result.status_update_time == datetime.fromtimestamp(1750323167.003, UTC)
    assert result.checked_at == NOW
    assert result.error is None


def test_seconds_timestamps_are_accepted() -> None:
    assert ok(
        body(status_update_time=1750323167)
    ).result.status_update_time == datetime.fromtimestamp(1750323167, UTC)
    iso = ok(body(status_update_time="2026-01-02T03:04:05Z")).result.status_update_time
    assert iso == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_completed_with_url() -> None:
    result = ok(body(status="completed", video_url="https://cdn.example/v.mp4?sig=1")).result
    assert result.state is State.SUCCEEDED
    assert result.video_url == "https://cdn.example/v.mp4?sig=1"
    assert result.final


@pytest.mark.parametrize(
    "extra",
    [
        {"detail": {"video_url": "https://a/b.mp4"}},
        {"url": "https://a/b.mp4"},
        {"result_url": "https://a/b.mp4"},
        {"output": {"url": "https://a/b.mp4"}},
    ],
)
def test_url_fallbacks(extra: dict[str, object]) -> None:
    result = ok(body(status="succeeded", **extra)).result
    assert result.video_url == "https://a/b.mp4"
    assert result.final


def test_succeeded_without_url_is_an_anomaly_not_final() -> None:
    result = ok(body(status="completed")).result
    assert result.state is State.SUCCEEDED
    assert not result.final
    assert result.error
    assert "no video URL" in result.error
    assert result.problem is Problem.NO_URL
    assert Problem.NO_URL.advice


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://a/b\x1b]52;c;x\x07",
        "-o /tmp/x",
        "https://cdn.example/v/\u202eexe.4pm",  # shown reversed: looks like mp4.exe
        "https://cdn.example/v/a\u200bb.mp4",  # an invisible character
        "https://cdn.example/v/a b.mp4",
    ],
)
def test_unsafe_urls_are_dropped(url: str) -> None:
    result = ok(body(status="completed", video_url=url)).result
    assert result.video_url is None
    assert result.error
    assert "not a plain" in result.error


def test_generation_completed_needs_url() -> None:
    assert ok(body(status="video_generation_completed")).result.state is State.RUNNING
    with_url = ok(body(status="video_generation_completed", video_url="https://a/b"))
    assert with_url.result.state is State.SUCCEEDED


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"fail_reason": "content policy"}, "content policy"),
        ({"error_message": "upstream timeout"}, "upstream timeout"),
        ({"error": {"message": "nsfw", "code": "x"}}, "nsfw"),
        ({"error": "plain"}, "plain"),
        ({"detail": {"error": "deep"}}, "deep"),
    ],
)
def test_failure_reasons(extra: dict[str, object], reason: str) -> None:
    result = ok(body(status="failed", **extra)).result
    assert result.state is State.FAILED
    assert result.fail_reason == reason


def test_error_message_on_success_is_not_a_failure() -> None:
    result = ok(
        body(status="completed", video_url="https://a/b", error_message="retry 1 failed")
    ).result
    assert result.state is State.SUCCEEDED


def test_unknown_status_keeps_raw_word() -> None:
    result = ok(body(status="Brewing_Coffee")).result
    assert result.state is State.UNKNOWN
    assert result.status == "Brewing_Coffee"


def test_hostile_text_is_sanitised() -> None:
    result = ok(
        body(status="pending\x1b]2;owned\x07", enhanced_prompt="[@click=app.quit]hi\x1b[31m[/]\x9b")
    ).result
    assert result.status == "pending"
    assert result.state is State.QUEUED
    assert result.enhanced_prompt == "[@click=app.quit]hi[/]"


def test_progress_forms() -> None:
    assert ok(body(progress="45%")).result.progress == 45.0
    assert ok(body(progress=0.5)).result.progress == 50.0
    assert ok(body(detail={"progress": 80})).result.progress == 80.0
    assert ok(body(progress=True)).result.progress is None


def test_wrapped_data_envelope() -> None:
    raw = json.dumps({"code": "success", "data": json.loads(body(status="processing"))}).encode()
    assert ok(raw).result.state is State.RUNNING


def test_poll_after_hint() -> None:
    assert ok(body(), H({"openai-poll-after-ms": "2500"})).poll_after == 2.5
    assert ok(body(), H({"openai-poll-after-ms": "nan"})).poll_after is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"<html><body>502 Bad Gateway</body></html>", "HTML"),
        (b'{"id": "x", "status": "pen', "not valid JSON"),
        (b"\xff\xfe{}", "not"),
        (b"[1, 2]", "expected a JSON object"),
        (b'"just a string"', "expected a JSON object"),
        (b"{}", "missing field 'status'"),
        (json.dumps({"status": 5}).encode(), "status has type int"),
        (json.dumps({"status": ["x"]}).encode(), "status has type list"),
        (json.dumps({"status": "pending", "video_url": 7}).encode(), "video_url"),
        (
            json.dumps({"status": "pending", "enhanced_prompt": {"a": 1}}).encode(),
            "enhanced_prompt",
        ),
        (
            json.dumps({"status": "pending", "status_update_time": [1]}).encode(),
            "status_update_time",
        ),
        (
            json.dumps({"status": "pending", "status_update_time": True}).encode(),
            "status_update_time",
        ),
        (json.dumps({"status": "pending", "id": {"x": 1}}).encode(), "id has type"),
        (json.dumps({"error": {"message": "model overloaded"}}).encode(), "model overloaded"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_bodies_are_bad_responses(raw: bytes, fragment: str) -> None:
    outcome = parse_response(200, H(), raw, now=NOW)
    assert isinstance(outcome, BadResponse), outcome
    assert fragment in outcome.reason
    assert "will retry" in outcome.message


def test_oversized_body_is_refused() -> None:
    outcome = parse_response(200, H(), b" " * (MAX_BODY + 1), now=NOW)
    assert isinstance(outcome, BadResponse)
    assert "larger than" in outcome.reason


@pytest.mark.parametrize("status", [401, 402, 403])
def test_auth_statuses(status: int) -> None:
    raw = json.dumps({"error": {"message": "Invalid token", "code": "invalid_api_key"}}).encode()
    outcome = parse_response(status, H(), raw, now=NOW)
    assert isinstance(outcome, AuthRejected)
    assert outcome.status == status
    assert "Invalid token" in outcome.message
    assert "QUICKROUTER_API_KEY" in outcome.message


def test_not_found_forms() -> None:
    # A 404 is about the task only when it says so; any other is the address's
    # (tests/test_wrong_url.py).
    raw404 = json.dumps({"code": "task_not_found", "message": "no", "data": None}).encode()
    assert isinstance(parse_response(404, H(), raw404, now=NOW), NotFound)
    raw = json.dumps({"code": "task_not_exist", "message": "task not exist", "data": None}).encode()
    outcome = parse_response(400, H(), raw, now=NOW)
    assert isinstance(outcome, NotFound)
    assert "task not exist" in outcome.message
    assert isinstance(parse_response(200, H(), raw, now=NOW), NotFound)


def test_other_400_is_bad_response() -> None:
    outcome = parse_response(400, H(), b'{"message": "bad id"}', now=NOW)
    assert isinstance(outcome, BadResponse)
    assert outcome.reason == "bad id"


def test_rate_limited_with_seconds_and_date() -> None:
    outcome = parse_response(429, H({"Retry-After": "7"}), b"", now=NOW)
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_after == 7.0
    date = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    outcome = parse_response(429, H({"Retry-After": date}), b"<html>slow down</html>", now=NOW)
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_after == 30.0
    outcome = parse_response(429, H(), b"", now=NOW)
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        ("99999999", MAX_RETRY_AFTER),
        ("inf", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(status: int) -> None:
    outcome = parse_response(status, H(), b"<html>oops</html>", now=NOW)
    assert isinstance(outcome, ServerError)
    assert outcome.status == status


def test_redirect_is_not_followed_and_explained() -> None:
    outcome = parse_response(302, H({"location": "https://evil.example/"}), b"", now=NOW)
    assert isinstance(outcome, BadResponse)
    assert "redirect" in outcome.reason


# --------------------------------------------------------------------------- which task


@pytest.mark.parametrize(
    ("asked", "body_id", "same"),
    [
        ("grok:abc", "abc", True),  # the documented form: without the model prefix
        ("grok:abc", "grok:abc", True),
        ("abc", "grok:abc", True),  # the user added the bare ID
        ("grok:abc", None, True),  # no id: nothing says otherwise
        ("grok:abc", "", True),
        ("grok:abc", "xyz", False),
        ("grok:abc", "grok:xyz", False),
        ("grok:abc", "sora-2:xyz", False),
        ("7", 7, True),
        ("grok:abc", 7, False),
    ],
)
def test_same_task(asked: str, body_id: object, same: bool) -> None:
    assert same_task(asked, body_id) is same


def test_an_answer_about_another_task_is_a_bad_response() -> None:
    raw = body(id="xyz", status="completed", video_url="https://cdn.example/x.mp4")
    outcome = parse_response(200, H(), raw, now=NOW, asked_id="grok:abc")
    assert isinstance(outcome, BadResponse), outcome
    assert "another task (xyz)" in outcome.reason
    assert outcome.problem is Problem.BAD_RESPONSE
    assert isinstance(parse_response(200, H(), raw, now=NOW, asked_id="grok:xyz"), Ok)
    assert isinstance(parse_response(200, H(), raw, now=NOW), Ok)  # nothing asked: no check


def test_an_answer_about_another_task_stays_out_of_the_record() -> None:
    """Shown as a problem on the asked task; what it knew stays as it was."""
    before = ok(body(id="abc", status="processing")).result
    raw = body(id="xyz", status="completed", video_url="https://cdn.example/x.mp4")
    outcome = parse_response(200, H(), raw, now=NOW, asked_id="grok:abc")
    after = apply_outcome(before, outcome, NOW)
    assert (after.state, after.status, after.video_url) == (State.RUNNING, "processing", None)
    assert after.server_id == "abc"
    assert after.problem is Problem.BAD_RESPONSE
    assert after.error is not None
    assert "another task" in after.error
