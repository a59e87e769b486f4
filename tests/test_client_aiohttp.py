"""The production path of QueryClient (aiohttp) against a real loopback server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vidwatch.core.api import MAX_BODY, BadResponse, NetworkError, Ok, QueryClient
from vidwatch.core.models import validate_task_id

pytestmark = pytest.mark.e2e


@dataclass
class Server:
    base_url: str = ""
    mode: str = "echo"
    seen_ids: list[str] = field(default_factory=list)
    seen_auth: list[str] = field(default_factory=list)
    redirected: int = 0

    async def query(self, request: web.Request) -> web.StreamResponse:
        self.seen_ids.append(request.query.get("id", ""))
        self.seen_auth.append(request.headers.get("Authorization", ""))
        if self.mode == "chunked-huge" or self.mode == "chunked-small":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            if self.mode == "chunked-small":
                await response.write(b'{"status": ')
                await response.write(b'"processing"}')
            else:
                for _ in range(40):
                    await response.write(b" " * 65536)
            await response.write_eof()
            return response
        if self.mode == "redirect":
            raise web.HTTPFound(f"{self.base_url}/elsewhere")
        if self.mode == "slow":
            await asyncio.sleep(5)
        body = {"id": request.query.get("id", ""), "status": "pending"}
        return web.json_response(body)

    async def elsewhere(self, request: web.Request) -> web.StreamResponse:
        self.redirected += 1
        return web.json_response({"status": "pending"})


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = web.Application()
    app.router.add_get("/v1/video/query", state.query)
    app.router.add_get("/elsewhere", state.elsewhere)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base_url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


async def test_the_key_goes_in_the_header_and_can_change(server: Server) -> None:
    async with QueryClient(server.base_url, "sk-one") as client:
        assert isinstance(await client.query("grok:1"), Ok)
        client.set_key("sk-two")
        assert isinstance(await client.query("grok:1"), Ok)
    assert server.seen_auth == ["Bearer sk-one", "Bearer sk-two"]


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


async def test_a_redirect_is_not_followed(server: Server) -> None:
    server.mode = "redirect"
    async with QueryClient(server.base_url, "k") as client:
        outcome = await client.query("grok:1")
    assert isinstance(outcome, BadResponse)
    assert "redirect" in outcome.reason
    assert server.redirected == 0


async def test_a_slow_server_is_a_timeout(server: Server) -> None:
    server.mode = "slow"
    async with QueryClient(server.base_url, "k", timeout=0.3) as client:
        outcome = await client.query("grok:1")
    assert isinstance(outcome, NetworkError)
    assert outcome.timeout


async def test_proxy_settings_in_the_environment_are_not_used(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    async with QueryClient(server.base_url, "k") as client:
        assert isinstance(await client.query("grok:1"), Ok)


async def test_nobody_listening_is_a_network_error() -> None:
    async with QueryClient("http://127.0.0.1:9", "k") as client:
        outcome = await client.query("grok:1")
    assert isinstance(outcome, NetworkError)
    assert not outcome.timeout


ids = st.text(min_size=1, max_size=60).filter(lambda s: validate_task_id(s) is None)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(task_id=ids)
def test_any_accepted_id_reaches_the_server_exactly(task_id: str) -> None:
    async def ask() -> tuple[list[str], object]:
        state = Server()
        app = web.Application()
        app.router.add_get("/v1/video/query", state.query)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with QueryClient(f"http://127.0.0.1:{port}", "k") as client:
                outcome = await client.query(task_id)
        finally:
            await runner.cleanup()
        return state.seen_ids, outcome

    seen, outcome = asyncio.run(ask())
    assert seen == [task_id]
    assert isinstance(outcome, Ok)
    assert outcome.result.server_id is not None
    assert json.loads(json.dumps(outcome.result.server_id)) == outcome.result.server_id
