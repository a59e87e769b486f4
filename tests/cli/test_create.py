"""``vidwatch create`` / ``submit`` in-process: the yes on a terminal, the progress bar,
the config's default model, the help that says how to make the simulator refuse."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vidwatch.cli import EXIT_FAILED, EXIT_KEY, EXIT_OK, EXIT_USAGE, main
from vidwatch.cli.submit import RowPrinter
from vidwatch.cli.waiting import WaitNotice
from vidwatch.core.config import ConfigError, CreateSettings, default_sent_dir, load_config
from vidwatch.core.create.batch import parse_batch
from vidwatch.core.create.journal import CREATE_JOURNAL, ManifestDir
from vidwatch.core.create.ledger import Ledger
from vidwatch.core.create.log import body_hash
from vidwatch.core.create.sender import Pacer, Sender
from vidwatch.core.polling.budget import Policy
from vidwatch.core.store.task_file import TaskStore
from vidwatch.simulator.creates import CREATE_HELP
from vidwatch.simulator.serve import SimulatorThread
from vidwatch.simulator.server import Simulator

from tests.core.create.test_sender import Clock


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Cli:
    def __init__(self, tmp: Path, sim: Simulator, base_url: str) -> None:
        self.tmp = tmp
        self.sim = sim
        self.tasks = tmp / "tasks.toml"
        self.config = tmp / "config.toml"
        self.config.write_text(
            "[polling]\nmin_interval = 0.1\nmax_interval = 0.3\nmax_requests_per_second = 100\n"
            "[create]\nconcurrency = 1\n",
            encoding="utf-8",
        )
        self.base_url = base_url

    def __call__(
        self, *argv: str, stdin: io.StringIO | None = None, key: bool = True
    ) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("QUICKROUTER_BASE_URL", self.base_url)
            patch.setenv("VIDWATCH_CONFIG", str(self.config))
            if key:
                patch.setenv("QUICKROUTER_API_KEY", self.sim.api_key)
            code = main(
                ["--tasks-file", str(self.tasks), *argv],
                out=out,
                err=err,
                stdin=stdin or io.StringIO(),
            )
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    sim = Simulator(jobs=0, seed=2, speed=20.0, median=10.0, fail_rate=0.0)  # ~1 s jobs
    with SimulatorThread(sim) as thread:
        yield Cli(tmp_path, sim, thread.base_url)


def test_create_on_a_terminal_says_what_it_will_send_and_asks(cli: Cli) -> None:
    code, out, err = cli("create", "--model", "sora-2-pro", "a cat", stdin=Terminal("n\n"))
    assert code == EXIT_FAILED
    assert "About to create a job on" in err
    assert "  model   sora-2-pro, 15 s\n" in err  # the model and the duration it will be billed
    assert "  prompt  a cat\n" in err  # and what it will show (issue 21 item 7)
    assert "  cost    cost unknown: 1 × sora-2-pro" in err  # the estimate, as a batch's
    assert "Create it? [y/N]" in err
    assert "nothing sent" in err
    assert out == ""
    assert cli.sim.create.accepted == 0
    code, out, err = cli("create", "--label", "cat", "a cat", stdin=Terminal("y\n"))
    assert code == EXIT_OK, err
    assert out.strip().startswith("grok:")
    assert cli.sim.create.accepted == 1


def test_submit_on_a_terminal_sums_up_models_and_durations(cli: Cli) -> None:
    rows = [
        {"prompt": "a", "model": "sora-2", "duration": 15},
        {"prompt": "b", "model": "sora-2", "duration": "15"},
        {"prompt": "c"},
        {"prompt": "d"},
        {"prompt": "e"},
    ]
    batch = cli.tmp / "b.jsonl"
    batch.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    code, out, err = cli("submit", str(batch), stdin=Terminal("\n"))
    assert code == EXIT_FAILED
    assert "About to create 5 jobs" in err
    assert "  3 × grok-video-3\n" in err
    assert "  2 × sora-2, 15 s\n" in err
    assert cli.sim.create.accepted == 0
    code, out, err = cli("submit", str(batch), stdin=Terminal("yes\n"))
    assert code == EXIT_OK, err
    assert cli.sim.create.accepted == 5
    assert [line.split("\t")[3] for line in out.splitlines()] == ["created"] * 5
    assert "5 rows: 5 with a job; 5 requests sent now" in err


def test_a_batch_that_cannot_be_read_or_a_bad_mark_is_a_usage_error(cli: Cli) -> None:
    missing = cli("submit", "--yes", str(cli.tmp / "none.jsonl"))
    assert missing[0] == EXIT_USAGE
    assert "cannot read" in missing[2]
    csv = cli.tmp / "b.csv"
    csv.write_text("model,label\ngrok-video-3,x\n", encoding="utf-8")
    assert cli("submit", "--yes", str(csv))[0] == EXIT_USAGE  # no prompt column
    good = cli.tmp / "g.jsonl"
    good.write_text('{"prompt": "a"}\n', encoding="utf-8")
    for mark in ("7", "x", "1=bad\x01id"):
        code, _, err = cli("submit", "--yes", str(good), "--mark-done", mark)
        assert code == EXIT_USAGE, mark
    code, _, err = cli("submit", "--yes", str(good), "--mark-done", "1")
    assert code == EXIT_USAGE
    assert "never sent" in err
    assert cli.sim.create.accepted == 0


def test_create_needs_a_key_but_a_dry_run_does_not(cli: Cli) -> None:
    code, _, err = cli("create", "--yes", "a cat", key=False)
    assert code == EXIT_KEY
    cli.config.write_text('[create]\nmodel = "sora-2"\n', encoding="utf-8")
    code, out, err = cli("create", "--dry-run", "a cat", key=False)
    assert code == EXIT_OK, err
    assert json.loads(out) == {"model": "sora-2", "prompt": "a cat", "duration": 10, "images": []}
    cli.config.write_text('[create]\nmodel = "two words"\n', encoding="utf-8")
    code, _, err = cli("create", "--dry-run", "a cat", key=False)
    assert code == 4
    assert "create.model" in err


def test_an_earlier_create_killed_while_sending_is_told_until_resolved(cli: Cli) -> None:
    folder = ManifestDir.beside(cli.tasks)  # where an older vidwatch kept its journal
    row = parse_batch(b'{"prompt": "a lost cat", "label": "lost"}\n').rows[0]
    with folder.open(CREATE_JOURNAL) as journal:
        journal.record_intent(row)  # and then vidwatch was killed
    ref = row.identity[:8]
    for command in (
        ("create", "--yes", "a cat"),
        ("list",),
        ("check",),
        ("create", "--yes", "a dog"),
    ):
        code, _, err = cli(*command)
        assert code == EXIT_OK, err
        assert f"create {ref} (" in err, command
        assert "label 'lost'" in err
        assert "stopped while sending" in err
        assert f"vidwatch create --mark-done {ref}=ID" in err
    code, _, err = cli("create", "--mark-done", f"{ref}=grok:found-in-console")
    assert code == EXIT_OK, err
    assert "resolved" in err
    stored = TaskStore(cli.tasks).load().records
    assert stored["grok:found-in-console"].task.label == "lost"
    code, _, err = cli("list")
    assert ref not in err
    assert cli.sim.create.accepted == 2


def test_a_lost_create_answer_says_the_job_may_exist(cli: Cli) -> None:
    cli.sim.create.inject("lose-answer")
    code, out, err = cli("create", "--yes", "a cat")
    assert code == EXIT_FAILED
    assert out == ""
    assert "may have been made" in err
    assert cli.sim.create.accepted == 1


def test_the_progress_bar_is_drawn_on_a_terminal_only() -> None:
    rows = parse_batch(b'{"prompt": "a", "label": "[bold]cow[/]"}\n').rows
    screen = Terminal()
    printer = RowPrinter(screen, 1)
    printer.line(rows[0], "grok:1", "created")
    printer.advance()
    printer.close()
    text = screen.getvalue()
    assert re.search(r"1\s+\[bold\]cow\[/\]\s+grok:1\s+created\n", text)  # text, not markup
    assert "sending" in text
    pipe = io.StringIO()
    printer = RowPrinter(pipe, 1)
    printer.line(rows[0], None, "refused: 400 bad")
    printer.advance()
    printer.close()
    assert pipe.getvalue() == "1\t[bold]cow[/]\t-\trefused: 400 bad\n"


def test_simulate_help_says_how_to_trigger_each_create_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = capsys.readouterr().out
    for line in CREATE_HELP.splitlines()[:8]:
        assert line.strip() in out
    for word in ("lose-answer", "quota_not_enough", "model_not_found", "429", "credit"):
        assert word in out


def test_simulate_help_documents_every_mode(capsys: pytest.CaptureFixture[str]) -> None:
    from vidwatch.simulator.creates import CREATE_FAULTS
    from vidwatch.simulator.faults import FAULTS
    from vidwatch.simulator.jobs import VEO_STEPS
    from vidwatch.simulator.shapes import ID_STYLES

    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # as read, whatever the wrapping
    options = ("--port", "--jobs", "--seed", "--chaos", "--speed", "--idle-close", "--close-delay")
    for word in (*options, *ID_STYLES, *FAULTS, *CREATE_FAULTS):
        assert word in out, word
    for word in ("grok", "sora", "in_progress", "thumbnail_url", *(s for s, _ in VEO_STEPS)):
        assert word in out, word
    for word in ("无效的令牌", "task_not_exist", "Invalid URL (GET /v1/v1/video/query)"):
        assert word in out, word


def test_the_create_table_of_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert load_config(path, env={}).create == CreateSettings("grok-video-3", 30, 2)
    path.write_text(
        '[create]\nmodel = " sora-2 "\nper_minute = 5\nconcurrency = 4\ncolour = 1\n',
        encoding="utf-8",
    )
    config = load_config(path, env={})
    assert config.create == CreateSettings("sora-2", 5, 4)
    assert config.policy.concurrency == Policy().concurrency  # polling's budget is apart
    assert any("create.colour" in warning for warning in config.warnings)
    for text in ('create = "x"\n', "[create]\nmodel = 5\n", '[create]\nmodel = ""\n'):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match="create"):
            load_config(path, env={})


# --------------------------------------------------------------------------- in-process runs


def rows_of(out: str) -> dict[int, list[str]]:
    cells = [line.split("\t") for line in out.splitlines() if line[:1].isdigit()]
    return {int(row[0]): row for row in cells}


def test_create_wait_prints_the_id_then_waits_like_wait(cli: Cli) -> None:
    code, out, err = cli("create", "--yes", "--wait", "--timeout", "60", "a dog")
    assert code == EXIT_OK, err
    task_id, done = out.splitlines()
    assert done == f"{task_id}\t{cli.base_url}/videos/{task_id.split(':', 1)[1]}.mp4"
    assert f"{task_id}: ✔ succeeded" in err  # the dashboard's words


def test_create_checks_fields_before_sending_and_reads_stdin(cli: Cli) -> None:
    code, _, err = cli("create", "--yes", "--param", "aspect_ratio=16:9", "a cat")
    assert code == EXIT_USAGE
    assert "2:3, 3:2 or 1:1" in err
    assert cli("create", "--yes", "--param", "prompt=x", "a cat")[0] == EXIT_USAGE
    assert cli("create", "--yes", "--image", "ftp://x.example/a.png", "a cat")[0] == EXIT_USAGE
    assert cli.sim.create.accepted == 0
    code, out, err = cli(
        "create", "--yes", "--json", "--model", "sora-2", "--param", "size=large", "-",
        stdin=io.StringIO("一只猫\nin the rain\n"),
    )  # fmt: skip
    assert code == EXIT_OK, err
    task = json.loads(out)
    assert task["id"].startswith("sora-2:")
    assert task["request"]["prompt"] == "一只猫\nin the rain"
    assert task["request"]["fields"] == {"size": "large", "duration": 10}  # sent explicitly
    assert "duration not given" in err
    assert cli.sim.create.bodies[-1] == {
        "model": "sora-2",
        "prompt": "一只猫\nin the rain",
        "size": "large",
        "duration": 10,
        "images": [],
    }


def test_create_dry_run_prints_the_body_and_sends_nothing(cli: Cli) -> None:
    code, out, err = cli(
        "create", "--dry-run", "--model", "my-new-model", "--param", "seed=7",
        "--image", "https://img.example/a.png", "a cat",
    )  # fmt: skip
    assert code == EXIT_OK, err
    assert json.loads(out) == {
        "model": "my-new-model",
        "prompt": "a cat",
        "seed": 7,
        "images": ["https://img.example/a.png"],
    }
    assert "Bearer ***" in err
    assert cli.sim.api_key not in out + err
    assert cli.sim.create.accepted == 0


def test_create_says_why_the_gateway_refused(cli: Cli) -> None:
    cli.sim.create.configure({"credit": 0})
    code, out, err = cli("create", "--yes", "a cat")
    assert code == EXIT_FAILED
    assert "403 quota_not_enough" in err
    assert "nothing was paid" in err
    assert out == ""
    cli.sim.create.configure({"credit": None})
    code, _, err = cli("create", "--yes", "--model", "no-such-model", "a cat")
    assert code == EXIT_FAILED
    assert "model_not_found" in err
    code, _, err = cli("create", "--yes", "a cat", key=False)
    assert code == EXIT_KEY
    cli.sim.create.inject("500")
    code, _, err = cli("create", "--yes", "a cat")
    assert code == EXIT_FAILED
    assert "may have been made" in err  # a 500 may have passed the job on
    assert cli.sim.create.accepted == 0


def test_create_that_cannot_connect_says_nothing_was_sent(cli: Cli, tmp_path: Path) -> None:
    cli.base_url = "http://127.0.0.1:9"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("vidwatch.core.create.sender.BACKOFF", 0.01)  # no real waiting here
        code, out, err = cli("create", "--yes", "a cat")
    assert code == 5
    assert err.count("trying again") == 3  # four attempts in all
    assert "not sent, nothing was paid" in err
    assert out == ""


def test_submit_that_cannot_connect_exits_as_unreachable(cli: Cli) -> None:
    # As `create` does: a script tells "nothing reached the gateway" from "a row failed".
    batch = cli.tmp / "b.jsonl"
    batch.write_text('{"prompt": "a"}\n{"prompt": "b"}\n', encoding="utf-8")
    cli.base_url = "http://127.0.0.1:9"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("vidwatch.core.create.sender.BACKOFF", 0.01)
        code, _, err = cli("submit", "--yes", str(batch))
    assert code == 5, err
    assert "2 rows: 0 with a job, 2 not sent; 0 requests sent now" in err  # none left


def test_submit_resends_uncertain_rows_only_when_asked(cli: Cli) -> None:
    batch = cli.tmp / "b.jsonl"
    batch.write_text('{"prompt": "a"}\n{"prompt": "b"}\n', encoding="utf-8")
    cli.sim.create.inject("lose-answer")
    assert cli("submit", "--yes", str(batch))[0] == EXIT_FAILED
    assert cli.sim.create.accepted == 2
    assert cli("submit", "--yes", str(batch))[0] == EXIT_FAILED
    assert cli.sim.create.accepted == 2
    code, _, err = cli("submit", "--yes", "--resend-uncertain", str(batch))
    assert code == EXIT_OK, err
    assert cli.sim.create.accepted == 3
    code, out, _ = cli("list", "--json")
    assert len(json.loads(out)) == 2


def test_submit_reads_csv_and_retries_failed_jobs_linked_to_the_old(cli: Cli) -> None:
    batch = cli.tmp / "b.csv"
    batch.write_text("prompt,label,size\na cat,c1,720P\na dog,d1,\n", encoding="utf-8")
    cli.sim.fail_rate = 1.0  # these two jobs fail
    code, out, err = cli("submit", "--yes", "--wait", "--timeout", "60", str(batch))
    assert code == EXIT_FAILED  # every row has a job, and the jobs failed
    failed = [rows_of(out)[n][2] for n in (1, 2)]
    assert all(f"{task_id} failed" in err for task_id in failed)
    cli.sim.fail_rate = 0.0
    code, out, err = cli("submit", "--yes", "--retry-failed", str(batch))
    assert code == EXIT_OK, err
    rows = rows_of(out)
    assert [rows[n][3] for n in (1, 2)] == [f"created (replaces {old})" for old in failed]
    assert cli.sim.create.accepted == 4
    code, out, _ = cli("list", "--json")
    assert {task["id"] for task in json.loads(out)} == {*failed, rows[1][2], rows[2][2]}
    bodies = cli.sim.create.bodies
    assert (
        bodies[0]
        == bodies[2]
        == {
            "model": "grok-video-3",
            "prompt": "a cat",
            "size": "720P",
            "images": [],
        }
    )


def test_submit_needs_a_key_only_to_send(cli: Cli) -> None:
    batch = cli.tmp / "b.jsonl"
    batch.write_text('{"prompt": "a", "label": "x"}\n', encoding="utf-8")
    assert cli("submit", "--yes", str(batch), key=False)[0] == EXIT_KEY
    assert cli("submit", "--yes", str(batch))[0] == EXIT_OK
    code, out, err = cli("submit", "--yes", str(batch), key=False)  # nothing left to send
    assert code == EXIT_OK, err
    assert rows_of(out)[1][1:] == [
        "x",
        cli.sim.create.job_ids[0],
        "has a job (sent before)",
    ]


def test_simulate_options_reach_the_simulator(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setattr("vidwatch.simulator.serve.serve_forever", lambda **kw: seen.update(kw))
    argv = ["simulate", "--id-style", "upstream", "--idle-close", "5", "--close-delay", "0.2"]
    assert main(argv) == 0
    assert (seen["id_style"], seen["idle_close"], seen["close_delay"]) == ("upstream", 5.0, 0.2)
    assert main(["simulate", "--idle-close", "0"]) == 64
    assert main(["simulate", "--close-delay", "-1"]) == 64
    with pytest.raises(SystemExit):
        main(["simulate", "--id-style", "sideways"])
    assert "--idle-close is in seconds" in capsys.readouterr().err


def test_submit_refuses_a_csv_with_an_unclosed_quote_whole_and_sends_nothing(cli: Cli) -> None:
    rows = [f"prompt {n},label {n}" for n in range(1, 11)]
    rows[3] = '"prompt 4 without its closing quote,label 4'
    batch = cli.tmp / "b.csv"
    batch.write_text("prompt,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = cli("submit", "--yes", str(batch))
    assert code == EXIT_USAGE
    assert "line 5: a quote opens a cell here and is never closed" in err
    assert "nothing was sent" in err
    assert out == ""
    assert cli.sim.create.accepted == 0


@pytest.fixture
def instant(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Creates whose waits (an hour's Retry-After) pass at once."""
    clock = Clock()

    class FastSender(Sender):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            budget = args[2]
            kwargs["pacer"] = Pacer(budget.per_minute, clock=clock, sleep=clock.sleep)
            super().__init__(*args, sleep=clock.sleep, **kwargs)

    monkeypatch.setattr("vidwatch.cli.create.Sender", FastSender)
    return clock


def test_submit_says_a_long_retry_after_and_when_it_resumes(cli: Cli, instant: Clock) -> None:
    """Waiting out an hour's Retry-After in silence looked like a hang: stderr (here not a
    terminal) gets one line with the time left and one when sending resumes."""
    batch = cli.tmp / "b.jsonl"
    batch.write_text('{"prompt": "a"}\n{"prompt": "b"}\n', encoding="utf-8")
    cli.sim.create.retry_after = 3600
    cli.sim.create.inject("429")
    code, out, err = cli("submit", "--yes", str(batch))
    assert code == EXIT_OK, err
    assert [row[3] for row in rows_of(out).values()] == ["created", "created"]
    assert instant.slept == [3600.0]
    waits = [line for line in err.splitlines() if "trying again" in line]
    assert len(waits) == 1
    assert re.fullmatch(
        r"row 1: not sent \(429 rate_limited: .+\); trying again in 1h00m "
        r"\(at \d\d:\d\d:\d\d\), nothing paid for it yet",
        waits[0].removeprefix("vidwatch: "),
    ), waits[0]
    assert "sending again after waiting 1h00m" in err
    assert err.index("trying again") < err.index("sending again")
    assert cli.sim.create.accepted == 2


def test_a_batch_never_says_nothing_was_paid_once_a_row_was(cli: Cli, instant: Clock) -> None:
    batch = cli.tmp / "b.jsonl"
    batch.write_text('{"prompt": "a"}\n{"prompt": "b"}\n', encoding="utf-8")
    cli.sim.create.retry_after = 60
    cli.sim.create.inject("429", after=1)  # row 2 waits, row 1 was paid for
    code, _out, err = cli("submit", "--yes", str(batch))
    assert code == EXIT_OK, err
    (wait,) = [line for line in err.splitlines() if "trying again" in line]
    assert wait.startswith("vidwatch: row 2: not sent (429")
    assert "nothing paid so far" not in err
    assert wait.endswith("nothing paid for it yet")
    assert cli.sim.create.accepted == 2


def test_on_a_terminal_the_wait_counts_down() -> None:
    screen = Terminal()
    clock = Clock()
    notice = WaitNotice(screen, clock=clock, wall=lambda: 0.0)
    notice.waiting(3600.0, "429 rate_limited: slow down", "row 3")
    try:
        assert notice.countdown().startswith(
            "row 3: not sent (429 rate_limited: slow down); trying again in 1h00m (at "
        )
        clock.now = 1230.0
        assert "trying again in 39m30s" in notice.countdown()
        clock.now = 3600.0
        notice.resumed(3600.0)
    finally:
        notice.close()
    drawn = screen.getvalue()
    assert "trying again in" in drawn  # the countdown line was drawn, then rubbed out
    assert drawn.rstrip().endswith("sending again after waiting 1h00m")
    assert notice.countdown() == ""


def test_in_submits_progress_bar_the_wait_counts_down() -> None:
    rows = parse_batch(b'{"prompt": "a"}\n{"prompt": "b"}\n').rows
    screen = Terminal()
    notice = WaitNotice(io.StringIO())  # stderr redirected: it gets lines, the bar counts
    printer = RowPrinter(screen, 2, notice)
    try:
        notice.waiting(90.0, "429 rate_limited", "row 1")
        assert printer.bars is not None
        printer.bars.refresh()
        assert "waiting 1m30s (until " in screen.getvalue()
    finally:
        printer.close()
    assert "trying again in 1m30s" in notice.err.getvalue()  # type: ignore[attr-defined]
    printer.line(rows[0], "grok:1", "created")


def test_the_log_records_every_create_outcome_never_the_key_nor_the_prompt(
    cli: Cli, instant: Clock, isolated_home: Path
) -> None:
    log_file = isolated_home / "xdg_state_home" / "vidwatch" / "vidwatch.log"
    long_prompt = "a lighthouse keeper's secret diary " * 100  # 3,500 characters
    code, out, err = cli("create", "--yes", "--label", "diary", long_prompt)
    assert code == EXIT_OK, err
    created = out.strip()
    rows = [
        {"prompt": "refused row", "label": "r"},
        {"prompt": "lost row", "label": "l"},
        {"prompt": "busy row", "label": "b"},
        {"prompt": "stopped row", "label": "s"},
        {"prompt": "never sent", "label": "n"},
    ]
    batch = cli.tmp / "b.jsonl"
    batch.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    for fault in ("400", "lose-answer", "429"):  # rows 1, 2, 3 (and 3 again: made)
        cli.sim.create.inject(fault)
    cli.sim.create.configure({"credit": 2, "retry_after": 2})  # rows 2, 3 made, then 403
    code, out, err = cli("submit", "--yes", str(batch))
    assert code == EXIT_FAILED
    text = log_file.read_text(encoding="utf-8")
    assert cli.sim.api_key not in text
    assert "lighthouse keeper" not in text  # not even part of the prompt
    assert "refused row" not in text
    body = {"model": "grok-video-3", "prompt": long_prompt.strip(), "images": []}
    assert re.search(
        rf"create sent: create 'diary': model grok-video-3, body {body_hash(body)} "
        rf"\(prompt {len(long_prompt.strip())} chars\)",
        text,
    )
    assert f"create outcome: create 'diary': created {created}" in text
    source = str(batch.resolve())
    assert f"create outcome: row 1 'r' of {source}: refused: 400 invalid_request" in text
    assert f"create outcome: row 2 'l' of {source}: uncertain" in text
    assert re.search(
        rf"create outcome: row 3 'b' of {re.escape(source)}: not sent, nothing paid: 429 "
        r".*; sending again in 2 s",
        text,
    )
    assert f"create resumed: row 3 'b' of {source}: after waiting 2 s" in text
    assert f"create outcome: row 4 's' of {source}: not sent, nothing paid: 403 quota" in text
    assert f"create not sent: row 5 'n' of {source}: 403 quota_not_enough" in text
    made = rows_of(out)[3][2]
    assert made.startswith("grok:")
    assert f"create outcome: row 3 'b' of {source}: created {made}" in text


def test_a_row_marked_done_without_a_job_is_resolved_but_not_with_a_job(cli: Cli) -> None:
    batch = cli.tmp / "b.jsonl"
    batch.write_text('{"prompt": "a"}\n{"prompt": "b"}\n{"prompt": "c"}\n', encoding="utf-8")
    cli.sim.create.inject("lose-answer", 2)
    code, _, err = cli("submit", "--yes", str(batch))
    assert code == EXIT_FAILED
    assert "3 rows: 1 with a job, 2 uncertain" in err
    code, out, err = cli("submit", str(batch), "--mark-done", "1", "2=grok:found-it")
    assert code == EXIT_OK, err  # every row resolved: by a job, or by the user
    assert "3 rows: 2 with a job, 1 marked done without a job; 0 requests sent now" in err
    rows = rows_of(out)
    assert rows[1][2:] == ["-", "marked done, without a job"]
    assert rows[2][2:] == ["grok:found-it", "marked done"]
    assert cli.sim.create.accepted == 3


def test_a_dry_run_shows_what_mark_done_would_do_and_writes_nothing(cli: Cli) -> None:
    batch = cli.tmp / "b.jsonl"
    batch.write_text('{"prompt": "a"}\n{"prompt": "b"}\n{"prompt": "c"}\n', encoding="utf-8")
    cli.sim.create.inject("lose-answer", 2)
    cli("submit", "--yes", str(batch))
    journal = Ledger(default_sent_dir(), cli.tasks).journals.path_for(str(batch.resolve()))
    before = journal.read_bytes()
    code, out, err = cli(
        "submit", "--dry-run", str(batch), "--mark-done", "1=grok:found-it", "--mark-done", "2"
    )
    assert code == EXIT_OK, err
    rows = rows_of(out)
    assert rows[1][2:] == ["grok:found-it", "would be marked done (its job added to the task list)"]
    assert rows[2][2:] == ["-", "would be marked done, without a job"]
    assert rows[3][3] == "has a job (sent before)"
    assert "0 jobs would be created" in err
    assert "2 rows would be marked done; nothing was sent or written" in err
    assert journal.read_bytes() == before
    assert "grok:found-it" not in cli("list")[1]
    # as the real run would, a dry run refuses to mark a row that was never sent
    fresh = cli.tmp / "new.jsonl"
    fresh.write_text('{"prompt": "z"}\n', encoding="utf-8")
    code, _, err = cli("submit", "--dry-run", str(fresh), "--mark-done", "1")
    assert code == EXIT_USAGE
    assert "never sent" in err


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["a \x1b[31mred\x1b[0m fox"], "the prompt has a control character (U+001B ESC, at"),
        (["a ^[[31mred^[[0m fox"], "terminal escape sequence (^[[31m, at character 3"),
        (["a ^[31mred fox"], "terminal escape sequence (^[31m"),  # as the dashboard gets it
        (["--param", "style=noir\x1b[2J", "a fox"], "style has a control character"),
        (["--param", 'tags=["a", "b\\u0007"]', "a fox"], "tags has a control character"),
    ],
)
def test_create_refuses_escapes_and_controls_in_what_it_sends(
    cli: Cli, argv: list[str], why: str
) -> None:
    code, out, err = cli("create", "--yes", *argv)
    assert code == EXIT_USAGE
    assert why in err
    assert "\x1b" not in err
    assert out == ""
    assert cli.sim.create.accepted == 0


def test_a_formula_with_carets_is_not_an_escape_sequence(cli: Cli) -> None:
    code, out, _ = cli("create", "--dry-run", "x^2 + y^[n] morphing, a ^^ sign")
    assert code == EXIT_OK
    assert json.loads(out)["prompt"] == "x^2 + y^[n] morphing, a ^^ sign"


def test_create_with_a_rejected_key_says_how_to_set_one(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21 item 7: the hint ``poll`` and ``check`` give about QUICKROUTER_API_KEY."""
    monkeypatch.setenv("QUICKROUTER_API_KEY", "sk-not-this-one")
    code, out, err = cli("create", "--yes", "a cat", key=False)
    assert code == EXIT_KEY
    assert "nothing was paid" in err
    assert "put your key (sk-…) in QUICKROUTER_API_KEY or as api_key in" in err
    assert out == ""
    assert cli.sim.create.accepted == 0


def test_a_dry_run_fails_a_file_with_an_invalid_row_and_keeps_the_files_order(cli: Cli) -> None:
    """Issue 21 item 3: a script validates a batch file with ``submit --dry-run``."""
    batch = cli.tmp / "b.jsonl"
    batch.write_text('{"prompt": "a"}\n{"prompt": 5}\n{"prompt": "c"}\n', encoding="utf-8")
    code, out, err = cli("submit", "--dry-run", str(batch), key=False)
    assert code == EXIT_FAILED
    rows = [line.split("\t")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert rows == ["1", "2", "3"]
    assert "invalid rows: 2: fix them in the file" in err
    batch.write_text('{"prompt": "a"}\n{"prompt": "c"}\n', encoding="utf-8")
    assert cli("submit", "--dry-run", str(batch), key=False)[0] == EXIT_OK
    assert cli.sim.create.accepted == 0
