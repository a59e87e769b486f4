"""The words users read are written once (issue 18): the command line and the dashboard
say a task's state and its problem the same way, and the engine keeps facts, never a
key to press — each interface adds its own hint."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.style import Style
from vidwatch.core.create.verdict import (
    RowState,
    Verdict,
    ended_words,
    unrecorded_words,
)
from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    BadResponse,
    NetworkError,
    NotFound,
    Ok,
    Outcome,
    RateLimited,
    ServerError,
    WrongUrl,
)
from vidwatch.core.gateway.parsing import parse_response
from vidwatch.core.gateway.wording import resend_words
from vidwatch.core.model.records import Problem, State, Task, TaskRecord, TaskResult
from vidwatch.core.model.wording import problem_advice, state_text
from vidwatch.core.polling.results import apply_outcome
from vidwatch.core.store.export import FORMATS, export
from vidwatch.core.store.task_file import TaskStore
from vidwatch.core.text.wording import capitalized
from vidwatch.ui.keys import problem_help
from vidwatch.ui.widgets.columns import layout, row_cells

from tests.cli.test_cli import Run
from tests.cli.test_network import KEY, always, serve

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOST = "api.example"

# "press r", "Press p to retry", "r to retry", "p to resume": the dashboard's keys.
KEY_HINT = re.compile(
    r"\bpress\b|\b[a-zA-Z] to (retry|resume|ask again|check now)\b|\bhit [a-zA-Z]\b", re.I
)

OUTCOMES: list[tuple[Outcome, bool | str]] = [
    (AuthRejected(401, "invalid token"), False),
    (AuthRejected(402), False),
    (NotFound(404, "task_not_exist"), False),
    (NotFound(404, "task_not_exist"), True),
    (NotFound(400, "task_not_exist"), "not found 3 times"),
    (
        WrongUrl(
            404, "Invalid URL", "https://gw.example/v1/v1/video/query", "https://gw.example/v1"
        ),
        False,
    ),
    (RateLimited(30.0, "slow down"), False),
    (RateLimited(None), False),
    (ServerError(502, "bad gateway"), False),
    (BadResponse("not JSON", 200), False),
    (NetworkError("ClientConnectorError: [Connect call failed]"), False),
    (NetworkError("ReadTimeout", timeout=True), False),
]


def _no_url() -> TaskResult:
    """A job reported done without a link (Problem.NO_URL), as the parser keeps it."""
    raw = json.dumps({"id": "x", "status": "completed", "video_url": None}).encode()
    outcome = parse_response(200, {}, raw, now=T0)
    assert isinstance(outcome, Ok)
    assert outcome.result.problem is Problem.NO_URL
    return outcome.result


def every_problem() -> list[TaskRecord]:
    """One record per way a check can go wrong, as the poller keeps it."""
    before = TaskResult(State.RUNNING, "processing", checked_at=T0)
    records = [
        TaskRecord(Task(f"grok:{n}", T0), apply_outcome(before, outcome, T0, gave_up, host=HOST))
        for n, (outcome, gave_up) in enumerate(OUTCOMES)
    ]
    records.append(TaskRecord(Task("grok:no-url", T0), _no_url()))
    never = TaskResult()  # never a status: what stands in the way is the state's word
    records.append(
        TaskRecord(Task("grok:lost", T0), apply_outcome(never, NotFound(404), T0, True, host=HOST))
    )
    assert {r.result.problem for r in records} == set(Problem)
    return records


def test_no_stored_field_nor_export_holds_a_key_hint(tmp_path: Path) -> None:
    records = every_problem()
    for record in records:
        assert record.result.error, record
        assert not KEY_HINT.search(record.result.error), record.result.error
    store = TaskStore(tmp_path / "tasks.toml")
    store.save_records({r.id: r for r in records})
    assert not KEY_HINT.search(store.path.read_text(encoding="utf-8"))
    for fmt in FORMATS:
        text = export(records, fmt)
        assert "no network" in text or "cannot reach" in text
        assert not KEY_HINT.search(text), fmt


def test_the_advice_is_a_fact_and_the_dashboard_adds_its_key() -> None:
    for problem in Problem:
        assert problem_advice(problem)
        assert not KEY_HINT.search(problem_advice(problem)), problem
        assert problem_help(problem).startswith(problem_advice(problem))
    assert problem_help(Problem.AUTH).endswith("press p to retry.")
    assert problem_help(Problem.WRONG_URL).endswith("press p to retry.")
    assert problem_help(Problem.NOT_FOUND).endswith("Press r to ask again.")
    assert problem_help(Problem.NO_URL).endswith("Press r to check now.")


@pytest.mark.parametrize(("outcome", "gave_up"), OUTCOMES)
def test_poll_and_list_say_no_key_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcome: Outcome, gave_up: bool | str
) -> None:
    monkeypatch.setenv("QUICKROUTER_API_KEY", KEY)
    run = Run(tmp_path)
    run("add", "grok:a")
    serve(monkeypatch, always(outcome))
    said = "".join(run("poll")[1:]) + "".join(run("poll", "--json")[1:])
    said += "".join(run("list")[1:]) + "".join(run("list", "--json")[1:])
    assert not KEY_HINT.search(said), said


def test_the_cli_and_the_table_say_a_state_the_same_way(tmp_path: Path) -> None:
    brewing = TaskResult(State.UNKNOWN, "brewing", checked_at=T0)
    running = TaskResult(State.RUNNING, "processing", checked_at=T0, progress=40.0)
    records = [
        TaskRecord(Task("grok:new", T0)),
        TaskRecord(Task("grok:brew", T0), brewing),
        TaskRecord(Task("grok:run", T0), running),
        *every_problem()[-2:],
    ]
    assert [state_text(r) for r in records[:4]] == [
        "· new",
        "? brewing",
        "▶ running 40%",
        "✔ succeeded",
    ]
    assert state_text(records[4]) == "! not found"
    store = TaskStore(tmp_path / "tasks.toml")
    store.save_records({r.id: r for r in records})
    code, out, _ = Run(tmp_path)("list")
    assert code == 0
    listed = {re.split(r" {2,}", line)[1]: line for line in out.splitlines()[1:]}
    columns = [c for c in layout(160) if c.key == "state"]
    for record in records:
        cells = row_cells(record, columns, T0, Style(), lambda name: Style(), False)
        (cell,) = [text for column, text, _ in cells if column.key == "state"]
        assert cell == state_text(record)
        assert listed[record.id].startswith(f"{cell}  "), listed[record.id]


def test_a_creates_end_is_said_in_one_wording() -> None:
    """`vidwatch create` prints these and the dashboard's toasts say them capitalised
    (once the dashboard said "The job was may have been made")."""
    uncertain = Verdict(RowState.UNCERTAIN, "lost", "the answer was lost after sending (x)")
    refused = Verdict(RowState.REFUSED, "invalid_request", "no such size", 400)
    created = Verdict(RowState.CREATED, task_id="grok:1")
    assert ended_words(refused, "ab12cd34") == (
        "the gateway refused the job: 400 invalid_request: no such size"
    )
    said = ended_words(uncertain, "ab12cd34")
    assert said.startswith("the answer was lost after sending (x). The job may have been made")
    assert "vidwatch create --mark-done ab12cd34=ID" in said
    assert not KEY_HINT.search(said)
    assert unrecorded_words(uncertain, "disk full") == (
        "the job may have been made, but it could not be recorded: disk full"
    )
    assert unrecorded_words(created, "disk full").startswith("the job was made as grok:1, but")
    assert capitalized(resend_words(3600)) == "Sending again after waiting 1h00m"
