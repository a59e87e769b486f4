"""The rotating log: what it records, where, and that the key never reaches it."""

from __future__ import annotations

import io
import json
import logging
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from vidwatch.cli import main
from vidwatch.core.create.batch import parse_batch
from vidwatch.core.create.log import log_outcome
from vidwatch.core.create.verdict import RowState, Verdict
from vidwatch.core.gateway.outcomes import AuthRejected, NetworkError, Ok
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult, utcnow
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.poller import Poller
from vidwatch.core.runtime.logs import BACKUPS, MAX_BYTES, add_secret, setup_logging

from tests.support.keeper import polled

KEY = "sk-log-canary-7c1e55d2"


def read_all(folder: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("vidwatch.log*")))


def test_the_log_is_private_and_rotates(tmp_path: Path) -> None:
    path = setup_logging(tmp_path / "state")
    assert path == tmp_path / "state" / "vidwatch.log"
    log = logging.getLogger("vidwatch.test")
    line = "x" * 1000
    for _ in range(MAX_BYTES * (BACKUPS + 2) // 1000):
        log.info(line)
    files = sorted(p.name for p in (tmp_path / "state").iterdir())
    assert files == ["vidwatch.log", *(f"vidwatch.log.{n}" for n in range(1, BACKUPS + 1))]
    for name in files:
        assert stat.S_IMODE((tmp_path / "state" / name).stat().st_mode) == 0o600
        assert (tmp_path / "state" / name).stat().st_size <= MAX_BYTES + 2000


def test_the_key_is_redacted_from_messages_arguments_and_tracebacks(tmp_path: Path) -> None:
    setup_logging(tmp_path)
    add_secret(KEY)
    log = logging.getLogger("vidwatch.test")
    log.warning("header was Bearer %s", KEY)
    log.warning(f"inline {KEY}")
    try:
        raise ValueError(f"the server echoed {KEY}")
    except ValueError:
        log.exception("boom")
    text = read_all(tmp_path)
    assert "the server echoed ***" in text
    assert "Bearer ***" in text
    assert KEY not in text


def test_an_unwritable_log_folder_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    assert setup_logging(blocker) is None
    logging.getLogger("vidwatch.test").error("goes nowhere, quietly")


class OneAnswer:
    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)

    async def query(self, task_id: str) -> object:
        return self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]


def rejected(poller: Poller) -> Callable[[], bool]:
    return lambda: poller.status.auth_error is not None


async def test_polls_are_logged_changes_at_info_and_every_poll_with_debug(
    tmp_path: Path,
) -> None:
    for debug in (False, True):
        folder = tmp_path / f"debug-{debug}"
        setup_logging(folder, debug=debug)
        client = OneAnswer(
            NetworkError("connection refused"),
            Ok(TaskResult(State.RUNNING, "processing", checked_at=utcnow())),
            Ok(TaskResult(State.RUNNING, "processing", checked_at=utcnow())),
            AuthRejected(401),
        )
        records = {"grok:1": TaskRecord(Task("grok:1", utcnow()))}
        policy = Policy(min_interval=0.01, max_interval=0.01, max_requests_per_second=1000)
        poller = polled(client, policy, records)  # type: ignore[arg-type]
        await poller.run(until=rejected(poller))
        text = read_all(folder)
        assert "WARNING vidwatch.poller: grok:1: Network error: connection refused" in text
        assert "INFO    vidwatch.poller: grok:1: running (processing)" in text
        assert "ERROR   vidwatch.poller: grok:1: The API key was rejected (HTTP 401)" in text
        assert ("still running" in text) is debug


def test_vidwatch_paths_names_the_log_and_commands_write_to_it(
    tmp_path: Path, isolated_home: Path
) -> None:
    out = io.StringIO()
    assert main(["paths"], out=out) == 0
    log_line = next(line for line in out.getvalue().splitlines() if line.startswith("log"))
    log_path = Path(log_line.split(None, 1)[1])
    assert log_path == isolated_home / "xdg_state_home" / "vidwatch" / "vidwatch.log"
    assert main(["add", "grok:1"], out=io.StringIO(), err=io.StringIO()) == 0
    assert "vidwatch 0.1.0: add" in log_path.read_text(encoding="utf-8")


def test_a_refusal_that_quotes_the_prompt_is_logged_without_it(tmp_path: Path) -> None:
    setup_logging(tmp_path)
    prompt = "a secret storyboard for the product launch"
    row = parse_batch(json.dumps({"prompt": prompt, "label": "launch"}).encode()).rows[0]
    refusal = Verdict(RowState.REFUSED, "invalid_request", f"prompt '{prompt}' is blocked", 400)
    log_outcome(row, refusal, "/data/b.jsonl", delay=None)
    text = read_all(tmp_path)
    assert "row 1 'launch' of /data/b.jsonl: refused: 400 invalid_request: prompt " in text
    assert "'<the prompt>' is blocked" in text
    assert "storyboard" not in text


@pytest.mark.parametrize(
    "echo",
    [
        lambda p: p,  # whole
        lambda p: json.dumps(p)[1:-1],  # JSON-escaped (\n, \")
        lambda p: json.dumps(p, ensure_ascii=False)[1:-1],
        lambda p: " ".join(p.split()),  # its lines collapsed, as cleaned text is
        lambda p: p[:40] + "...",  # the start of it
        lambda p: p.upper(),
        lambda p: p[25:70],  # a piece from the middle
    ],
    ids=["whole", "json", "json-utf8", "collapsed", "start", "upper", "middle"],
)
def test_every_form_of_the_prompt_a_gateway_echoes_is_left_out(
    tmp_path: Path, echo: Callable[[str], str]
) -> None:
    setup_logging(tmp_path)
    prompt = 'A "secret" storyboard:\nthe product launch — scene 2, the rooftop reveal at dusk'
    row = parse_batch(json.dumps({"prompt": prompt, "label": "launch"}).encode()).rows[0]
    said = f"prompt '{echo(prompt)}' is blocked by the safety system"
    refusal = Verdict(RowState.REFUSED, "invalid_request", said, 400)
    log_outcome(row, refusal, "/data/b.jsonl", delay=None)
    text = read_all(tmp_path)
    assert "<the prompt>" in text
    assert "is blocked by the safety system" in text  # the gateway's own words stay
    for secret in ("storyboard", "STORYBOARD", "rooftop", "ROOFTOP", "product launch"):
        assert secret not in text, text


def test_redacting_keeps_what_is_not_the_prompt() -> None:
    from vidwatch.core.create.log import redact_prompt

    assert redact_prompt("HTTP 400: field size is wrong", "a cat in the snow") == (
        "HTTP 400: field size is wrong"
    )
    assert redact_prompt("prompt 'a cat' rejected", "a cat") == "prompt '<the prompt>' rejected"
    assert redact_prompt("ab ab ab", "ab") == "ab ab ab"  # too short to be told apart
