"""Connections kept the way real servers keep them: :class:`IdleClosing` wraps each
connection when the simulator closes idle kept-alive connections (``idle_close``), as
nginx or a cloud proxy in front of a gateway does, without a ``Connection: close``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["IdleClosing"]


class IdleClosing(asyncio.Protocol):
    """One connection, its HTTP handling left to ``inner`` (aiohttp's), closed without a
    word once it has been kept alive idle ``idle`` seconds after an answer, as nginx or a
    cloud proxy in front of a gateway does: no ``Connection: close`` was ever sent. From
    that moment nothing more is read (a request that arrives is never seen), and the
    close reaches the client ``delay`` seconds later, as over a network. A request being
    answered is not idle, nor is a new connection waiting for its first request (servers
    give those far longer). ``closed`` is called once per idle close."""

    def __init__(
        self, inner: asyncio.Protocol, idle: float, delay: float, closed: Callable[[], None]
    ) -> None:
        self.inner = inner
        self.idle = idle
        self.delay = delay
        self.closed = closed
        self.dying = False
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._answering = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.inner.connection_made(_Watched(transport, self))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self.dying:
            return  # it stopped reading: this never arrived
        self._answering = True
        self._disarm()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def wrote(self) -> None:
        """An answer (or part of one) went out: idle from now on, unless more comes."""
        self._answering = False
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        if not self._answering and not self.dying:
            self._timer = asyncio.get_running_loop().call_later(self.idle, self._die)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _die(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        waiter = getattr(self.inner, "_waiter", None)  # what aiohttp's own timer looks at
        if waiter is None or waiter.done():  # still answering (a slow video): not idle
            self._arm()
            return
        self.dying = True
        transport.pause_reading()
        self.closed()
        if self.delay > 0:
            asyncio.get_running_loop().call_later(self.delay, transport.close)
        else:
            transport.close()


class _Watched:
    """The transport as ``inner`` sees it: writes are noted, reading stays stopped."""

    def __init__(self, transport: asyncio.Transport, owner: IdleClosing) -> None:
        self._transport = transport
        self._owner = owner

    def write(self, data: Any) -> None:
        self._transport.write(data)
        self._owner.wrote()

    def writelines(self, chunks: Any) -> None:
        self._transport.writelines(chunks)
        self._owner.wrote()

    def resume_reading(self) -> None:
        if not self._owner.dying:
            self._transport.resume_reading()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
