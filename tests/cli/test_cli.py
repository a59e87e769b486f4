"""The CLI's offline commands, driven in-process."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from vidwatch.cli import EXIT_FAILED, EXIT_KEY, EXIT_OK, EXIT_STORE, EXIT_USAGE, build_parser, main
from vidwatch.cli.parser import parse


class Run:
    def __init__(self, tmp_path: Path) -> None:
        self.tasks = tmp_path / "tasks.toml"

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(
            ["--tasks-file", str(self.tasks), *argv], out=out, err=err, stdin=io.StringIO(stdin)
        )
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


def test_add_list_remove(run: Run) -> None:
    code, out, _ = run("add", "grok:1", "sora-2:2", "--label", "cows")
    assert code == EXIT_OK
    assert "Added 2 tasks" in out
    code, out, _ = run("list", "--json")
    data = json.loads(out)
    assert [d["id"] for d in data] == ["grok:1", "sora-2:2"]
    assert data[0]["label"] == "cows"
    assert data[0]["state"] == "new"  # one name everywhere (issue 12 item 13)
    assert data[0]["video_url"] is None
    for key in (
        "id",
        "label",
        "added_at",
        "status",
        "state",
        "video_url",
        "enhanced_prompt",
        "status_update_time",
        "checked_at",
        "error",
    ):
        assert key in data[0]
    code, out, _ = run("list")
    assert "grok:1" in out
    assert "cows" in out
    assert "STATE" in out
    code, out, err = run("remove", "grok:1", "nope:9")
    assert code == EXIT_FAILED
    assert "Removed 1 task" in out
    assert "not watched: nope:9" in err
    assert [d["id"] for d in json.loads(run("list", "--json")[1])] == ["sora-2:2"]


def test_add_from_stdin_splits_and_skips_duplicates(run: Run) -> None:
    code, out, _ = run("add", "-", stdin="a:1, b:2\nc:3\n\na:1\n")
    assert code == EXIT_OK
    assert "Added 3 tasks" in out
    code, out, _ = run("add", "a:1,d:4")
    assert code == EXIT_OK
    assert "Added 1 task," in out
    assert "1 already watched" in out


def test_add_rejects_bad_ids_with_reasons_and_keeps_good_ones(run: Run) -> None:
    code, out, err = run("add", "good:1", "x" * 300, "bad\x1b]2;x\x07id")
    assert code == EXIT_FAILED
    assert "longer than 256" in err
    assert "control character" in err
    assert "\x1b" not in err  # the rejected ID is not echoed raw
    assert "Added 1 task" in out
    assert "2 rejected" in out
    assert [d["id"] for d in json.loads(run("list", "--json")[1])] == ["good:1"]


def test_add_nothing_is_a_usage_error(run: Run) -> None:
    assert run("add", "-", stdin="  \n")[0] == EXIT_USAGE


def test_urls_prints_finished_urls_only(run: Run, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from vidwatch.core.model.records import State, Task, TaskResult
    from vidwatch.core.store.task_file import TaskStore

    store = TaskStore(run.tasks)
    now = datetime.now(UTC)
    store.add([Task("a", now), Task("b", now), Task("c", now)])
    store.merge_results(
        {
            "a": TaskResult(
                state=State.SUCCEEDED,
                status="completed",
                video_url="https://v/a.mp4",
                checked_at=now,
            ),
            "b": TaskResult(state=State.RUNNING, status="processing", checked_at=now),
            "c": TaskResult(state=State.FAILED, status="failed", checked_at=now),
        }
    )
    code, out, _ = run("urls")
    assert code == EXIT_OK
    assert out == "https://v/a.mp4\n"


def test_list_of_an_empty_store_says_how_to_start(run: Run) -> None:
    code, out, _ = run("list")
    assert code == EXIT_OK
    assert "vidwatch add" in out
    assert json.loads(run("list", "--json")[1]) == []


def test_paths(run: Run) -> None:
    code, out, _ = run("paths")
    assert code == EXIT_OK
    assert str(run.tasks) in out
    assert "config.toml" in out
    assert "vidwatch.log" in out
    assert "view.toml" in out
    assert "videos  " in out
    # issue 21 item 7: the folder of the journals of sends (the README names it)
    where = dict(line.split(None, 1) for line in out.splitlines())
    assert where["journals"].endswith(os.path.join("vidwatch", "sent", "journals"))
    assert where["stills"]  # the cache of stills


def test_poll_without_key_is_one_clear_message(run: Run) -> None:
    run("add", "a:1")
    code, _, err = run("poll")
    assert code == EXIT_KEY
    assert "QUICKROUTER_API_KEY" in err
    assert "Traceback" not in err


def test_wait_without_key(run: Run) -> None:
    code, _, err = run("wait", "a:1")
    assert code == EXIT_KEY
    assert "QUICKROUTER_API_KEY" in err


def test_corrupt_task_file_is_kept_aside_and_reported(run: Run) -> None:
    run.tasks.write_text("this is [not toml", encoding="utf-8")
    code, _out, err = run("list")
    assert code == EXIT_STORE  # "the task list cannot be read", though it goes on
    assert "corrupt" in err
    assert err.count("could not be read") == 1
    backups = list(run.tasks.parent.glob("tasks.toml.corrupt-*"))
    assert len(backups) == 1
    assert backups[0].read_text() == "this is [not toml"
    assert run("list")[0] == EXIT_OK  # the new list reads fine


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("add", "grok:9"), EXIT_STORE),
        (("remove", "grok:1"), EXIT_FAILED),  # grok:1 is not in the new, empty list
        (("urls",), EXIT_STORE),
    ],
)
def test_every_command_that_finds_a_damaged_list_says_so(
    run: Run, command: tuple[str, ...], expected: int
) -> None:
    """add and remove once set a damaged file aside without a word."""
    run.tasks.write_text("this is [not toml", encoding="utf-8")
    code, _out, err = run(*command)
    assert code == expected
    assert "could not be read" in err
    assert "moved to" in err
    assert len(list(run.tasks.parent.glob("tasks.toml.corrupt-*"))) == 1


def test_unwritable_store_is_exit_4(run: Run, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = main_with(blocker / "sub" / "tasks.toml", "add", "a:1")
    assert code == EXIT_STORE
    assert "Cannot" in err
    assert "Traceback" not in err


def main_with(tasks: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--tasks-file", str(tasks), *argv], out=out, err=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


def test_bad_config_is_exit_4(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("polling = 'x'")
    code, _, _err = main_with(run.tasks, "--config", str(config), "poll")
    assert code != EXIT_OK
    out, err2 = io.StringIO(), io.StringIO()
    code = main(
        ["--config", str(config), "--tasks-file", str(run.tasks), "poll"], out=out, err=err2
    )
    assert code == EXIT_STORE
    assert "must be a table" in err2.getvalue()


def test_usage_error_exit_code(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == EXIT_USAGE


@pytest.mark.parametrize(
    "command",
    ["add", "remove", "list", "urls", "poll", "wait", "paths", "simulate", "create", "submit"],
)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "exit codes" in capsys.readouterr().out


def test_wait_ends_when_a_job_finishes_without_ever_sending_a_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler gives up re-asking after a few tries; wait must end too (exit 1)."""
    from vidwatch.core.gateway.outcomes import Ok
    from vidwatch.core.model.records import State, TaskResult, utcnow

    class NoUrl:
        calls = 0

        async def __aenter__(self) -> NoUrl:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def query(self, task_id: str) -> Ok:
            NoUrl.calls += 1
            return Ok(TaskResult(State.SUCCEEDED, "completed", checked_at=utcnow()))

    monkeypatch.setattr("vidwatch.cli.network.make_client", lambda config: NoUrl())
    config = tmp_path / "config.toml"
    config.write_text(
        "[polling]\nmin_interval = 0.01\nmax_interval = 0.02\nmax_requests_per_second = 1000\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("QUICKROUTER_API_KEY", "sk-test")
    err = io.StringIO()
    code = main(
        ["--config", str(config), "--tasks-file", str(tmp_path / "t.toml"), "wait", "grok:1"],
        out=io.StringIO(),
        err=err,
    )
    assert code == 1
    assert "never sent a video URL" in err.getvalue()
    assert NoUrl.calls > 1


def test_a_dashboard_that_crashed_exits_70(monkeypatch: pytest.MonkeyPatch) -> None:
    from vidwatch.ui.app import DashboardExit

    monkeypatch.setattr("vidwatch.ui.app.run_dashboard", lambda options: DashboardExit(True, None))
    assert main([], out=io.StringIO(), err=io.StringIO()) == 70
    monkeypatch.setattr(
        "vidwatch.ui.app.run_dashboard", lambda options: DashboardExit(False, "full")
    )
    err = io.StringIO()
    assert main([], out=io.StringIO(), err=err) == 4
    assert "could not be saved: full" in err.getvalue()


def test_paths_answers_even_with_a_broken_config(run: Run) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "vidwatch" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("base_url = [", encoding="utf-8")
    config.chmod(0o600)
    code, out, _ = run("paths")
    assert code == EXIT_OK
    videos = [line for line in out.splitlines() if line.startswith("videos ")]
    assert videos[0].split(None, 1)[1].startswith("(unknown:")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_downloads_get_a_progress_bar_each_on_a_terminal() -> None:
    from vidwatch.cli.download import Progress

    screen = _Terminal()
    progress = Progress(screen, {"grok:1": "cows [bold]x[/]", "grok:2": "grok:2"})
    progress.update("grok:1", 0, 2_000_000)
    progress.update("grok:2", 500_000, 1_000_000)
    progress.update("grok:1", 2_000_000, 2_000_000)
    progress.done()
    text = screen.getvalue()
    assert "cows [bold]x[/]" in text  # a label is text, never markup
    assert "grok:2" in text
    assert "2.0/2.0 MB" in text
    assert "0.5/1.0 MB" in text


def test_no_progress_is_drawn_into_a_pipe() -> None:
    from vidwatch.cli.download import Progress

    pipe = io.StringIO()
    progress = Progress(pipe, {"grok:1": "cows"})
    progress.update("grok:1", 10, 100)
    progress.done()
    assert pipe.getvalue() == ""


REQUIRED = {"add": ["grok:1"], "remove": ["grok:1"], "wait": ["grok:1"], "create": ["a cat"]}
REQUIRED["submit"] = ["b.jsonl"]
REQUIRED["thumb"] = ["grok:1"]


@pytest.mark.parametrize("command", sorted(build_parser().commands))
def test_the_options_of_every_command_go_after_its_name_too(command: str) -> None:
    argv = [command, *REQUIRED.get(command, [])]
    after = parse([*argv, "--tasks-file", "t.toml", "--config", "c.toml", "--debug"])
    assert (after.command, after.tasks_file, after.config, after.debug) == (
        command,
        "t.toml",
        "c.toml",
        True,
    )
    before = parse(["--tasks-file", "t.toml", "--debug", *argv])
    assert (before.tasks_file, before.config, before.debug) == ("t.toml", None, True)
    assert parse(["--tasks-file", "a", *argv, "--tasks-file", "b"]).tasks_file == "b"


def test_tasks_file_after_the_command_is_the_list_it_uses(tmp_path: Path) -> None:
    tasks = str(tmp_path / "other.toml")
    out = io.StringIO()
    assert main(["add", "grok:1", "--tasks-file", tasks], out=out, err=io.StringIO()) == 0
    assert (tmp_path / "other.toml").exists()
    out = io.StringIO()
    assert main(["list", "--json", "--tasks-file", tasks], out=out, err=io.StringIO()) == 0
    assert [task["id"] for task in json.loads(out.getvalue())] == ["grok:1"]
    config = tmp_path / "c.toml"
    config.write_text("[polling]\nmin_interval = -1\n", encoding="utf-8")
    err = io.StringIO()
    assert main(["poll", "--config", str(config)], out=io.StringIO(), err=err) == EXIT_STORE
    assert "min_interval" in err.getvalue()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.com", "127.0.0.1/x", "[::2]"])
def test_web_refuses_anything_but_loopback(run: Run, host: str) -> None:
    code, out, err = run("web", "--host", host)
    assert code == 64, host
    assert "loopback only" in err
    assert "open http" not in out + err


@pytest.mark.parametrize("port", ["70000", "0", "http"])
def test_web_refuses_a_port_out_of_range(
    run: Run, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:  # argparse refuses it, as a usage error
        run("web", "--port", port)
    assert exit_.value.code == 64, port
    err = capsys.readouterr().err
    assert "port" in err
    assert "Traceback" not in err
