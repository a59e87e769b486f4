"""QueryClient.create: one POST through the one send path, sent once, and whether a
create that got no answer can have made a job."""

from __future__ import annotations

import json
from collections.abc import Callable

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey
from httpx_aiohttp.transport import map_aiohttp_exceptions
from vidwatch.core.create.verdict import RowState, judge
from vidwatch.core.gateway.client import CREATE_PATH, QueryClient
from vidwatch.core.gateway.create_answer import (
    CreateBadResponse,
    Created,
    CreateRateLimited,
    NoAnswer,
    Refused,
    SendFate,
    classify_transport_error,
)
from vidwatch.core.gateway.http import _translated, _Transport
from vidwatch.core.gateway.parsing import MAX_BODY
from vidwatch.simulator.server import Simulator

KEY = "sk-test-KEY-0123456789"
KEY_9 = ConnectionKey("127.0.0.1", 9, False, True, None, None, None)
BODY = {"model": "grok-video-3", "prompt": "a cat", "aspect_ratio": "3:2", "images": []}


def mocked(handler: Callable[[httpx.Request], httpx.Response]) -> QueryClient:
    return QueryClient("https://gw.example", KEY, transport=httpx.MockTransport(handler))


async def test_a_create_is_one_post_of_the_exact_body_on_a_connection_not_kept() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "grok:abc", "status": "pending"})

    async with mocked(handler) as client:
        outcome = await client.create(BODY)
    assert outcome == Created("grok:abc", "pending", None)
    assert len(seen) == 1
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", CREATE_PATH)
    assert json.loads(request.content) == BODY
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["connection"] == "close"
    assert KEY not in request.content.decode()


@pytest.mark.parametrize(
    ("exc", "fate"),
    [
        (httpx.ConnectError("refused"), SendFate.NOT_SENT),
        (httpx.ConnectTimeout("slow handshake"), SendFate.NOT_SENT),
        (httpx.WriteError("broken pipe"), SendFate.NOT_SENT),
        (httpx.NetworkError("connection lost"), SendFate.UNCERTAIN),
        (httpx.ReadTimeout("no answer"), SendFate.UNCERTAIN),
        (httpx.RemoteProtocolError("peer closed"), SendFate.UNCERTAIN),
        (httpx.ReadError("reset"), SendFate.UNCERTAIN),
        (RuntimeError("surprise"), SendFate.UNCERTAIN),
    ],
)
async def test_a_create_without_an_answer_says_whether_it_can_have_been_sent(
    exc: Exception, fate: SendFate
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    async with mocked(handler) as client:
        outcome = await client.create(BODY)
    assert isinstance(outcome, NoAnswer)
    assert outcome.fate is fate
    verdict = judge(outcome)
    assert verdict.state is (RowState.NOT_SENT if fate is SendFate.NOT_SENT else RowState.UNCERTAIN)
    assert verdict.retry_soon is (fate is SendFate.NOT_SENT)


async def test_answers_are_parsed_and_the_key_is_redacted_from_them() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"message": "busy"}}),
            httpx.Response(
                429,
                headers={"Retry-After": "Thu, 01 Jan 2099 00:00:00 GMT"},
                json={"error": {"message": "busy"}},
            ),
            httpx.Response(400, json={"code": "bad", "message": f"bad header Bearer {KEY}"}),
            httpx.Response(200, content=b" " * (MAX_BODY + 1)),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    async with mocked(handler) as client:
        limited = await client.create(BODY)
        dated = await client.create(BODY)
        refused = await client.create(BODY)
        huge = await client.create(BODY)
    assert isinstance(limited, CreateRateLimited)
    assert limited.retry_after == 7.0
    assert isinstance(dated, CreateRateLimited)
    assert dated.retry_after == 3600.0  # Retry-After as an HTTP date, capped (parsing's rule)
    assert isinstance(refused, Refused)
    assert KEY not in refused.message
    assert "***" in refused.message
    assert isinstance(huge, CreateBadResponse)
    assert huge.made_job is None  # an answer came: the job may exist


async def test_nobody_listening_is_not_sent() -> None:
    async with QueryClient("http://127.0.0.1:9", KEY) as client:
        outcome = await client.create(BODY)
    assert isinstance(outcome, NoAnswer)
    assert outcome.fate is SendFate.NOT_SENT


async def test_a_lost_answer_is_uncertain_and_the_post_is_never_sent_again() -> None:
    """On the production transport (aiohttp): a dropped connection after the body went
    out, even on a connection kept alive by a query before, is not retried."""
    sim = Simulator(jobs=1, seed=3)
    base_url = await sim.start()
    try:
        async with QueryClient(base_url, sim.api_key) as client:
            await client.query(sim.job_ids[0])  # a kept-alive connection now exists
            sim.create.inject("lose-answer")
            lost = await client.create(BODY)
            sim.create.inject("drop")
            dropped = await client.create(BODY)
            made = await client.create(BODY)
    finally:
        await sim.stop()
    assert isinstance(lost, NoAnswer)
    assert lost.fate is SendFate.UNCERTAIN
    assert isinstance(dropped, NoAnswer)
    assert dropped.fate is SendFate.UNCERTAIN  # it cannot tell: the request had gone out
    assert isinstance(made, Created)
    assert sim.create.accepted == 2  # the lost one and the last one: each sent once
    assert sim.create.answers[0] == 2  # two connections dropped, neither retried


def caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause  # as aiohttp's helpers.set_exception chains them
    return error


CLOSING = aiohttp.ClientConnectionResetError("Cannot write to closing transport")
UNWRITTEN = "Can not write request body for https://gw.example/v1/video/create"


@pytest.mark.parametrize(
    ("cause", "fate"),
    [
        (aiohttp.ConnectionTimeoutError("connect timed out"), SendFate.NOT_SENT),
        # The writer found the connection closing: the request never went out whole.
        (CLOSING, SendFate.NOT_SENT),
        (caused(aiohttp.ClientOSError(None, UNWRITTEN), CLOSING), SendFate.NOT_SENT),
        # The connection was lost while the body drained, or after: it may have gone out.
        (
            caused(aiohttp.ClientOSError(None, UNWRITTEN), ConnectionError("Connection lost")),
            SendFate.UNCERTAIN,
        ),
        (aiohttp.ClientConnectionResetError("Connection lost"), SendFate.UNCERTAIN),
        (aiohttp.ClientOSError(None, UNWRITTEN), SendFate.UNCERTAIN),
        (aiohttp.ClientConnectorError(KEY_9, OSError(111, "refused")), SendFate.NOT_SENT),
        (aiohttp.ServerDisconnectedError(), SendFate.UNCERTAIN),
        (aiohttp.SocketTimeoutError("read timed out"), SendFate.UNCERTAIN),
        (aiohttp.ServerTimeoutError("timed out"), SendFate.UNCERTAIN),
        (aiohttp.ClientOSError(104, "reset by peer"), SendFate.UNCERTAIN),
    ],
)
def test_aiohttp_errors_say_whether_the_request_went_out(cause: Exception, fate: SendFate) -> None:
    """httpx-aiohttp calls most of these ConnectTimeout; only the ones raised before a
    connection existed, or before the request was written, may say "not sent"."""
    request = httpx.Request("POST", "https://gw.example/v1/video/create")
    with pytest.raises(httpx.HTTPError) as mapped, map_aiohttp_exceptions():
        raise cause
    translated = _translated(mapped.value, request)
    assert classify_transport_error(translated) is fate
    if isinstance(cause, TimeoutError):
        assert isinstance(translated, httpx.TimeoutException)  # a query says "timed out"


async def test_creates_have_a_connector_of_their_own_that_never_keeps_a_connection() -> None:
    from vidwatch.core.gateway.http import production_transport

    sessions = []
    for purpose in ("api", "create"):
        transport = production_transport(4, purpose)
        assert isinstance(transport, _Transport)
        assert callable(transport.client)
        sessions.append(transport.client())
    polls, creates = sessions
    try:
        assert polls.connector is not None
        assert creates.connector is not None
        assert polls.connector is not creates.connector  # apart from polling's pool
        assert creates.connector.force_close
        assert not polls.connector.force_close
    finally:
        for session in sessions:
            await session.close()
