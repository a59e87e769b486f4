"""SIGHUP and SIGTERM end the dashboard within the deadline, saved, even while Textual's
output thread is stuck on a terminal nobody reads."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from vidwatch.core.model.records import Task, utcnow
from vidwatch.core.runtime.lifeline import Lifeline
from vidwatch.core.store.task_file import TaskStore
from vidwatch.simulator.server import Simulator

WAIT = 10.0  # generous: each event below is expected in well under two seconds


class Exits:
    def __init__(self) -> None:
        self.codes: list[int] = []
        self.called = threading.Event()

    def __call__(self, code: int) -> None:
        self.codes.append(code)
        self.called.set()


def test_a_stuck_dashboard_is_saved_from_the_watchdog_and_ended() -> None:
    exits, asked = Exits(), threading.Event()
    saved: list[str] = []

    def save() -> bool:
        saved.append(threading.current_thread().name)
        return True

    lifeline = Lifeline(asked.set, save, grace=0.05, deadline=0.2, exit=exits)
    lifeline.install()
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        assert asked.wait(WAIT)  # the polite way out was asked for at once
        assert exits.called.wait(WAIT)  # ... and never finished: the watchdog acted
    finally:
        lifeline.uninstall()
    assert saved == ["vidwatch-lifeline"]
    assert exits.codes == [0]
    assert lifeline.signalled == signal.SIGHUP


def test_a_failed_last_save_ends_with_a_failure_status() -> None:
    exits = Exits()

    def save() -> bool:
        raise OSError("disk full")

    lifeline = Lifeline(lambda: None, save, grace=0.05, deadline=0.2, exit=exits)
    lifeline.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert exits.called.wait(WAIT)
    finally:
        lifeline.uninstall()
    assert exits.codes == [1]


def test_after_a_polite_exit_only_a_lingering_process_is_ended() -> None:
    exits = Exits()
    saved: list[bool] = []

    def save() -> bool:
        saved.append(True)
        return True

    lifeline = Lifeline(lambda: None, save, grace=5.0, deadline=0.1, exit=exits)
    lifeline.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        lifeline.finished(3)  # saved and done; the process should now end by itself
        assert exits.called.wait(WAIT)
    finally:
        lifeline.uninstall()
    assert saved == []  # no second save
    assert exits.codes == [3]


# --------------------------------------------------------------------------- a real dashboard


class Stuck:
    """Whether the process's main thread has waited on a lock (the full output queue)
    for ten polls in a row while nothing more reached the terminal."""

    def __init__(self, pid: int, master: int) -> None:
        self.pid, self.master = pid, master
        self.pending = -1
        self.polls = 0

    def __call__(self) -> bool:
        wchan = Path(f"/proc/{self.pid}/wchan").read_text(encoding="ascii", errors="replace")
        raw = fcntl.ioctl(self.master, termios.FIONREAD, b"\0\0\0\0")
        pending = struct.unpack("i", raw)[0]  # bytes written to the terminal, unread
        still = "futex" in wchan and pending == self.pending
        self.polls = self.polls + 1 if still else 0
        self.pending = pending
        return self.polls >= 10


async def _until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc")
async def test_sighup_with_a_terminal_nobody_reads_saves_and_exits(
    tmp_path: Path, isolated_home: Path
) -> None:
    """The dashboard writes to a terminal nobody reads until its output thread blocks and
    the event loop blocks behind it; then the terminal 'closes' (SIGHUP)."""
    simulator = Simulator(jobs=200, seed=3, speed=30.0)
    base_url = await simulator.start()
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 200, 0, 0))
    tasks = tmp_path / "tasks.toml"
    TaskStore(tasks).add([Task(i, utcnow()) for i in simulator.job_ids])
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "QUICKROUTER_API_KEY": simulator.api_key,
        "QUICKROUTER_BASE_URL": base_url,
        "TERM": "xterm-256color",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "vidwatch", "--tasks-file", str(tasks)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        await _until(Stuck(process.pid, master), timeout=60)
        sent = time.monotonic()
        process.send_signal(signal.SIGHUP)
        await _until(lambda: process.poll() is not None, timeout=WAIT)
        took = time.monotonic() - sent
        print(f"SIGHUP to exit: {took:.2f} s")  # the README quotes it
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
        await simulator.stop()
    assert process.returncode == 0
    log = (isolated_home / "xdg_state_home" / "vidwatch" / "vidwatch.log").read_text()
    assert "saving from a thread" in log
    assert "saved from the watchdog" in log
    saved = TaskStore(tasks).load().records
    assert set(saved) == set(simulator.job_ids)
    assert sum(1 for r in saved.values() if r.result.checked_at) > 0
