"""Loopback gateways that behave like real servers, not like aiohttp's friendly one.

:class:`RawGateway` is a bare asyncio protocol that reads HTTP/1.x requests itself and
answers ``POST /v1/video/create`` and ``GET /v1/video/query`` in the gateway's shapes.
It runs on the test's own event loop and writes down every request it received whole
(:attr:`RawGateway.received`): a request it never read to the end was never received.
Its manners:

- ``http10``: answers ``HTTP/1.0`` without keep-alive and closes after each answer;
- keep-alive (the default): answers ``HTTP/1.1`` and keeps the connection, ignoring a
  ``Connection: close`` from the client (as some proxies do), and closes a connection
  that has been idle for ``idle`` seconds *silently* (no ``Connection: close`` was ever
  sent): from that moment it reads nothing more on it (bytes that arrive are dropped,
  never received), and the close itself reaches the client ``close_delay`` seconds later,
  as over a network. :attr:`RawGateway.dying` is set each time a connection enters that
  window;
- ``drop_creates``: reads each create whole, makes its job, then drops the connection
  without answering (a lost answer: the one case that is truly uncertain).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

__all__ = ["RawGateway", "Received"]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class RawGateway:
    http10: bool = False
    idle: float = 0.05
    close_delay: float = 0.2
    drop_creates: bool = False
    received: list[Received] = field(default_factory=list)
    jobs: dict[str, dict[str, object]] = field(default_factory=dict)  # id: create body
    connections: int = 0  # accepted so far
    dropped_bytes: int = 0  # arrived on a dying connection, never read
    dying: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _open: set[_Connection] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    base_url: str = ""

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self._open):
                if connection.transport is not None:
                    connection.transport.abort()
            await self._server.wait_closed()

    def creates(self) -> list[dict[str, object]]:
        """The create bodies received whole, in order."""
        return [r.json for r in self.received if r.method == "POST"]  # type: ignore[misc]

    def answer(self, request: Received) -> tuple[int, bytes]:
        if request.method == "POST" and request.path == "/v1/video/create":
            task_id = f"grok:{next(self._ids):08d}-0000-4000-8000-000000000000"
            self.jobs[task_id] = json.loads(request.body)
            body = {"id": task_id, "status": "pending", "status_update_time": 1770350082}
            return 200, json.dumps(body).encode()
        if request.method == "GET" and request.path.startswith("/v1/video/query"):
            asked = parse_qs(urlsplit(request.path).query).get("id", [""])[0]
            if asked not in self.jobs:
                return 400, b'{"code": "task_not_exist", "message": "task_not_exist", "data": null}'
            body = {"id": asked, "status": "processing", "status_update_time": 1770350090}
            return 200, json.dumps(body).encode()
        return 404, b'{"error": {"message": "Invalid URL", "type": "invalid_request_error"}}'


class _Connection(asyncio.Protocol):
    def __init__(self, gateway: RawGateway) -> None:
        self.gateway = gateway
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.closing = False
        self.discarded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.gateway.connections += 1
        self.gateway._open.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None
        self.gateway._open.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:  # it has decided to close: nothing more is read
            self.gateway.dropped_bytes += len(data)
            self.discarded = True
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.buffer += data
        while (request := self._next_request()) is not None:
            self._handle(request)
            if self.transport is None or self.transport.is_closing():
                return

    def _next_request(self) -> Received | None:
        head, sep, rest = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return None
        line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = line.split(" ", 2)
        headers = {}
        for text in lines:
            name, _, value = text.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(rest) < length:
            return None  # the body is not all here yet
        self.buffer = rest[length:]
        return Received(method, target, headers, rest[:length])

    def _handle(self, request: Received) -> None:
        gateway = self.gateway
        gateway.received.append(request)
        assert self.transport is not None
        if gateway.drop_creates and request.method == "POST":
            gateway.answer(request)  # the job is made; the answer never leaves
            self.transport.abort()
            return
        status, body = gateway.answer(request)
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        version = "HTTP/1.0" if gateway.http10 else "HTTP/1.1"
        head = (
            f"{version} {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        if gateway.http10:
            self.transport.close()
        else:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(gateway.idle, self._die)

    def _die(self) -> None:
        """Idle too long: stop reading now; the close reaches the client a moment later."""
        self.closing = True
        self.gateway.dying.set()
        asyncio.get_running_loop().call_later(self.gateway.close_delay, self._close)

    def _close(self) -> None:
        if self.transport is None:
            return
        if self.discarded:  # data came after the close: the peer's kernel resets
            self.transport.abort()
        else:
            self.transport.close()
