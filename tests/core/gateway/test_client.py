"""QueryClient: the one send path, on the production transport against real loopback
servers, and with ``httpx.MockTransport`` playing any server. Both are the same code:
only the transport differs."""

from __future__ import annotations

import asyncio
import functools
import json
import struct
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vidwatch.core.gateway.client import QUERY_PATH, QueryClient, Reply
from vidwatch.core.gateway.outcomes import AuthRejected, BadResponse, NetworkError, Ok
from vidwatch.core.gateway.parsing import MAX_BODY
from vidwatch.core.model.records import State, validate_task_id
from vidwatch.core.text.urls import InsecureURLError

KEY = "sk-test-KEY-0123456789"
MiB = 1 << 20


@functools.cache
def gzip_bomb(mebibytes: int) -> bytes:
    """A valid gzip body of about 1 KB per MiB of zeros it inflates to (built from one
    compressed MiB repeated: after a full flush the compressor starts afresh)."""
    zeros = bytes(MiB)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.flush(zlib.Z_FINISH)[:-8]  # the last block; the trailer follows
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    trailer = struct.pack("<II", crc, (mebibytes * MiB) & 0xFFFFFFFF)
    return first + again * (mebibytes - 1) + end + trailer


@dataclass
class Server:
    """A loopback gateway whose answer the test picks with ``mode``."""

    base_url: str = ""
    mode: str = "echo"
    seen_ids: list[str] = field(default_factory=list)
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    redirected: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)  # ends stalled answers

    async def query(self, request: web.Request) -> web.StreamResponse:
        self.seen_ids.append(request.query.get("id", ""))
        self.seen_headers.append(dict(request.headers))
        if self.mode in ("chunked-huge", "chunked-small", "drip", "bomb-chunked"):
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            if self.mode == "bomb-chunked":
                response.headers["Content-Encoding"] = "gzip"
            response.enable_chunked_encoding()
            await response.prepare(request)
            if self.mode == "chunked-small":
                await response.write(b'{"status": ')
                await response.write(b'"processing"}')
            elif self.mode == "chunked-huge":
                for _ in range(40):
                    await response.write(b" " * 65536)
            elif self.mode == "bomb-chunked":
                bomb = gzip_bomb(1024)  # 1 MB that inflates to 1 GiB
                for start in range(0, len(bomb), 65536):
                    await response.write(bomb[start : start + 65536])
            else:  # a byte at a time, never finishing: only a total deadline ends it
                while not self.release.is_set():
                    await response.write(b" ")
                    await asyncio.sleep(0.02)
            await response.write_eof()
            return response
        if self.mode == "bomb":  # with its length: under the cap until inflated
            bomb = gzip_bomb(1000)
            assert len(bomb) < MAX_BODY
            headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
            return web.Response(body=bomb, headers=headers)
        if self.mode == "gzip":
            answer = {"id": request.query.get("id", ""), "status": "processing"}
            packed = zlib.compress(json.dumps(answer).encode(), wbits=31)
            return web.Response(body=packed, headers={"Content-Encoding": "gzip"})
        if self.mode == "redirect":
            raise web.HTTPFound(f"{self.base_url}/elsewhere")
        if self.mode == "stall":
            await self.release.wait()
        if self.mode == "drop" and request.transport is not None:
            request.transport.close()  # no answer at all
        body = {"id": request.query.get("id", ""), "status": "pending"}
        return web.json_response(body)

    async def elsewhere(self, request: web.Request) -> web.StreamResponse:
        self.redirected += 1
        return web.json_response({"status": "pending"})


async def start_server(state: Server) -> web.AppRunner:
    app = web.Application()
    app.router.add_get(QUERY_PATH, state.query)
    app.router.add_get("/elsewhere", state.elsewhere)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    state.base_url = f"http://127.0.0.1:{port}"
    return runner


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    runner = await start_server(state)
    yield state
    state.release.set()  # stalled handlers finish at once: nothing to wait for
    await runner.cleanup()


# --------------------------------------------------------------------------- over loopback


async def test_the_listed_headers_and_the_key_are_sent_and_the_key_can_change(
    server: Server,
) -> None:
    async with QueryClient(server.base_url, "sk-one") as client:
        assert isinstance(await client.query("grok:1"), Ok)
        client.set_key("sk-two")
        assert isinstance(await client.query("grok:1"), Ok)
        client.set_key(None)
        assert isinstance(await client.query("grok:1"), Ok)
    auth = [headers.get("Authorization") for headers in server.seen_headers]
    assert auth == ["Bearer sk-one", "Bearer sk-two", None]
    first = server.seen_headers[0]
    assert first["Accept"] == "application/json"
    assert first["Content-Type"] == "application/json"
    assert first["User-Agent"].startswith("vidwatch/")


async def test_a_chunked_body_without_length_is_capped(server: Server) -> None:
    async with QueryClient(server.base_url, "k") as client:
        server.mode = "chunked-huge"  # 2.5 MiB, no Content-Length
        outcome = await client.query("grok:1")
        assert isinstance(outcome, BadResponse)
        assert f"{MAX_BODY // 1024} KiB" in outcome.reason
        server.mode = "chunked-small"
        small = await client.query("grok:1")
        assert isinstance(small, Ok)
        assert small.result.status == "processing"


async def test_a_compressed_answer_is_decoded(server: Server) -> None:
    server.mode = "gzip"
    async with QueryClient(server.base_url, "k") as client:
        outcome = await client.query("grok:1")
    assert isinstance(outcome, Ok), outcome
    assert outcome.result.state is State.RUNNING


@pytest.mark.parametrize("mode", ["bomb", "bomb-chunked"])
async def test_a_gzip_bomb_is_cut_at_the_cap_while_streaming(server: Server, mode: str) -> None:
    """About 1 MB on the wire, 1 GiB inflated: the body is refused after at most one
    decoded chunk past the cap, so memory stays bounded (reading it whole took 2 GB)."""
    gzip_bomb(1024 if mode == "bomb-chunked" else 1000)  # built before measuring
    server.mode = mode
    async with QueryClient(server.base_url, "k") as client:
        tracemalloc.start()
        try:
            outcome = await client.query("grok:1")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert isinstance(outcome, BadResponse), outcome
    assert "larger than" in outcome.reason
    assert peak < 100 * MiB, f"peak {peak / MiB:.0f} MiB"


async def test_a_redirect_is_not_followed(server: Server) -> None:
    server.mode = "redirect"
    async with QueryClient(server.base_url, "k") as client:
        outcome = await client.query("grok:1")
    assert isinstance(outcome, BadResponse)
    assert "redirect" in outcome.reason
    assert server.redirected == 0


@pytest.mark.parametrize("mode", ["stall", "drip"])
async def test_a_slow_server_is_a_timeout(server: Server, mode: str) -> None:
    """No answer, or one that trickles in forever (each byte within the read timeout):
    the whole exchange has one deadline."""
    server.mode = mode
    async with QueryClient(server.base_url, "k", timeout=0.3) as client:
        outcome = await client.query("grok:1")
    assert isinstance(outcome, NetworkError)
    assert outcome.timeout


async def test_a_dropped_connection_is_a_network_error_not_a_timeout(server: Server) -> None:
    server.mode = "drop"
    async with QueryClient(server.base_url, "k") as client:
        outcome = await client.query("grok:1")
    assert isinstance(outcome, NetworkError), outcome
    assert not outcome.timeout
    assert "Server disconnected" in outcome.reason


async def test_a_malformed_http_answer_is_a_network_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with QueryClient(f"http://127.0.0.1:{port}", "k") as client:
            outcome = await client.query("grok:1")
    finally:
        listener.close()
        await listener.wait_closed()
    assert isinstance(outcome, NetworkError), outcome
    assert not outcome.timeout
    assert "Content-Length" in outcome.reason  # said what was wrong, not "unexpected"


async def test_proxy_settings_in_the_environment_are_not_used(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    async with QueryClient(server.base_url, "k") as client:
        assert isinstance(await client.query("grok:1"), Ok)


async def test_nobody_listening_is_a_network_error() -> None:
    async with QueryClient("http://127.0.0.1:9", "k") as client:
        outcome = await client.query("grok:1")
    assert isinstance(outcome, NetworkError)
    assert not outcome.timeout


ids = st.text(min_size=1, max_size=60).filter(lambda s: validate_task_id(s) is None)


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(task_ids=st.lists(ids, min_size=10, max_size=30, unique=True))
def test_any_accepted_id_reaches_the_server_exactly(task_ids: list[str]) -> None:
    # One server per example and many IDs through it: a server per ID made this the
    # slowest test of the suite on a loaded machine.
    async def ask() -> tuple[list[str], list[object]]:
        state = Server()
        runner = await start_server(state)
        try:
            async with QueryClient(state.base_url, "k") as client:
                outcomes: list[object] = [await client.query(t) for t in task_ids]
        finally:
            await runner.cleanup()
        return state.seen_ids, outcomes

    seen, outcomes = asyncio.run(ask())
    assert seen == task_ids
    for outcome in outcomes:
        assert isinstance(outcome, Ok), outcome
        assert outcome.result.server_id is not None
        assert json.loads(json.dumps(outcome.result.server_id)) == outcome.result.server_id


# --------------------------------------------------------------------------- any server


Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler) -> QueryClient:
    return QueryClient("https://api.example", KEY, transport=httpx.MockTransport(handler))


def answer(task_id: str = "033fa60e", **fields: object) -> bytes:
    return json.dumps({"id": task_id, "status": "pending", **fields}).encode()


async def test_client_sends_key_and_encodes_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=answer("a b&c=d/é", status="running"))

    async with client_for(handler) as client:
        outcome = await client.query("grok:a b&c=d/é")
    assert isinstance(outcome, Ok), outcome
    assert outcome.result.state is State.RUNNING
    request = seen[0]
    assert request.method == "GET"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.url.path == QUERY_PATH
    assert request.url.params["id"] == "grok:a b&c=d/é"
    assert b"a+b%26c%3Dd%2F%C3%A9" in request.url.query or b"a%20b%26c%3Dd" in request.url.query


@pytest.mark.parametrize("body_id", ["grok:abc", "abc", None, "xyz", "grok:xyz", "033fa60e-f37c"])
async def test_an_answer_is_kept_whatever_id_its_body_gives(body_id: str | None) -> None:
    """The answer is about the task asked for: the doc's example answers a grok: ID with an
    unrelated upstream id, other gateways drop the prefix (issue 16)."""

    def handler(request: httpx.Request) -> httpx.Response:
        fields = {"status": "completed", "video_url": "https://cdn.example/other.mp4"}
        return httpx.Response(200, json={"id": body_id, **fields})

    async with client_for(handler) as client:
        outcome = await client.query("grok:abc")
    assert isinstance(outcome, Ok), outcome
    assert outcome.result.video_url == "https://cdn.example/other.mp4"
    assert outcome.result.server_id == body_id


async def test_a_post_goes_through_the_same_send_path() -> None:
    """Job creation comes next: the same headers, cap and outcomes, with a JSON body."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/video/create":
            return httpx.Response(200, json={"id": "grok:new", "status": "pending"})
        return httpx.Response(200, content=b" " * (MAX_BODY + 1))

    async with client_for(handler) as client:
        reply = await client._send("POST", "/v1/video/create", json={"model": "m", "prompt": "p"})
        capped = await client._send("POST", "/v1/other", json={})
    assert isinstance(reply, Reply)
    assert (reply.status, json.loads(reply.body)["id"]) == (200, "grok:new")
    assert isinstance(capped, BadResponse)
    request = seen[0]
    assert request.method == "POST"
    assert json.loads(request.content) == {"model": "m", "prompt": "p"}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {KEY}"


async def test_client_does_not_follow_redirects() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(307, headers={"location": "https://evil.example/steal"})

    async with client_for(handler) as client:
        outcome = await client.query("x")
    assert isinstance(outcome, BadResponse)
    assert len(calls) == 1


async def test_client_refuses_huge_bodies_by_length_and_by_stream() -> None:
    def declared(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": str(MAX_BODY * 5)}, content=b"{}")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    for handler in (declared, streamed):
        async with client_for(handler) as client:
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

    async with client_for(handler) as client:
        outcome = await client.query("x")
    assert isinstance(outcome, NetworkError)
    assert outcome.timeout is timeout


async def test_client_redacts_an_echoed_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        return httpx.Response(401, json={"error": {"message": f"bad token {auth}"}})

    async with client_for(handler) as client:
        outcome = await client.query("x")
    assert isinstance(outcome, AuthRejected)
    assert KEY not in outcome.message
    assert "***" in outcome.message

    def echo_ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=answer("x", status="failed", fail_reason=f"key {KEY} banned")
        )

    async with client_for(echo_ok) as client:
        result = await client.query("x")
    assert isinstance(result, Ok)
    assert KEY not in (result.result.fail_reason or "")

    def echo_error(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"proxy said {request.headers['authorization']}")

    async with client_for(echo_error) as client:
        failed = await client.query("x")
    assert isinstance(failed, NetworkError)
    assert KEY not in failed.message


def test_client_refuses_plain_http_to_a_remote_host() -> None:
    with pytest.raises(InsecureURLError):
        QueryClient("http://api.quickrouter.ai", KEY)


async def test_client_repr_says_whether_a_key_is_set_never_the_key() -> None:
    async with client_for(lambda r: httpx.Response(200)) as client:
        assert repr(client) == "QueryClient('https://api.example', key set)"
        client.set_key(None)
        assert repr(client) == "QueryClient('https://api.example', key not set)"


async def test_no_cookie_is_kept_or_sent_to_the_gateway() -> None:
    cookies: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cookies.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "track=1; Path=/"}, content=answer("x"))

    async with client_for(handler) as client:
        assert isinstance(await client.query("x"), Ok)
        assert isinstance(await client.query("x"), Ok)
    assert cookies == [None, None]


async def test_parsed_urls_are_kept_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vidwatch.core.gateway.client.URL_CACHE", 3)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["id"])
        return httpx.Response(200, content=answer(request.url.params["id"]))

    async with client_for(handler) as client:
        for task_id in ["a", "b", "a", "c", "d", "e", "a"]:
            assert isinstance(await client.query(task_id), Ok)
            assert len(client._urls) <= 3
    assert seen == ["a", "b", "a", "c", "d", "e", "a"]  # each asked for what it named
