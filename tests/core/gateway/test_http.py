"""The one HTTP stack (vidwatch/core/gateway/http.py): what every client it builds does."""

from __future__ import annotations

import httpx
import pytest
from vidwatch.core.gateway.http import Purpose, new_client

COOKIE = {"Set-Cookie": "track=1; Path=/"}


@pytest.mark.parametrize("purpose", ["api", "create"])
async def test_the_gateways_clients_keep_no_cookie_and_send_none(purpose: Purpose) -> None:
    """Built requests too (``client.get``: httpx adds the client's cookies to them), not
    only the ones QueryClient builds itself."""
    sent: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers=COOKIE)

    async with new_client(
        timeout=httpx.Timeout(5),
        connections=1,
        base_url="https://api.example",
        purpose=purpose,
        transport=httpx.MockTransport(handler),
    ) as client:
        await client.get("/v1/video/query?id=a")
        await client.get("/v1/video/query?id=a")
        assert dict(client.cookies) == {}  # never read from an answer
        with pytest.raises(TypeError):
            client.cookies = {"planted": "1"}
    assert sent == [None, None]


async def test_downloads_keep_httpxs_cookie_handling() -> None:
    """A video host may set a cookie on a redirect to the file."""
    sent: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers=COOKIE)

    async with new_client(
        timeout=httpx.Timeout(5),
        connections=1,
        purpose="files",
        transport=httpx.MockTransport(handler),
    ) as client:
        await client.get("https://cdn.example/v.mp4")
        await client.get("https://cdn.example/v.mp4")
    assert sent == [None, "track=1"]
