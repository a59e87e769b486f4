"""What a create's answer (or its absence) means: typed outcomes, sent or uncertain."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from vidwatch.core.gateway.create_answer import (
    MAX_MESSAGE,
    CreateBadResponse,
    Created,
    CreateRateLimited,
    CreateServerError,
    CreateTimedOut,
    NoChannel,
    Refused,
    SendFate,
    classify_transport_error,
    parse_create_response,
)
from vidwatch.core.gateway.outcomes import WrongUrl
from vidwatch.core.gateway.parsing import REDIRECTS

NOW = datetime(2025, 6, 19, 8, 0, tzinfo=UTC)
H: dict[str, str] = {}


def parse(status: int, body: object, headers: dict[str, str] | None = None) -> object:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_create_response(status, headers or H, raw, now=NOW)


def test_created_keeps_the_id_exactly() -> None:
    body = {"id": "grok:eee6faa8-9dee", "status": "pending", "status_update_time": 1750323167003}
    outcome = parse(200, body)
    assert outcome == Created(
        "grok:eee6faa8-9dee", "pending", datetime(2025, 6, 19, 8, 52, 47, 3000, tzinfo=UTC)
    )
    assert isinstance(outcome, Created)
    assert outcome.made_job is True
    wrapped = parse(200, {"code": "success", "data": {"task_id": "sora-2:task_01", "status": "x"}})
    assert isinstance(wrapped, Created)
    assert wrapped.task_id == "sora-2:task_01"
    seconds = parse(200, {"id": "veo3:1", "status_update_time": 1750323167})
    assert isinstance(seconds, Created)
    assert seconds.status_update_time == datetime(2025, 6, 19, 8, 52, 47, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "body", "code", "account"),
    [
        (403, {"code": "quota_not_enough", "message": "user quota is not enough", "data": None},
         "quota_not_enough", True),
        (403, {"error": {"message": "余额不足", "type": "x", "code": "insufficient_user_quota"}},
         "insufficient_user_quota", True),
        (400, {"error": {"message": "bad aspect_ratio", "type": "invalid_request_error",
                         "code": "invalid_value"}}, "invalid_value", False),
        (400, {"code": "invalid_request", "message": "bad size", "data": None},
         "invalid_request", False),
        (401, {"error": {"message": "bad key", "type": "x", "code": "invalid_api_key"}},
         "invalid_api_key", True),
        (403, {"error": {"message": "model not allowed for this group"}}, "", False),
        (422, b"", "", False),
    ],
)  # fmt: skip
def test_definite_refusals(status: int, body: object, code: str, account: bool) -> None:
    outcome = parse(status, body)
    assert isinstance(outcome, Refused)
    assert outcome.status == status
    assert outcome.code == code
    assert outcome.account_level is account
    assert outcome.made_job is False


def test_no_channel_rate_limits_and_server_errors() -> None:
    no_channel = parse(
        503,
        {
            "error": {
                "message": "no available channel for model 'veo9' under group default",
                "type": "new_api_error",
                "code": "model_not_found",
            }
        },
    )
    assert isinstance(no_channel, NoChannel)
    assert no_channel == NoChannel("veo9", no_channel.message)
    message = (
        "当前分组 default 下对于模型 veo9-ultra 无可用渠道 (request id: 2026062216405469540313)"
    )
    new_api = parse(
        503, {"error": {"message": message, "type": "new_api_error", "code": "model_not_found"}}
    )
    assert new_api == NoChannel("veo9-ultra", message)  # new-api's own wording
    limited = parse(429, {"error": {"message": "upstream saturated"}}, {"retry-after": "7"})
    assert limited == CreateRateLimited(7.0, "upstream saturated")
    dated = parse(429, b"", {"retry-after": "Thu, 19 Jun 2025 08:00:30 GMT"})
    assert isinstance(dated, CreateRateLimited)
    assert dated.retry_after == 30.0
    assert isinstance(parse(429, b"", {"retry-after": "soon"}), CreateRateLimited)
    unavailable = parse(503, b"Service Unavailable")
    assert isinstance(unavailable, CreateServerError)
    assert unavailable.made_job is False
    for status in (500, 502, 504, 524):
        maybe = parse(status, {"error": {"message": "upstream timeout"}})
        assert isinstance(maybe, CreateServerError)
        assert maybe.made_job is None
        assert maybe.message == "upstream timeout"


@pytest.mark.parametrize(
    ("status", "body", "made"),
    [
        (200, b"", None),
        (200, b"<html>ok</html>", None),
        (200, b'{"id": "gro', None),
        (200, b"[1, 2]", None),
        (200, b'{"status": "pending"}', None),
        (200, b'{"id": 7}', None),
        (200, b'{"id": "a b"}', None),
        (200, json.dumps({"id": "x" * 300}).encode(), None),
        (201, b'{"error": {"message": "something odd"}}', None),
        (302, b"", False),
        (307, b"", False),
        (304, b"", None),  # a cache's answer: the request may have gone on
        (304, b'{"status": "ok"}', None),
        (101, b"", None),
        (199, b"", None),
        (600, b"", None),
        (200, b'{"id": null, "status": null}', None),
        (200, b'{"status": null}', None),
        (200, b'{"id": ["grok:x"], "status": "pending"}', None),
        (200, b'{"id": {"id": "grok:x"}}', None),
        (200, b'{"id": true}', None),
        (200, b'{"task_id": 12345}', None),
        (200, b'{"data": "grok:x"}', None),
        (200, b'{"code": "success", "data": ["grok:x"]}', None),
        (200, b'"grok:x"', None),
        (200, b"null", None),
        (200, b"\xff\xfe", None),
        (200, b"[" * 100_000, None),
        (200, b"x" * 300_000, None),
    ],
)
def test_unreadable_answers_say_whether_a_job_may_exist(
    status: int, body: bytes, made: bool | None
) -> None:
    outcome = parse(status, body)
    assert isinstance(outcome, CreateBadResponse)
    assert outcome.made_job is made


@pytest.mark.parametrize(
    "body",
    [
        {"id": "grok:x1", "status": None},
        {"id": "grok:x1", "status": 5},
        {"id": "grok:x1", "status": ["pending"]},
        {"id": "grok:x1", "status": "pending", "status_update_time": "soon"},
        {"id": "grok:x1", "status": "pending", "status_update_time": [1]},
        {"id": "grok:x1", "status": "pending", "status_update_time": True},
        {"id": "grok:x1", "status": "pending", "message": {"x": 1}, "code": [1]},
        {"id": "grok:x1", "status": {"word": "pending"}, "error": None},
    ],
)
def test_a_usable_id_with_odd_fields_is_created(body: dict[str, object]) -> None:
    """The ID is what matters: a null status or a field of the wrong type beside it does
    not make a job that was made look lost (nor raise)."""
    outcome = parse(200, body)
    assert isinstance(outcome, Created)
    assert outcome.task_id == "grok:x1"
    assert outcome.status in ("", "pending")
    assert outcome.status_update_time is None


def test_a_408_may_have_made_the_job() -> None:
    """408 comes from whatever gave up waiting: the gateway before reading the request,
    or a proxy after passing it on. Never "not sent" (that would send it again)."""
    for body in (b"", b"<html>408 Request Timeout</html>", {"error": {"message": "timeout"}}):
        outcome = parse(408, body)
        assert isinstance(outcome, CreateTimedOut)
        assert outcome.made_job is None


def test_a_404_without_a_model_code_is_a_wrong_address() -> None:
    outcome = parse(404, {"error": {"message": "Invalid URL (POST /v1/v1/video/create)"}})
    assert isinstance(outcome, WrongUrl)
    assert outcome.detail == "Invalid URL (POST /v1/v1/video/create)"
    page = parse(404, b"<html>404</html>")
    assert isinstance(page, WrongUrl)
    assert "HTML page" in page.detail
    channel = parse(404, {"error": {"message": "no channel for 'veo9'", "code": "model_not_found"}})
    assert channel == NoChannel("veo9", "no channel for 'veo9'", 404)


def test_errors_sent_with_200_are_read_when_their_code_is_definite() -> None:
    quota = parse(200, {"code": "quota_not_enough", "message": "no money", "data": None})
    assert isinstance(quota, Refused)
    assert quota.account_level
    channel = parse(200, {"error": {"message": "none", "code": "model_not_found"}})
    assert isinstance(channel, NoChannel)


def test_server_text_is_cleaned_and_capped() -> None:
    hostile = "\x1b]52;c;ZXZpbA==\x07pay \u202eup\x1b[2J " + "x" * 5000
    outcome = parse(400, {"code": "bad\x1b[31m", "message": hostile, "data": None})
    assert isinstance(outcome, Refused)
    assert "\x1b" not in outcome.message
    assert "\u202e" not in outcome.message
    assert len(outcome.message) <= MAX_MESSAGE
    assert outcome.code == "bad"
    created = parse(200, {"id": "grok:1", "status": "pend\x1b[1ming"})
    assert isinstance(created, Created)
    assert created.status == "pending"


@given(
    status=st.sampled_from([200, 201, 301, 304, 400, 401, 403, 404, 408, 429, 500, 502, 503, 504]),
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        ["id", "status", "code", "message", "error", "data", "task_id"]
                    ),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    retry=st.text(max_size=40),
)
def test_any_answer_gives_a_typed_outcome(status: int, body: bytes, retry: str) -> None:
    outcome = parse_create_response(status, {"retry-after": retry}, body, now=NOW)
    assert isinstance(
        outcome,
        Created
        | Refused
        | NoChannel
        | CreateRateLimited
        | CreateServerError
        | CreateBadResponse
        | CreateTimedOut
        | WrongUrl,
    )
    if not 200 <= status <= 299 and status not in (*range(400, 408), *range(409, 500), 503):
        assert outcome.made_job is not False or status in REDIRECTS  # never "not sent"
    if isinstance(outcome, Created):
        assert 200 <= status <= 299
        assert outcome.task_id.isprintable()
    if 400 <= status <= 499 and status != 408:
        assert outcome.made_job is False  # a 4xx is a definite no; a 408 a maybe
    if isinstance(outcome, CreateRateLimited) and outcome.retry_after is not None:
        assert 0 <= outcome.retry_after <= 3600


# ---------------------------------------------------------------- lost answers


def make(kind: type[httpx.TransportError]) -> httpx.TransportError:
    return kind("boom", request=httpx.Request("POST", "http://127.0.0.1/v1/video/create"))


@pytest.mark.parametrize(
    "kind",
    [
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.ProxyError,
        httpx.UnsupportedProtocol,
        httpx.WriteError,
        httpx.WriteTimeout,
    ],
)
def test_errors_before_the_request_was_written_whole_are_not_sent(
    kind: type[httpx.TransportError],
) -> None:
    assert classify_transport_error(make(kind)) is SendFate.NOT_SENT


@pytest.mark.parametrize(
    "kind",
    [
        httpx.NetworkError,
        httpx.ReadTimeout,
        httpx.ReadError,
        httpx.RemoteProtocolError,
        httpx.LocalProtocolError,
        httpx.CloseError,
    ],
)
def test_errors_after_the_request_was_written_are_uncertain(
    kind: type[httpx.TransportError],
) -> None:
    assert classify_transport_error(make(kind)) is SendFate.UNCERTAIN


def test_unknown_errors_are_uncertain() -> None:
    for exc in (asyncio.CancelledError(), TimeoutError(), RuntimeError("?"), OSError(104, "x")):
        assert classify_transport_error(exc) is SendFate.UNCERTAIN


async def test_a_refused_connection_is_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.TransportError) as caught:
            await client.post(f"http://127.0.0.1:{port}/v1/video/create", json={})
    assert classify_transport_error(caught.value) is SendFate.NOT_SENT


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[int, asyncio.Event, list[bytes]]]:
    """Reads the request, then either never answers or hangs up (when ``hang_up`` is set)."""
    hang_up = asyncio.Event()
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65536))
        if hang_up.is_set():
            writer.close()
            return
        await asyncio.Event().wait()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield port, hang_up, received
    server.close()


async def test_a_lost_answer_is_uncertain(
    silent_server: tuple[int, asyncio.Event, list[bytes]],
) -> None:
    port, hang_up, received = silent_server
    url = f"http://127.0.0.1:{port}/v1/video/create"
    timeout = httpx.Timeout(5.0, read=0.2)
    async with httpx.AsyncClient(timeout=timeout) as client:
        with pytest.raises(httpx.TransportError) as timed_out:
            await client.post(url, json={"model": "x"})
        assert isinstance(timed_out.value, httpx.ReadTimeout)
        assert classify_transport_error(timed_out.value) is SendFate.UNCERTAIN
        hang_up.set()
        with pytest.raises(httpx.TransportError) as dropped:
            await client.post(url, json={"model": "y"})
        assert classify_transport_error(dropped.value) is SendFate.UNCERTAIN
    assert len(received) == 2  # both requests did reach the server


def test_a_veo_create_answer_keeps_its_detail_as_capped_extras() -> None:
    """Read as a query's answer is: the same extras, the same caps, the URL rule."""
    from vidwatch.core.model.records import MAX_EXTRAS, MAX_EXTRAS_SIZE

    body = {
        "id": "veo3.1-fast:1770350082-trii1OXZc3",
        "status": "pending",
        "detail": {
            "id": "veo3.1-fast:1770350082-trii1OXZc3",
            "status": "pending",
            "operation_name": "models/veo/operations/abc",
            "seed": 12345,
            "evil_url": "javascript:alert(1)",
            **{f"field_{n}": "x" * 400 for n in range(40)},
        },
    }
    outcome = parse(200, body)
    assert isinstance(outcome, Created)
    assert outcome.result is not None
    extras = dict(outcome.result.extras)
    assert extras["detail.operation_name"] == "models/veo/operations/abc"
    assert extras["detail.seed"] == 12345
    assert "detail.evil_url" not in extras
    assert "detail.status" not in extras
    assert len(outcome.result.extras) <= MAX_EXTRAS
    assert sum(len(k) + len(str(v)) for k, v in outcome.result.extras) <= MAX_EXTRAS_SIZE
    bare = parse(200, {"id": "grok:1", "status": "pending", "status_update_time": 1750323167})
    assert isinstance(bare, Created)
    assert bare.result is None  # nothing beyond what the task list keeps anyway
