"""The request that created a task stays with it: stored, read back checked, exported,
filtered on (``model:``, ``prompt:``), kept when duplicates merge; old files load."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from vidwatch.core.create.requests import prepare
from vidwatch.core.model.query import parse_query, search_text
from vidwatch.core.model.records import Task, TaskRecord, TaskRequest, TaskResult
from vidwatch.core.store.duplicates import merge_duplicate
from vidwatch.core.store.export import export, record_json
from vidwatch.core.store.task_file import TaskStore

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def made(model: str, prompt: str, *params: tuple[str, object], task_id: str = "") -> TaskRecord:
    request = prepare(model, prompt, (), list(params)).request  # type: ignore[arg-type]
    return TaskRecord(Task(task_id or f"{model}:1", T0, "lbl", request=request.record()))


def test_a_created_task_keeps_its_request_through_the_file(tmp_path: Path) -> None:
    record = made("sora-2", "一头牛\non the moon", ("size", "large"), ("seed", [1, None, 2.5]))
    store = TaskStore(tmp_path / "tasks.toml")
    store.replace_all([record])
    back = store.load().records[record.id]
    assert back == record
    request = back.task.request
    assert request is not None
    assert dict(request.fields) == {"size": "large", "seed": [1, None, 2.5], "duration": 10}
    assert list(request.fields) == ["size", "seed", "duration"]  # the order sent


def test_a_file_without_requests_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    path.write_text(
        'schema = 1\n\n[[tasks]]\nid = "grok:old"\nadded_at = 2025-01-01T00:00:00Z\nlabel = "x"\n',
        encoding="utf-8",
    )
    loaded = TaskStore(path).load()
    assert loaded.warning is None
    assert loaded.records["grok:old"].task == Task(
        "grok:old", datetime(2025, 1, 1, tzinfo=UTC), "x"
    )
    assert record_json(loaded.records["grok:old"])["request"] is None


def test_a_hostile_request_in_the_file_is_cleaned_or_dropped(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    fields = json.dumps({"style": "\x1b[31mred\x1b[0m", "bad\u202ekey": 1, "n": [1e999]})
    path.write_text(
        "schema = 1\n\n"
        '[[tasks]]\nid = "grok:a"\nadded_at = 2025-01-01T00:00:00Z\n'
        "[tasks.request]\n"
        'model = "grok-video-3\\u001b[2J"\n'
        'prompt = "a \\u001b]8;;https://evil.example\\u0007cat"\n'
        f"fields = {json.dumps(fields)}\n"
        'images = ["javascript:alert(1)", "https://img.example/a.png", 7]\n\n'
        '[[tasks]]\nid = "grok:b"\nadded_at = 2025-01-01T00:00:00Z\n'
        '[tasks.request]\nmodel = "grok-video-3"\nfields = "[1, 2]"\n\n'
        '[[tasks]]\nid = "grok:c"\nadded_at = 2025-01-01T00:00:00Z\n'
        'request = "not a table"\n',
        encoding="utf-8",
    )
    records = TaskStore(path).load().records
    request = records["grok:a"].task.request
    assert request is not None
    assert request.model == "grok-video-3"
    assert request.prompt == "a cat"
    assert dict(request.fields) == {"style": "red", "badkey": 1, "n": [None]}
    assert request.images == ("https://img.example/a.png",)
    assert records["grok:b"].task.request is None  # no prompt: not a request, the task stays
    assert records["grok:c"].task.request is None


def test_model_and_prompt_filters_use_the_request() -> None:
    veo = made("veo3.1-fast", "a fox in the snow", task_id="7f3a-no-prefix")
    enhanced = TaskRecord(
        Task("grok:2", T0), TaskResult(enhanced_prompt="A majestic FOX, cinematic")
    )
    plain = TaskRecord(Task("grok:3", T0))
    records = [veo, enhanced, plain]

    def ids(text: str) -> list[str]:
        query = parse_query(text)
        return [r.id for r in records if query.matches(r, search_text(r), T0)]

    assert ids("model:veo3.1") == ["7f3a-no-prefix"]  # the request's model
    assert ids("model:grok") == ["grok:2", "grok:3"]  # the ID's model part still counts
    assert ids("prompt:fox") == ["7f3a-no-prefix", "grok:2"]  # sent, or enhanced
    assert ids("snow") == ["7f3a-no-prefix"]  # a plain word finds the prompt sent
    assert ids("-prompt:snow") == ["grok:2", "grok:3"]


def test_exports_carry_the_request() -> None:
    record = made("grok-video-3", "a cat", ("aspect_ratio", "3:2"))
    row = json.loads(export([record], "json"))[0]
    assert row["request"] == {
        "model": "grok-video-3",
        "prompt": "a cat",
        "fields": {"aspect_ratio": "3:2"},
        "images": [],
    }
    cells = next(csv.DictReader(io.StringIO(export([record], "csv"))))
    assert json.loads(cells["request"])["fields"] == {"aspect_ratio": "3:2"}
    assert "request" not in export([record], "md").splitlines()[0]


def test_a_task_listed_twice_keeps_the_request_either_copy_has() -> None:
    with_request = made("sora-2", "a cat", task_id="sora-2:x")
    bare = TaskRecord(Task("sora-2:x", T0))
    assert merge_duplicate(bare, with_request).task.request == with_request.task.request
    assert merge_duplicate(with_request, bare).task.request == with_request.task.request


def test_a_request_is_frozen_and_hashable() -> None:
    fields: dict[str, object] = {"seed": [1, 2]}
    request = TaskRequest("m", "p", fields, ("https://i.example/a.png",))
    fields["seed"] = "changed"
    assert dict(request.fields) == {"seed": [1, 2]}
    assert hash(request) == hash(
        TaskRequest("m", "p", {"seed": [1, 2]}, ("https://i.example/a.png",))
    )
