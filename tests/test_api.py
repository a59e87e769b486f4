from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from vidwatch.core.api import (
    MAX_BODY,
    MAX_RETRY_AFTER,
    AuthRejected,
    BadResponse,
    InsecureURLError,
    NetworkError,
    NotFound,
    Ok,
    QueryClient,
    RateLimited,
    ServerError,
    check_base_url,
    parse_response,
    parse_retry_after,
)
from vidwatch.core.models import Problem, State

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
    assert isinstance(parse_response(404, H(), b"", now=NOW), NotFound)
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


# --------------------------------------------------------------------------- base URL policy


@pytest.mark.parametrize(
    "url",
    [
        "https://api.quickrouter.ai",
        "https://api.quickrouter.ai/",
        "http://127.0.0.1:8080",
        "http://localhost:1",
    ],
)
def test_allowed_base_urls(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://api.quickrouter.ai", "plain http"),
        ("ftp://x", "https://"),
        ("https://user:pw@x", "user name"),
        ("https://x/?a=1", "query"),
        ("api.quickrouter.ai", "https://"),
    ],
)
def test_refused_base_urls(url: str, fragment: str) -> None:
    with pytest.raises(InsecureURLError, match=fragment):
        check_base_url(url)


def test_plain_http_allowed_only_when_asked() -> None:
    assert check_base_url("http://gw.internal", allow_insecure_http=True) == "http://gw.internal"


# --------------------------------------------------------------------------- the client


KEY = "sk-test-KEY-0123456789"


def client_for(handler: httpx.MockTransport) -> QueryClient:
    return QueryClient("https://api.example", KEY, transport=handler)


async def test_client_sends_key_and_encodes_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body(status="running"))

    async with client_for(httpx.MockTransport(handler)) as client:
        outcome = await client.query("grok:a b&c=d/é")
    assert isinstance(outcome, Ok)
    assert outcome.result.state is State.RUNNING
    request = seen[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.url.path == "/v1/video/query"
    assert request.url.params["id"] == "grok:a b&c=d/é"
    assert b"a+b%26c%3Dd%2F%C3%A9" in request.url.query or b"a%20b%26c%3Dd" in request.url.query


async def test_client_does_not_follow_redirects() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(307, headers={"location": "https://evil.example/steal"})

    async with client_for(httpx.MockTransport(handler)) as client:
        outcome = await client.query("x")
    assert isinstance(outcome, BadResponse)
    assert len(calls) == 1


async def test_client_refuses_huge_bodies_by_length_and_by_stream() -> None:
    def declared(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": str(MAX_BODY * 5)}, content=b"{}")

    async def chunks() -> object:
        for _ in range(40):
            yield b"x" * 65536

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())  # type: ignore[arg-type]

    for handler in (declared, streamed):
        async with client_for(httpx.MockTransport(handler)) as client:
            outcome = await client.query("x")
        assert isinstance(outcome, BadResponse)
        assert "larger than" in outcome.reason


@pytest.mark.parametrize(
    ("exc", "timeout"),
    [
        (httpx.ConnectError("connection refused"), False),
        (httpx.ReadTimeout("slow"), True),
        (httpx.RemoteProtocolError("peer closed"), False),
        (OSError("network unreachable"), False),
        (RuntimeError("surprise"), False),
    ],
)
async def test_client_turns_exceptions_into_network_errors(exc: Exception, timeout: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    async with client_for(httpx.MockTransport(handler)) as client:
        outcome = await client.query("x")
    assert isinstance(outcome, NetworkError)
    assert outcome.timeout is timeout


async def test_client_redacts_an_echoed_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        return httpx.Response(401, json={"error": {"message": f"bad token {auth}"}})

    async with client_for(httpx.MockTransport(handler)) as client:
        outcome = await client.query("x")
    assert isinstance(outcome, AuthRejected)
    assert KEY not in outcome.message
    assert "***" in outcome.message

    def echo_ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body(status="failed", fail_reason=f"key {KEY} banned"))

    async with client_for(httpx.MockTransport(echo_ok)) as client:
        result = await client.query("x")
    assert isinstance(result, Ok)
    assert KEY not in (result.result.fail_reason or "")


async def test_client_set_key_changes_the_header() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(200, content=body())

    async with client_for(httpx.MockTransport(handler)) as client:
        await client.query("x")
        client.set_key("new-key-123")
        await client.query("x")
    assert seen == [f"Bearer {KEY}", "Bearer new-key-123"]


def test_client_refuses_plain_http_to_a_remote_host() -> None:
    with pytest.raises(InsecureURLError):
        QueryClient("http://api.quickrouter.ai", KEY)


def test_client_repr_does_not_leak_the_key() -> None:
    client = QueryClient(
        "https://api.example", KEY, transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    assert KEY not in repr(client)
    assert KEY not in repr(vars(client).get("base_url"))
