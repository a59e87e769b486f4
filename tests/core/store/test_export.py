"""What exports add beside the record's fields: the model and the prompt (issue 21 item 5),
the columns people sort and search by in a spreadsheet."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from vidwatch.core.model.money import Cost
from vidwatch.core.model.records import State, Task, TaskRecord, TaskRequest, TaskResult
from vidwatch.core.store.export import export

NOW = datetime(2025, 6, 1, tzinfo=UTC)
CREATED = TaskRecord(
    Task("sora-2:abc", NOW, request=TaskRequest("sora-2", "=a fox | in the\nsnow")),
    TaskResult(State.SUCCEEDED, "completed", "https://v.example/1.mp4"),
)
ADDED = TaskRecord(  # added by ID: the model from the ID, the prompt as the server echoed it
    Task("grok:eee6", NOW),
    TaskResult(State.RUNNING, "in_progress", sent_prompt="a cat on a mat"),
)
UNKNOWN = TaskRecord(Task("task_123", NOW), TaskResult())


def test_csv_has_model_and_prompt_columns() -> None:
    rows = list(csv.DictReader(io.StringIO(export([CREATED, ADDED, UNKNOWN], "csv"))))
    assert [r["model"] for r in rows] == ["sora-2", "grok", ""]
    assert rows[0]["prompt"] == "'=a fox | in the\nsnow"  # inert in a spreadsheet, whole
    assert rows[1]["prompt"] == "a cat on a mat"
    assert rows[2]["prompt"] == ""
    header = next(csv.reader(io.StringIO(export([], "csv"))))
    assert header.index("model") < header.index("prompt") < header.index("request")


def test_markdown_has_the_model_and_a_short_prompt_on_one_line() -> None:
    long = TaskRecord(Task("grok:1", NOW, request=TaskRequest("grok-video-3", "word " * 100)))
    text = export([CREATED, long], "md")
    header, _, first, second = text.strip().splitlines()
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells[cells.index("label") + 1 : cells.index("label") + 3] == ["model", "prompt"]
    assert "| sora-2 | =a fox \\| in the snow |" in first
    assert "| grok-video-3 | word word" in second
    assert "…" in second  # cut
    assert len(second) < 400


def test_csv_and_markdown_say_what_each_job_cost_as_a_number_and_its_unit() -> None:
    """Issue 19: the cost in exports, as a column a spreadsheet sums (the ``cost`` record
    stays whole in CSV and JSON) and in the Markdown table people read."""
    cost = Cost(120_000, 0, Decimal("0.24"), "USD", "task id", "sora-2", NOW, "k1")
    charged = TaskRecord(replace(CREATED.task, cost=cost), CREATED.result)
    rows = list(csv.DictReader(io.StringIO(export([charged, ADDED], "csv"))))
    assert [(r["cost_amount"], r["cost_unit"]) for r in rows] == [("0.24", "USD"), ("", "")]
    assert '"amount":"0.24"' in rows[0]["cost"]
    header, _, first, second = export([charged, ADDED], "md").strip().splitlines()
    cells = [c.strip() for c in header.strip("|").split("|")]
    at = cells.index("cost_amount")
    assert cells[at + 1] == "cost_unit"
    assert [c.strip() for c in first.strip("|").split(" | ")][at : at + 2] == ["0.24", "USD"]
    assert [c.strip() for c in second.strip("|").split(" | ")][at : at + 2] == ["", ""]
