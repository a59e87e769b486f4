"""The one HTTP stack (vidwatch/core/gateway/http.py): what every client it builds does."""

from __future__ import annotations

import httpx
import pytest
from vidwatch.core.gateway.http import Purpose, new_client


async def cookies_sent(purpose: Purpose, *, set_them: bool = False) -> list[str | None]:
    """The Cookie header of two requests to a server that sets one in every answer
    (built requests: httpx adds the client's cookies to them; QueryClient builds its
    own); ``set_them`` also tries to give the client one."""
    sent: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "track=1; Path=/"})

    async with new_client(
        timeout=httpx.Timeout(5),
        connections=1,
        purpose=purpose,
        transport=httpx.MockTransport(handler),
    ) as client:
        await client.get("https://api.example/v1/video/query?id=a")
        await client.get("https://api.example/v1/video/query?id=a")
        if set_them:
            client.cookies = {"planted": "1"}
    return sent


@pytest.mark.parametrize("purpose", ["api", "create"])
async def test_the_gateways_clients_keep_no_cookie_and_send_none(purpose: Purpose) -> None:
    assert await cookies_sent(purpose) == [None, None]
    with pytest.raises(TypeError):
        await cookies_sent(purpose, set_them=True)


async def test_downloads_keep_httpxs_cookie_handling() -> None:
    """A video host may set a cookie on a redirect to the file."""
    assert await cookies_sent("files") == [None, "track=1"]
    await cookies_sent("files", set_them=True)


async def test_each_hop_of_a_redirect_meets_the_url_rule() -> None:
    """A video host's redirect to a URL that reads as one host and leads to another goes
    no further; a plain one is followed."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.path == "/hides":
            return httpx.Response(302, headers={"Location": "https://cdn.example@evil.example/v"})
        if request.url.path == "/plain":
            return httpx.Response(302, headers={"Location": "https://cdn.example/v.mp4"})
        return httpx.Response(200, content=b"video")

    async with new_client(
        timeout=httpx.Timeout(5),
        connections=1,
        purpose="files",
        follow_redirects=True,
        transport=httpx.MockTransport(handler),
    ) as client:
        assert (await client.get("https://videos.example/plain")).content == b"video"
        with pytest.raises(httpx.UnsupportedProtocol, match=r"really leads to evil\.example"):
            await client.get("https://videos.example/hides")
    assert asked == [
        "https://videos.example/plain",
        "https://cdn.example/v.mp4",
        "https://videos.example/hides",
    ]  # evil.example was never asked
