"""A sleep that ends at a deadline or as soon as someone says there is work.

The poller's loop sleeps until the scheduler's next wake-up, and is woken early when
tasks are added, answers arrive or the user asks for a refresh.
"""

from __future__ import annotations

import asyncio

__all__ = ["Wakeup"]


class Wakeup:
    """Sleep until a deadline or until :meth:`set` — one future and one timer per sleep
    (``asyncio.wait_for`` on an Event costs a task per wait; at 500 polls a second
    that is a fifth of the CPU)."""

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None
        self._pending = False

    def set(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        else:
            self._pending = True  # the next sleep returns at once

    async def sleep(self, seconds: float | None) -> None:
        if self._pending:
            self._pending = False
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(seconds, _resolve, waiter) if seconds is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
