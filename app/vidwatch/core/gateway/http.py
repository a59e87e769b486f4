"""The one HTTP stack: every request vidwatch sends goes through an ``httpx.AsyncClient``
built by :func:`new_client`.

Only the transport differs, and it is chosen here. Calls to the gateway (small JSON
answers, thousands of them) go through the ``AiohttpTransport`` of ``httpx-aiohttp``:
aiohttp's connection pool and parser under httpx's API, several times less CPU per poll
than httpx's default transport (``make bench`` measures both in the same run). Creates
(``purpose="create"``) go through aiohttp too, but never through polling's pool: each
one on a connection opened for it and closed after it. A kept-alive connection can be
closed by the server (or a proxy in front) at any moment, without a word; a create
written on it just then is lost before the server reads it, and that cannot be told
from an answer lost after the job was made. On a connection of its own, a create fails
before it is written (nothing to lose: it is sent again) or it reached the server. Video
downloads (few, large, resumable) go through httpx's default transport, which hands
over every byte that arrived before a connection broke; aiohttp drops what it had
buffered, and a resume would start earlier than it could. Tests pass
``httpx.MockTransport`` or talk to a real loopback server. Everything else is the same
code either way: no proxies or certificates from the environment, redirects only when
asked, timeouts, connection limits, the user agent, and bodies read by
:func:`read_capped` (decoded bytes, cut at a cap while streaming) or ``aiter_raw``.

This is the only module that imports aiohttp as a client. It uses no private name of
httpx, httpx-aiohttp or aiohttp, and relies on one detail: the words of aiohttp's writer
when it refuses to write (:func:`_unwritten`), checked by ``tests/test_dependencies.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final, Literal

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from vidwatch import __version__
from vidwatch.core.gateway.outcomes import MAX_MESSAGE
from vidwatch.core.text.sanitize import clean_line, url_problem

__all__ = [
    "USER_AGENT",
    "BodyTooLarge",
    "Purpose",
    "RefusedHop",
    "describe_error",
    "new_client",
    "production_transport",
    "read_capped",
]

USER_AGENT: Final = f"vidwatch/{__version__}"

Purpose = Literal["api", "create", "files"]


def new_client(
    *,
    timeout: httpx.Timeout,
    connections: int,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    follow_redirects: bool = False,
    purpose: Purpose = "api",
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The client for one purpose: ``api`` (polling: kept-alive connections),
    ``create`` (creating jobs: a new connection for each) or ``files`` (downloads).

    ``trust_env=False``: a proxy or CA bundle named in the environment never sees the
    key. ``follow_redirects`` stays off wherever the key travels (a redirect would hand
    it to another host). ``transport`` replaces the production one (tests).
    """
    if transport is None:
        transport = production_transport(connections, purpose)
    # A video host may set a cookie on a redirect: downloads keep httpx's own handling.
    kind = httpx.AsyncClient if purpose == "files" else _CookielessClient
    return kind(
        base_url=base_url,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=timeout,
        follow_redirects=follow_redirects,
        trust_env=False,
        transport=transport,
        # httpx calls it for every request it sends, each hop of a redirect included
        event_hooks={"request": [_check_hop]} if follow_redirects else None,
    )


class RefusedHop(httpx.UnsupportedProtocol):
    """A redirect led to a URL the one URL rule refuses; its text says why (clean)."""


async def _check_hop(request: httpx.Request) -> None:
    """The one URL rule, at every hop: a redirect to a URL that hides its host (user
    information), holds invisible characters or is not http(s) goes no further."""
    problem = url_problem(str(request.url))
    if problem is not None:
        said = clean_line(f"a redirect leads to a URL that is refused: {problem}", 300)
        raise RefusedHop(said, request=request)


class _NoCookies(httpx.Cookies):
    """Cookies that are never kept nor sent."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class _CookielessClient(httpx.AsyncClient):
    """A client that keeps no cookie and sends none to the gateway: no call needs one, a
    hostile server gets no state to plant, and reading every answer's ``Set-Cookie``
    costs CPU on every poll (~55 µs per answer through a public ``CookieJar`` that keeps
    nothing, 0.1 µs here). httpx has no switch for it, but reads and stores cookies
    through the client's public ``cookies`` property, which this client answers with
    cookies that do neither (``tests/core/gateway/test_http.py``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("the gateway's client keeps no cookies")


def production_transport(connections: int, purpose: Purpose = "api") -> httpx.AsyncBaseTransport:
    """For ``api``: aiohttp under httpx, at most ``connections`` sockets, kept alive,
    DNS cached, the system's certificate store, no cookies kept, no proxy from the
    environment, bodies passed on undecoded (httpx decodes them, under our cap).
    For ``create``: the same, but every request on a connection of its own, closed
    after its answer (aiohttp's ``force_close``), never one from the polling pool.
    For ``files``: httpx's own transport, with the same limits."""
    connections = max(connections, 1)
    if purpose == "files":
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    transport: _Transport

    def session() -> aiohttp.ClientSession:  # made on first use, inside the event loop
        connector = aiohttp.TCPConnector(
            limit=connections, ttl_dns_cache=300, force_close=purpose == "create"
        )
        return aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        )

    transport = _Transport(trust_env=False, client=session)
    return transport


class _Transport(AiohttpTransport):
    """``AiohttpTransport`` with every aiohttp error turned into the httpx error it means.

    httpx-aiohttp maps any dropped or reset connection to ``ConnectTimeout`` and leaves a
    malformed answer (``ClientResponseError``) unmapped; here a drop is a network error,
    not a timeout, a connection that could not be made ``ConnectError`` (or
    ``ConnectTimeout``), and a malformed answer a protocol error, during the headers or
    the body.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except (httpx.TimeoutException, aiohttp.ClientError) as exc:
            raise _translated(exc, request) from (exc.__cause__ or exc)
        response.stream = _Stream(response.stream, request)
        return response


class _Stream(httpx.AsyncByteStream):
    def __init__(
        self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, request: httpx.Request
    ) -> None:
        assert isinstance(inner, httpx.AsyncByteStream)
        self._inner = inner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except (httpx.TimeoutException, aiohttp.ClientError) as exc:
            raise _translated(exc, self._request) from (exc.__cause__ or exc)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _translated(exc: Exception, request: httpx.Request) -> Exception:
    cause = exc.__cause__ if isinstance(exc, httpx.HTTPError) else exc
    # No connection was made: a create cannot have reached the server (and may be sent
    # again); httpx-aiohttp calls both a timeout, and a refused connection a drop.
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc), request=request)
    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc), request=request)
    if _unwritten(cause):  # the request never went out whole: no job can have been made
        return httpx.WriteError(str(exc), request=request)
    if isinstance(exc, httpx.TimeoutException):
        if cause is None or isinstance(cause, TimeoutError):
            if isinstance(exc, httpx.ConnectTimeout):  # not a connect timeout (above)
                return httpx.ReadTimeout(str(exc), request=request)
            return exc  # a real timeout
        return httpx.NetworkError(str(exc), request=request)
    return httpx.RemoteProtocolError(str(exc), request=request)


_CLOSING: Final = "Cannot write to closing transport"


def _unwritten(cause: BaseException | None) -> bool:
    """Whether aiohttp's writer refused the request: it found the connection closing
    before it handed the bytes over. It says so with ``ClientConnectionResetError("Cannot
    write to closing transport")``, raised as it is from a headers' write, or as the
    cause of ``ClientOSError("Can not write request body for …")`` from the body's write
    (aiohttp's ``ClientRequest.write_bytes``); the answer is then read in vain and that
    error is what the read raises. Every other failure (the connection lost while the
    body drained, or after it was written, or before we could tell) is not recognised
    here and stays uncertain: a wrong "uncertain" costs a question to the user, a wrong
    "not sent" could pay twice."""
    for error in (cause, cause.__cause__ if cause is not None else None):
        if isinstance(error, ConnectionResetError) and str(error) == _CLOSING:
            return True
    return False


class BodyTooLarge(Exception):
    """The body passed the cap (after decompression)."""


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, read as it streams in; raises :class:`BodyTooLarge` as soon as
    it passes ``limit`` (a declared length over it is refused before reading). A small
    gzip that inflates to gigabytes is cut here: at most one decoded chunk past the
    limit is ever held."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def describe_error(exc: BaseException) -> str:
    """``ServerDisconnectedError: Server disconnected``: the underlying error's name (the
    transport's own, where httpx wraps one) and its message, on one line."""
    shown = exc.__cause__ if isinstance(exc, httpx.HTTPError) and exc.__cause__ else exc
    text = clean_line(str(shown) or str(exc), MAX_MESSAGE)
    name = type(shown).__name__
    return f"{name}: {text}" if text else name
