"""Running the decoder (:mod:`vidwatch.core.media.child`): one process a job, one kept warm.

Starting Python and loading PyAV (FFmpeg's libraries) takes a few tenths of a second, most
of the time a still takes; so one decoder is started ahead and waits for its job. Each job
still gets a process of its own: whatever a file did to the last one is gone.

Here vidwatch enforces what the decoder cannot enforce on itself: a wall-clock limit (a
decoder that hangs is killed), caps on what it answers (a header of 64 KiB, a payload of
:data:`MAX_OUTPUT`), and the end of a job nobody wants any more (the task awaiting it is
cancelled: the process is killed). A decoder that crashes, is killed by its limits or
says something that breaks the protocol costs that one job, in one sentence. Its
environment holds the path, the locale and where vidwatch is: never the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import vidwatch
from vidwatch.core.media.protocol import ProtocolError, encode, read_frame_async
from vidwatch.core.text.sanitize import clean_line

__all__ = [
    "CPU_SECONDS",
    "MAX_OUTPUT",
    "MEMORY",
    "DecodeFailed",
    "Decoded",
    "Decoders",
    "ReadFailed",
    "Reads",
]

MEMORY: Final = 768 * 1024 * 1024  # address space of a decoder (a 4K frame needs ~180 MB)
CPU_SECONDS: Final = 30  # processor time of a decoder, its start included
MAX_OUTPUT: Final = 8 * 1024 * 1024  # what one answer of a decoder may carry
MAX_REASON: Final = 300

log = logging.getLogger("vidwatch.media")

Reads = Callable[[int, int], Awaitable[bytes]]  # offset, length -> the bytes there


class DecodeFailed(Exception):
    """No still: why, in one sentence (``str()``)."""


class ReadFailed(Exception):
    """A read of the video failed (the host, the budget): why, in one sentence."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """What the decoder answered: the facts as it read them (checked by the caller), the
    still's JPEG bytes and the filmstrip's (``b""`` when not asked for)."""

    facts: dict[str, Any] | None
    still: bytes
    strip: bytes


def _environment() -> dict[str, str]:
    """What the decoder inherits: enough to start Python and find vidwatch; nothing else
    (the key stays here)."""
    root = str(Path(vidwatch.__file__).resolve().parent.parent)
    return {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": root, "LC_ALL": "C.UTF-8"}


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Decoders:
    """Starts decoders (``command``, by default this Python running the child module) and
    runs one job in each, keeping one started ahead when ``keep_spare``."""

    def __init__(
        self,
        command: Sequence[str] | None = None,
        *,
        memory: int = MEMORY,
        cpu: int = CPU_SECONDS,
        keep_spare: bool = True,
    ) -> None:
        self.command = (
            list(command)
            if command is not None
            else [
                sys.executable,
                "-m",
                "vidwatch.core.media.child",
            ]
        )
        self.memory = memory
        self.cpu = cpu
        self.keep_spare = keep_spare
        self.started = 0  # processes started, spares included (tests and the bench read it)
        self._spare: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[None] | None = None
        self._closed = False

    async def _start(self) -> asyncio.subprocess.Process:
        self.started += 1
        return await asyncio.create_subprocess_exec(
            *self.command,
            str(self.memory),
            str(self.cpu),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_environment(),
        )

    def warm(self) -> None:
        """Start a decoder ahead, if none is waiting (on the event loop)."""
        if self._closed or not self.keep_spare or self._spare is not None:
            return
        if self._starting is None or self._starting.done():
            self._starting = asyncio.get_running_loop().create_task(self._start_spare())

    async def _start_spare(self) -> None:
        try:
            process = await self._start()
        except OSError as exc:
            log.warning("cannot start a decoder: %s", exc)
            return
        if self._closed or self._spare is not None:
            await _stop(process)
        else:
            self._spare = process

    async def _take(self) -> asyncio.subprocess.Process:
        spare, self._spare = self._spare, None
        if spare is None or spare.returncode is not None:
            if self._starting is not None and not self._starting.done():
                await asyncio.shield(self._starting)  # one is on its way: take it
                spare, self._spare = self._spare, None
            if spare is None or spare.returncode is not None:
                spare = await self._start()
        self.warm()
        return spare

    async def run(
        self,
        job: dict[str, Any],
        payload: bytes = b"",
        reads: Reads | None = None,
        *,
        timeout: float = 20.0,  # noqa: ASYNC109 (the decoder's wall clock, not the caller's)
    ) -> Decoded:
        """Run ``job`` in a decoder of its own; ``reads`` serves its reads of a remote
        video. Raises :class:`DecodeFailed`; cancelling the caller kills the decoder."""
        try:
            process = await self._take()
        except OSError as exc:
            raise DecodeFailed(f"the decoder could not start ({exc.strerror or exc})") from None
        try:
            async with asyncio.timeout(timeout):
                return await self._converse(process, job, payload, reads)
        except TimeoutError:
            raise DecodeFailed(f"decoding took longer than {timeout:g} s and was stopped") from None
        except _Told as told:
            raise DecodeFailed(str(told)) from None
        except (ProtocolError, ConnectionError) as exc:
            raise DecodeFailed(await _ended(process, self.cpu, exc)) from None
        finally:
            await _stop(process)

    async def _converse(
        self,
        process: asyncio.subprocess.Process,
        job: dict[str, Any],
        payload: bytes,
        reads: Reads | None,
    ) -> Decoded:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(encode({"job": job}, payload))
        await process.stdin.drain()
        failed_read: str | None = None
        while True:
            header, data = await read_frame_async(process.stdout, MAX_OUTPUT)
            if "read" in header:
                offset, length = _read_request(header["read"])
                try:
                    if reads is None:
                        raise ReadFailed("the decoder asked for bytes it was not given")
                    chunk = await reads(offset, length)
                except ReadFailed as exc:
                    failed_read = str(exc)
                    process.stdin.write(encode({"error": failed_read}))
                else:
                    process.stdin.write(encode({"data": True}, chunk[:length]))
                await process.stdin.drain()
            elif "done" in header:
                return _decoded(header["done"], data)
            elif "failed" in header:
                if failed_read is not None:  # the read's reason, not its consequence
                    raise _Told(failed_read)
                raise _Told(clean_line(str(header["failed"]), MAX_REASON))
            else:
                raise ProtocolError("an answer of no known kind")

    async def aclose(self) -> None:
        self._closed = True
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._starting
        spare, self._spare = self._spare, None
        if spare is not None:
            await _stop(spare)


class _Told(Exception):
    """The job ended with a reason to tell (the decoder's, or a read's)."""


def _read_request(value: object) -> tuple[int, int]:
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        return value[0], value[1]
    raise ProtocolError("a read request that is not two numbers")


def _decoded(done: object, data: bytes) -> Decoded:
    if not isinstance(done, dict):
        raise ProtocolError("a result that is not an object")
    still, strip = done.get("still"), done.get("strip")
    if not (isinstance(still, int) and isinstance(strip, int) and still >= 0 and strip >= 0):
        raise ProtocolError("a result without its sizes")
    if still + strip != len(data):
        raise ProtocolError("a result whose sizes do not add up")
    facts = done.get("facts")
    return Decoded(facts if isinstance(facts, dict) else None, data[:still], data[still:])


async def _ended(process: asyncio.subprocess.Process, cpu: int, exc: Exception) -> str:
    """Why a decoder stopped answering, in words."""
    try:
        code = await asyncio.wait_for(process.wait(), 2.0)
    except TimeoutError:
        return f"the decoder broke the protocol ({exc})"
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"decoding used more than {cpu} s of processor time and was stopped"
    if code < 0:
        return f"the decoder crashed on it ({_signal_name(-code)})"
    if code == 0:
        return f"the decoder broke the protocol ({exc})"
    return f"the decoder stopped unexpectedly (exit status {code})"


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill a decoder (if it still runs) and collect it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(Exception):
        await process.wait()
