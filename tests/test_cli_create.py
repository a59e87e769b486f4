"""``vidwatch create`` / ``submit`` in-process: the yes on a terminal, the progress bar,
the config's default model, the help that says how to make the simulator refuse."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from vidwatch.cli import EXIT_FAILED, EXIT_KEY, EXIT_OK, EXIT_USAGE, main
from vidwatch.cli.create import CREATE_JOURNAL
from vidwatch.cli.submit import RowPrinter
from vidwatch.core.batch import parse_batch
from vidwatch.core.config import ConfigError, CreateSettings, load_config
from vidwatch.core.manifest import ManifestDir, RowState
from vidwatch.core.scheduler import Policy
from vidwatch.core.sim_create import CREATE_HELP
from vidwatch.core.simulator import Simulator, SimulatorThread


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Cli:
    def __init__(self, tmp: Path, sim: Simulator, base_url: str) -> None:
        self.tmp = tmp
        self.sim = sim
        self.tasks = tmp / "tasks.toml"
        self.config = tmp / "config.toml"
        self.config.write_text("[create]\nconcurrency = 1\n", encoding="utf-8")
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
    sim = Simulator(jobs=0, seed=2, fail_rate=0.0)
    with SimulatorThread(sim) as thread:
        yield Cli(tmp_path, sim, thread.base_url)


def test_create_on_a_terminal_says_what_it_will_send_and_asks(cli: Cli) -> None:
    code, out, err = cli("create", "--model", "sora-2-pro", "a cat", stdin=Terminal("n\n"))
    assert code == EXIT_FAILED
    assert "About to create 1 job" in err
    assert "1 × sora-2-pro, 15 s" in err  # the model and the duration it will be billed
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


def test_an_earlier_create_killed_while_sending_is_told_once(cli: Cli) -> None:
    folder = ManifestDir.beside(cli.tasks)
    row = parse_batch(b'{"prompt": "a lost cat", "label": "lost"}\n').rows[0]
    with folder.open(CREATE_JOURNAL) as journal:
        journal.record_intent(row)  # and then vidwatch was killed
    code, _, err = cli("create", "--yes", "a cat")
    assert code == EXIT_OK
    assert "was stopped while sending" in err
    assert "label 'lost'" in err
    assert folder.read(CREATE_JOURNAL).entries[row.identity].state is RowState.UNCERTAIN
    code, _, err = cli("create", "--yes", "a dog")
    assert "stopped while sending" not in err


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
