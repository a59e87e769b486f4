"""Commands that need no network start at once: scripts call ``vidwatch add``, ``list``
and ``urls`` in loops, so these load neither the HTTP stack nor Textual (``make bench``
times them against ``python -c pass``)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from vidwatch.cli import EXIT_OK, build_parser, main
from vidwatch.core.create.batch import parse_batch
from vidwatch.core.create.journal import CREATE_JOURNAL, ManifestDir
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult
from vidwatch.core.store.task_file import TaskStore

# The HTTP stack, the terminal UI, and what they bring (rich comes with Textual).
HEAVY = frozenset({"httpx", "httpcore", "httpx_aiohttp", "aiohttp", "textual", "rich"})
# Slow to load and not needed here: the event loop, the standard log handlers (sockets,
# pickle), processes (notifications), e-mail dates (Retry-After), uuid (sends), tomllib
# (no config file here; the task list is read by rtoml).
SLOW = frozenset({"asyncio", "logging.handlers", "subprocess", "email", "uuid", "tomllib"})
DONE = "grok:0d1e2f3a-9dee-455c-aa82-000000000001"
URL = "https://cdn.example/v/done.mp4"
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| +(\S+)$", re.MULTILINE)


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    """A list with a finished job, and an earlier create that was killed while it sent
    (kept where an older vidwatch kept it): ``list`` reads the record of sends and tells it."""
    path = tmp_path / "tasks.toml"
    now = datetime.now(UTC)
    result = TaskResult(State.SUCCEEDED, "completed", URL, "a cat", DONE, now, now)
    TaskStore(path).replace_all([TaskRecord(Task(DONE, now, "cats"), result)])
    row = parse_batch(b'{"prompt": "a lost cat", "label": "lost"}\n').rows[0]
    with ManifestDir.beside(path).open(CREATE_JOURNAL) as journal:
        journal.record_intent(row)
    return path


def loaded(tasks: Path, *argv: str) -> tuple[set[str], str, str]:
    """Run ``vidwatch ARGV`` as a script does; the modules it imported (and their
    packages), stdout, stderr."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vidwatch", "--tasks-file", str(tasks), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = IMPORTED.findall(done.stderr)
    assert "vidwatch.cli" in modules  # -X importtime did report
    said = "\n".join(line for line in done.stderr.splitlines() if not IMPORTED.match(line))
    return {*modules, *(name.split(".")[0] for name in modules)}, done.stdout, said


OFFLINE = [
    (("list",), DONE),
    (("list", "--json", "--filter", "state:succeeded"), URL),
    (("urls",), URL),
    (("export", "--format", "md"), DONE),
    (("paths",), "tasks"),
    (("add", "grok:0d1e2f3a-9dee-455c-aa82-000000000002"), "Added 1 task"),
    (("remove", DONE), "Removed 1 task"),
    (("stats",), "spent today"),
    (("--version",), "vidwatch "),
    (("--help",), "exit codes"),
    (("list", "--help"), "exit codes"),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("argv", "shows"), OFFLINE, ids=[" ".join(a) for a, _ in OFFLINE])
def test_commands_without_network_load_no_http_stack_nor_textual(
    tasks: Path, argv: tuple[str, ...], shows: str
) -> None:
    packages, out, err = loaded(tasks, *argv)
    assert shows in out
    if argv == ("list",):  # the record of sends was read, and told
        assert "stopped while sending" in err
    assert sorted(packages & HEAVY) == []
    assert sorted(packages & SLOW) == []


@pytest.mark.e2e
def test_the_commands_that_need_the_network_still_load_it(tasks: Path) -> None:
    """The check above can see the HTTP stack: ``simulate --help`` loads the simulator
    (an aiohttp server) to say its shapes and faults."""
    packages, out, _ = loaded(tasks, "simulate", "--help")
    assert "aiohttp" in packages
    assert "--chaos" in out
    assert "exit codes" in out


def test_only_the_command_that_runs_gets_its_options_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The parser builds the options of the commands the line names (building them all is
    most of its cost); a command's name given as a value (a task list called ``list``)
    still leaves the command that runs whole, and help still lists every command."""
    parser = build_parser(["--tasks-file", "list", "export"])
    assert parser.commands["export"].idle is False
    assert parser.commands["list"].idle is False
    assert parser.commands["poll"].idle is True
    monkeypatch.chdir(tmp_path)
    assert main(["--tasks-file", "list", "export", "--format", "json"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == "[]"
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    assert all(f"    {name} " in listed for name in build_parser().commands)
