"""Running a simulator beside the caller: in a thread, or in the foreground until stopped.

:class:`SimulatorThread` gives a :class:`~vidwatch.simulator.server.Simulator` its own
event loop in a background thread, for tests and tools that drive vidwatch as another
process; :func:`serve_forever` is ``vidwatch simulate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TextIO

from vidwatch.simulator.server import Simulator
from vidwatch.simulator.shapes import IdStyle

__all__ = ["SimulatorThread", "serve_forever"]


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
    billing: bool = True,
) -> None:
    """``vidwatch simulate``: serve until interrupted, after printing how to use it."""

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
        simulator.billing.offered = billing
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
            *([] if billing else ["billing   balance and request log not offered (404)"]),
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
