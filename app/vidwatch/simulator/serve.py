"""Running a simulator beside the caller: in a thread, or in the foreground until stopped,
and serving its connections the way real servers keep them.

:class:`SimulatorThread` gives a :class:`~vidwatch.simulator.server.Simulator` its own
event loop in a background thread, for tests and tools that drive vidwatch as another
process; :func:`serve_forever` is ``vidwatch simulate``. :class:`IdleClosing` wraps each
connection when the simulator closes idle kept-alive connections (``idle_close``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from vidwatch.simulator.server import Simulator
    from vidwatch.simulator.shapes import IdStyle

__all__ = ["IdleClosing", "SimulatorThread", "serve_forever"]


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


class SimulatorThread:
    """Run a :class:`Simulator` on its own event loop in a background thread.

    For tests and tools that drive vidwatch as a separate process.
    """

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.base_url = ""

    def __enter__(self) -> SimulatorThread:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.simulator.start(), self.loop)
        self.base_url = future.result(10)
        return self

    def call(self, fn: Callable[[], object]) -> object:
        """Run ``fn`` on the simulator's loop (thread-safe access to its state)."""

        async def run() -> object:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.simulator.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def serve_forever(
    port: int = 0,
    jobs: int = 40,
    seed: int = 0,
    out: TextIO | None = None,
    *,
    chaos: float = 0.0,
    speed: float = 1.0,
    id_style: IdStyle = "asked",
    idle_close: float | None = None,
    close_delay: float = 0.0,
) -> None:
    """``vidwatch simulate``: serve until interrupted, after printing how to use it."""

    from vidwatch.simulator.server import Simulator  # it imports this module

    async def main() -> None:
        simulator = Simulator(
            jobs=jobs,
            seed=seed,
            chaos=chaos,
            speed=speed,
            id_style=id_style,
            idle_close=idle_close,
            close_delay=close_delay,
        )
        base_url = await simulator.start(port=port)
        closing = (
            [f"idle      kept-alive connections closed after {idle_close:g} s idle, silently"]
            + ([f"          (the close arriving {close_delay:g} s later)"] if close_delay else [])
            if idle_close
            else []
        )
        lines = [
            f"vidwatch simulator listening on {base_url}",
            f"api key   {simulator.api_key}",
            *([f"chaos     {chaos:.0%} of queries get a random fault"] if chaos else []),
            f"ids       answers carry the {id_style} id",
            *closing,
            "",
            "to point vidwatch at it, in another shell",
            f"  export QUICKROUTER_BASE_URL={base_url}",
            f"  export QUICKROUTER_API_KEY={simulator.api_key}",
            "",
            f"task IDs ({len(simulator.jobs)}):",
            *simulator.job_ids,
        ]
        print("\n".join(lines), file=out, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await simulator.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
