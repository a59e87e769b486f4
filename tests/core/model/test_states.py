"""One status vocabulary (issue 12 item 13): a task not checked yet is `new` in the
dashboard, `vidwatch list`, `list --json`, exports and the `state:` filter, and the
README documents every state."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from vidwatch.cli import EXIT_OK, main
from vidwatch.core.model.query import parse_query, search_text
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult
from vidwatch.core.model.wording import state_text
from vidwatch.core.store.export import export
from vidwatch.core.store.format import decode_record

from tests.support.paths import README

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

NEW = TaskRecord(Task("grok:new", T0))
RUNNING = TaskRecord(Task("grok:run", T0), TaskResult(State.RUNNING, "processing", checked_at=T0))
NO_STATUS = TaskRecord(Task("grok:404", T0), TaskResult(checked_at=T0, error="404"))


def cli(tasks: Path, *argv: str) -> str:
    out = io.StringIO()
    code = main(["--tasks-file", str(tasks), *argv], out=out, err=io.StringIO())
    assert code == EXIT_OK
    return out.getvalue()


def matching(query: str, *records: TaskRecord) -> list[str]:
    q = parse_query(query)
    return [r.id for r in records if q.matches(r, search_text(r), T0)]


def test_an_unchecked_task_is_new_everywhere(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.toml"
    cli(tasks, "add", "grok:eee6faa8-9dee-455c-aa82-02ac623adf3a")
    assert cli(tasks, "list").splitlines()[1].startswith(state_text(NEW))
    assert json.loads(cli(tasks, "list", "--json"))[0]["state"] == "new"
    assert "grok:eee6" in cli(tasks, "list", "--filter", "state:new")
    assert "grok:eee6" not in cli(tasks, "list", "--filter", "state:unknown")
    row = next(csv.DictReader(io.StringIO(export([NEW], "csv"))))
    assert row["state"] == "new"
    assert state_text(NEW) == f"{State.NEW.symbol} new"


def test_the_state_filter_and_plain_words_use_the_same_names() -> None:
    records = (NEW, RUNNING, NO_STATUS)
    assert matching("state:new", *records) == ["grok:new"]
    assert matching("new", *records) == ["grok:new"]
    assert matching("state:running", *records) == ["grok:run"]
    assert matching("state:processing", *records) == ["grok:run"]  # the raw word too
    assert matching("state:unknown", *records) == ["grok:404"]
    assert matching("-state:new", *records) == ["grok:run", "grok:404"]
    assert matching("state:failed,", *records) == []  # an empty word matches no empty status


def test_new_is_shown_never_stored() -> None:
    assert NEW.result.shown_state is State.NEW
    assert RUNNING.result.shown_state is State.RUNNING
    entry = {
        "id": "grok:1",
        "result": {
            "state": "new",
            "status": "processing",
            "checked_at": T0,
            "history": [{"state": "new", "status": "", "at": T0}],
        },
    }
    record = decode_record(entry)
    assert record is not None
    assert record.result.state is State.RUNNING  # from the status word, not "new"
    assert record.result.history == ()


def test_the_readme_documents_every_state() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| state | shown as | meaning |") :].split("\n\n", 1)[0]
    rows = {line.split("|")[1].strip(" `"): line for line in table.splitlines()[2:]}
    assert sorted(rows) == sorted(state.value for state in State)
    for state in State:
        assert state.symbol in rows[state.value]
