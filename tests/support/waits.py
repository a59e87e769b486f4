"""Waiting in tests: poll a condition until it holds, never sleep a fixed time and hope.

The deadline is generous (a loaded 2-core machine running the suite in 4 workers beside
other work): a passing test never waits for it, it only bounds how long a broken one
hangs before it fails and says what it was waiting for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.pilot import Pilot

DEADLINE = 30.0  # seconds
STEP = 0.01


def _failure(what: str | None, timeout: float) -> AssertionError:
    return AssertionError(f"{what or 'the condition'} not reached within {timeout:g} s")


async def eventually(
    check: Callable[[], object], *, timeout: float = DEADLINE, what: str | None = None
) -> None:
    """Yield to the event loop until ``check()`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise _failure(what, timeout)
        await asyncio.sleep(STEP)


async def until(
    pilot: Pilot[Any],
    check: Callable[[], object],
    *,
    timeout: float = DEADLINE,
    what: str | None = None,
) -> None:
    """Let the app run (through Pilot, so its messages are processed) until ``check()``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise _failure(what, timeout)
        await pilot.pause(0.02)


def wait_until(
    check: Callable[[], object], *, timeout: float = DEADLINE, what: str | None = None
) -> None:
    """The same for plain threads and processes (no event loop to yield to)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise _failure(what, timeout)
        time.sleep(STEP)
