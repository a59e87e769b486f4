"""Crash safety: writers killed at random moments, writers racing, disks that refuse.

After every SIGKILL the task file must parse and hold every task whose save was
confirmed; four `vidwatch add` processes at once must all land; a read-only or
full disk must give one clear sentence, never a traceback, and lose nothing in memory.
"""

from __future__ import annotations

import errno
import io
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from vidwatch.cli import main
from vidwatch.core.model.records import State, TaskResult
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.poller import Poller
from vidwatch.core.session import Session
from vidwatch.core.store.task_file import TaskStore

from tests.support.waits import DEADLINE

pytestmark = pytest.mark.slow

KILLS = 60


def _writer(path: str, tag: str, conn: Connection) -> None:
    """Add tasks and stream results into the file as fast as it can, confirming each save."""
    session = Session(TaskStore(Path(path)), Poller(None, Policy()))
    session.load()
    rng = random.Random(tag)
    n = 0
    while True:
        n += 1
        new = [f"{tag}-{n}-{k}" for k in range(3)]
        session.add(new)
        known = list(session.records)
        for task_id in rng.sample(known, min(5, len(known))):
            result = TaskResult(
                State.RUNNING, "processing", checked_at=datetime.now(UTC), progress=float(n)
            )
            session.store_result(task_id, result)
        session.mark_dirty()
        session.save()
        conn.send(new)  # only now is it promised to be on disk


@pytest.fixture(scope="module")
def forkserver() -> multiprocessing.context.ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    assert isinstance(ctx, multiprocessing.context.ForkServerContext)
    ctx.set_forkserver_preload(
        ["vidwatch.core.session", "vidwatch.core.store.task_file", "tests.e2e.test_crash"]
    )
    return ctx


def test_sigkill_at_random_moments_never_loses_a_confirmed_task(
    tmp_path: Path, forkserver: multiprocessing.context.ForkServerContext
) -> None:
    path = tmp_path / "tasks.toml"
    confirmed: set[str] = set()
    rng = random.Random(7)
    kills = 0
    for round_ in range(KILLS):
        receive, send = forkserver.Pipe(duplex=False)
        proc = forkserver.Process(target=_writer, args=(str(path), f"r{round_}", send))
        proc.start()
        send.close()
        # Every fourth writer dies while starting; the others once they have confirmed a
        # save (however long a loaded machine takes to get there), then at a random moment:
        # before, during or after one of the next saves.
        if round_ % 4 and receive.poll(DEADLINE):
            confirmed.update(receive.recv())
        time.sleep(rng.uniform(0.0, 0.05))
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        assert proc.exitcode == -signal.SIGKILL
        kills += 1
        while receive.poll():
            try:
                confirmed.update(receive.recv())
            except EOFError:
                break
        receive.close()
        loaded = TaskStore(path).load()
        assert loaded.warning is None, f"after kill {kills}: {loaded.warning}"
        missing = confirmed - set(loaded.records)
        assert not missing, f"after kill {kills}, {len(missing)} confirmed tasks are gone"
    assert kills >= 50
    assert len(confirmed) > 50  # the writers really were writing
    leftovers = list(tmp_path.glob(".tasks.toml.*.tmp"))
    assert len(leftovers) <= 1  # only the last kill's, if any: each save sweeps the rest
    TaskStore(path).add([])  # no-op add writes nothing
    Session(TaskStore(path), Poller(None, Policy())).save()
    assert list(tmp_path.glob(".tasks.toml.*.tmp")) == []


def test_four_vidwatch_add_processes_at_once_store_all_thousand(
    tmp_path: Path, isolated_home: Path
) -> None:
    tasks = tmp_path / "tasks.toml"
    procs = []
    for p in range(4):
        ids = "\n".join(f"grok:p{p}-{n:03d}" for n in range(250))
        proc = subprocess.Popen(
            [sys.executable, "-m", "vidwatch", "--tasks-file", str(tasks), "add", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append((proc, ids))
    for proc, ids in procs:  # all four are running before any gets its input
        assert proc.stdin is not None
        proc.stdin.write(ids)
        proc.stdin.close()
    for proc, _ in procs:
        assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    records = TaskStore(tasks).load().records
    assert len(records) == 1000
    assert {f"grok:p{p}-{n:03d}" for p in range(4) for n in range(250)} == set(records)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (errno.EROFS, "the file system is read-only"),
        (errno.ENOSPC, "the disk is full"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_a_disk_that_refuses_gives_one_clear_sentence_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, words: str
) -> None:
    tasks = tmp_path / "tasks.toml"
    assert main(["--tasks-file", str(tasks), "add", "grok:a"], out=io.StringIO()) == 0
    before = tasks.read_bytes()

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr("vidwatch.core.store.atomic.tempfile.mkstemp", refuse)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--tasks-file", str(tasks), "add", "grok:b"], out=out, err=err)
    assert code == 4
    message = err.getvalue()
    assert words in message
    assert "Traceback" not in message
    assert message.count("\n") == 1  # one sentence
    assert tasks.read_bytes() == before  # the old list is intact


def test_a_full_disk_during_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = tmp_path / "tasks.toml"
    main(["--tasks-file", str(tasks), "add", "grok:a"], out=io.StringIO())
    before = tasks.read_bytes()
    real_write = os.write

    def full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 8:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr("vidwatch.core.store.atomic.os.write", full)
    err = io.StringIO()
    assert main(["--tasks-file", str(tasks), "add", "grok:b"], err=err, out=io.StringIO()) == 4
    assert "the disk is full" in err.getvalue()
    assert tasks.read_bytes() == before
    assert list(tmp_path.glob(".tasks.toml.*.tmp")) == []


@pytest.mark.parametrize(
    ("error", "words"),
    [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the file system is read-only")],
)
async def test_the_dashboard_keeps_running_when_it_cannot_save_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, words: str
) -> None:
    from textual.widgets import TextArea
    from vidwatch.ui.widgets.header import StatusBar

    from tests.support.dashboard import make_app, record
    from tests.support.waits import until

    h = make_app(tmp_path, [record("grok:a", State.RUNNING)])
    real_mkstemp = __import__("tempfile").mkstemp
    broken = {"on": False}

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        if broken["on"]:
            raise OSError(error, os.strerror(error))
        return real_mkstemp(*args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr("vidwatch.core.store.atomic.tempfile.mkstemp", mkstemp)
    monkeypatch.setattr("vidwatch.ui.controllers.saver.SAVE_RETRY_SECONDS", 0.2)
    async with h.app.run_test(size=(160, 30)) as pilot:
        broken["on"] = True
        await pilot.press("a")
        h.app.screen.query_one(TextArea).insert("grok:b grok:c")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Cannot save" in h.app.main.banner_text(), what="the banner")
        assert words in h.app.main.banner_text(), h.app.main.banner_text()
        assert "kept in memory" in h.app.main.banner_text()
        assert "NOT SAVING" in h.app.main.query_one(StatusBar).render().plain
        assert {"grok:a", "grok:b", "grok:c"} == set(h.app.main.table.view_ids)
        assert set(h.stored()) == {"grok:a"}
        assert h.app.is_running
        broken["on"] = False  # space freed: the retry saves everything
        await until(pilot, lambda: "grok:c" in h.stored(), what="the retried save")
        assert set(h.stored()) == {"grok:a", "grok:b", "grok:c"}
        # The file is written in a worker thread; the banner and the toast follow on the
        # app's own loop a moment later.
        await until(pilot, lambda: "Saving works again." in h.toasts, what="the toast")
        await until(pilot, lambda: "Cannot save" not in h.app.main.banner_text())
