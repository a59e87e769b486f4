"""One field list per task record: every field of the dataclasses is stored and read back,
exported (or excluded by name), and passed through the redaction.

The tests walk ``dataclasses.fields``: a field added to Task, TaskRequest, TaskResult or
Transition
becomes a new case here by itself, and fails until its kind is handled.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vidwatch.core.model import fields
from vidwatch.core.model.money import Cost
from vidwatch.core.model.records import (
    EPOCH,
    Kind,
    Problem,
    State,
    Task,
    TaskRecord,
    TaskRequest,
    TaskResult,
    Transition,
    VideoFacts,
    stored,
)
from vidwatch.core.store.export import (
    COLUMNS,
    CSV_EXCLUDED,
    DERIVED,
    MD_COLUMNS,
    MD_EXCLUDED,
    export,
    record_json,
)
from vidwatch.core.store.format import decode_record, dumps, loads
from vidwatch.core.store.task_file import TaskStore
from vidwatch.core.text.sanitize import has_hidden_characters

T0 = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(minutes=3)
SECRET = "sk-live-0123456789abcdef"
RECORDS = (Task, TaskRequest, TaskResult, Transition, Cost)
CASES = [(cls, f.name) for cls in RECORDS for f in dataclasses.fields(cls)]
ALL_NAMES = [f.name for cls in (Task, TaskResult) for f in dataclasses.fields(cls)]
# Kinds that hold no text: nothing there can carry a secret.
NO_TEXT = {Kind.TIME, Kind.STATE, Kind.PROBLEM, Kind.NUMBER, Kind.QUOTA, Kind.DECIMAL, Kind.COUNT}


def sample(kind: Kind, text: str = "") -> Any:
    """A value of ``kind`` unlike any default (``text`` goes into every text)."""
    values: dict[Kind, Any] = {
        Kind.ID: f"grok:eee6faa8{text}",
        Kind.TIME: T1,
        Kind.LINE: f"a {text}line",
        Kind.TEXT: f"```\n一头牛 on the moon {text}\nline two\n```",
        Kind.URL: f"https://cdn.example/v/{text}x.mp4?sig=1",
        Kind.STATE: State.FAILED,
        Kind.PROBLEM: Problem.SERVER,
        Kind.NUMBER: 42.5,
        Kind.HISTORY: (
            Transition(State.QUEUED, f"pending {text}".strip(), T0),
            Transition(State.RUNNING, "processing", T1),
        ),
        Kind.REQUEST: TaskRequest(
            "sora-2", f"一头牛 {text}\non the moon", {"duration": 15, "size": "large"}
        ),
        Kind.URLS: (f"https://img.example/{text}a.png", "https://img.example/b.png"),
        Kind.JSON: {"aspect_ratio": f"3:2{text}", "watermark": False, "n": [1, 2.5, None]},
        Kind.EXTRAS: (("ratio", f"1:1{text}"), ("upscaled", True), ("completed_at", 1764745713)),
        Kind.QUOTA: 120_000,
        Kind.DECIMAL: Decimal("0.24"),
        Kind.COST: Cost(120_000, 0, Decimal("0.24"), "USD", f"task id{text}", "sora-2", T0, "ab"),
        Kind.COUNT: 1280,
        Kind.VIDEO: VideoFacts(1280, 720, 8.0, 24.0, f"h264{text}", f"aac{text}", 9_800_000),
    }
    return values[kind]  # a new Kind fails here until it has a sample


def spec_of(cls: type[Any], name: str) -> fields.FieldSpec:
    return next(s for s in fields.field_specs(cls) if s.name == name)


def record_with(cls: type[Any], name: str, value: Any) -> TaskRecord:
    """A stored record whose ``cls`` field ``name`` holds ``value``, the rest plain."""
    task = Task("grok:1", T0)
    result = TaskResult(State.RUNNING, "processing", checked_at=T0)
    if cls is Task:
        task = dataclasses.replace(task, **{name: value})
    elif cls is TaskRequest:
        request = dataclasses.replace(TaskRequest("grok-video-3", "a cat"), **{name: value})
        task = dataclasses.replace(task, request=request)
    elif cls is TaskResult:
        result = dataclasses.replace(result, **{name: value})
    elif cls is Cost:
        cost = dataclasses.replace(Cost(1, unit="USD"), **{name: value})
        task = dataclasses.replace(task, cost=cost)
    else:
        moved = dataclasses.replace(Transition(State.QUEUED, "pending", T0), **{name: value})
        result = dataclasses.replace(result, history=(moved,))
    return TaskRecord(task, result)


def full_record(text: str = "") -> TaskRecord:
    """Every field of the task and its result set, none to its default."""
    task = Task(**{s.name: sample(s.kind, text) for s in fields.TASK_FIELDS})
    result = TaskResult(**{s.name: sample(s.kind, text) for s in fields.RESULT_FIELDS})
    return TaskRecord(task, result)


# --------------------------------------------------------------------------- the list


def test_every_field_declares_its_kind() -> None:
    for cls in RECORDS:
        for f in dataclasses.fields(cls):
            assert isinstance(f.metadata.get("kind"), Kind), f"{cls.__name__}.{f.name}"
        assert [s.name for s in fields.field_specs(cls)] == [
            f.name for f in dataclasses.fields(cls)
        ]


def test_a_field_without_a_kind_is_refused_by_name() -> None:
    @dataclasses.dataclass(frozen=True)
    class Grown:
        label: str = dataclasses.field(default="", metadata=stored(Kind.LINE, 10))
        colour: str = ""

    with pytest.raises(TypeError, match=r"Grown\.colour declares no Kind"):
        fields.field_specs(Grown)


def test_task_and_result_fields_do_not_share_a_name() -> None:
    assert len(ALL_NAMES) == len(set(ALL_NAMES))  # the export puts them side by side


# --------------------------------------------------------------------------- the store


@pytest.mark.parametrize(("cls", "name"), CASES, ids=lambda c: getattr(c, "__name__", c))
def test_each_field_is_stored_and_read_back(tmp_path: Path, cls: type[Any], name: str) -> None:
    spec = spec_of(cls, name)
    record = record_with(cls, name, sample(spec.kind))
    path = tmp_path / "tasks.toml"
    TaskStore(path).replace_all([record])
    loaded = TaskStore(path).load()
    assert loaded.warning is None
    assert loaded.records == {record.id: record}


def test_a_record_with_every_field_set_round_trips(tmp_path: Path) -> None:
    record = full_record()
    path = tmp_path / "tasks.toml"
    TaskStore(path).replace_all([record])
    assert TaskStore(path).load().records[record.id] == record


def test_a_field_the_file_lacks_takes_its_default() -> None:
    entry = {"id": "grok:1", "result": {"status": "processing"}}
    record = decode_record(entry)
    assert record is not None
    assert record.task == Task("grok:1", EPOCH)  # a hand-written entry: added "some time"
    assert record.result == TaskResult(State.RUNNING, "processing")  # state from the status


_LINE = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S")), max_size=40
).filter(lambda text: not has_hidden_characters(text))  # what the file cleans away
_TEXT = st.lists(_LINE, max_size=3).map("\n".join)
_TIME = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2199, 1, 1), timezones=st.just(UTC)
)
_VALUES: dict[Kind, st.SearchStrategy[Any]] = {
    Kind.ID: st.from_regex(r"[a-z0-9.\-]{1,12}:[A-Za-z0-9_\-]{1,36}", fullmatch=True),
    Kind.TIME: _TIME,
    Kind.LINE: _LINE,
    Kind.TEXT: _TEXT,
    Kind.URL: st.from_regex(r"https://[a-z]{1,10}\.example/[A-Za-z0-9/%?=&]{0,30}", fullmatch=True),
    Kind.STATE: st.sampled_from([s for s in State if s is not State.NEW]),
    Kind.PROBLEM: st.sampled_from(Problem),
    Kind.NUMBER: st.floats(allow_nan=False, allow_infinity=False),
    Kind.HISTORY: st.lists(
        st.builds(
            Transition, st.sampled_from(State).filter(lambda s: s is not State.NEW), _LINE, _TIME
        ),
        max_size=3,
    ).map(tuple),
}
_URL = st.from_regex(r"https://[a-z]{1,10}\.example/[A-Za-z0-9/%?=&]{0,30}", fullmatch=True)
_JSON_LEAF = (  # what JSON holds: no NaN, no infinity (a body never has them)
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _LINE
)
_VALUES[Kind.URLS] = st.lists(_URL, max_size=3).map(tuple)
_VALUES[Kind.JSON] = st.dictionaries(
    st.from_regex(r"[a-z_][a-z0-9_]{0,9}", fullmatch=True),
    st.recursive(_JSON_LEAF, lambda inner: st.lists(inner, max_size=3), max_leaves=6),
    max_size=4,
)
_SCALAR = (  # what an answer's extra field may hold once cleaned (clean_extras)
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _LINE.filter(lambda text: text.strip() == text and text != "")
)
_VALUES[Kind.EXTRAS] = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True).filter(lambda k: not k.endswith("url")),
    _SCALAR,
    max_size=4,
).map(lambda d: tuple(d.items()))
_VALUES[Kind.REQUEST] = st.none() | st.builds(
    TaskRequest, _LINE, _TEXT, _VALUES[Kind.JSON], _VALUES[Kind.URLS]
)
_VALUES[Kind.QUOTA] = st.integers(min_value=0, max_value=2**63 - 1)
_VALUES[Kind.DECIMAL] = st.decimals(
    min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False, places=6
)
_VALUES[Kind.COST] = st.none() | st.builds(
    Cost,
    _VALUES[Kind.QUOTA],
    _VALUES[Kind.QUOTA],
    _VALUES[Kind.DECIMAL],
    _LINE.map(lambda text: text[:24]),  # a unit is cut to 24 characters when read back
    _LINE,
    _LINE,
    st.none() | _TIME,
    _LINE,
)
_VALUES[Kind.COUNT] = st.integers(min_value=0, max_value=2**63 - 1)
_VALUES[Kind.VIDEO] = st.none() | st.builds(
    VideoFacts,
    _VALUES[Kind.COUNT],
    _VALUES[Kind.COUNT],
    st.none() | _VALUES[Kind.NUMBER],
    st.none() | _VALUES[Kind.NUMBER],
    _LINE,
    _LINE,
    st.none() | _VALUES[Kind.COUNT],
)


def _build(cls: type[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({s.name: _VALUES[s.kind] for s in fields.field_specs(cls)}).map(
        lambda kw: cls(**kw)
    )


@settings(max_examples=60, deadline=None)
@given(_build(Task), _build(TaskResult))
def test_any_clean_record_survives_the_file(task: Task, result: TaskResult) -> None:
    record = TaskRecord(task, result)
    back = decode_record(loads(dumps([record]).decode())["tasks"][0])

    # what the file leaves out reads back as the default: "", None and () are one "empty"
    def empty_is_default(r: Any) -> Any:
        return dataclasses.replace(
            r,
            **{
                s.name: dataclasses.fields(r)[i].default
                for i, s in enumerate(fields.field_specs(type(r)))
                if getattr(r, s.name) in ("", ()) and not s.required
            },
        )

    assert back is not None
    assert back.task == empty_is_default(task)
    assert back.result == empty_is_default(result)


def test_a_zero_is_written_not_left_out() -> None:
    # An empty video file is 0 bytes, not "size unknown": a zero reads back as a zero.
    video = VideoFacts(width=0, height=0, size=0)
    task = Task(id="t-1", added_at=datetime(2026, 1, 1, tzinfo=UTC), video=video)
    back = decode_record(loads(dumps([TaskRecord(task, TaskResult())]).decode())["tasks"][0])
    assert back is not None
    assert back.task.video == video


def test_a_long_cost_unit_reads_back_cut_to_24_characters() -> None:
    # The property test above keeps units short enough to survive whole; this one is not.
    unit = "A-CURRENCY-NAMED-AT-GREAT-LENGTH"
    cost = Cost(charged=5, amount=Decimal("0.5"), unit=unit)
    task = Task(id="t-1", added_at=datetime(2026, 1, 1, tzinfo=UTC), cost=cost)
    back = decode_record(loads(dumps([TaskRecord(task, TaskResult())]).decode())["tasks"][0])
    assert back is not None
    assert back.task.cost is not None
    assert back.task.cost.unit == "A-CURRENCY-NAMED-AT-GRE…"  # 24 characters, marked cut


# --------------------------------------------------------------------------- the export


def test_json_has_every_field() -> None:
    row = record_json(full_record())
    assert list(row) == ALL_NAMES
    assert all(value is not None for value in row.values())
    json.dumps(row)  # plain JSON types only


def test_csv_and_markdown_have_every_field_not_excluded_by_name() -> None:
    assert set(CSV_EXCLUDED) <= set(ALL_NAMES)  # no stale names in the exclusions
    assert set(MD_EXCLUDED) <= set(ALL_NAMES)
    derived = set(DERIVED)  # the model and the prompt, beside the fields (issue 21)
    assert sorted(COLUMNS) == sorted(set(ALL_NAMES) - set(CSV_EXCLUDED) | derived)
    assert sorted(MD_COLUMNS) == sorted(set(ALL_NAMES) - set(MD_EXCLUDED) | derived)
    row = next(csv.DictReader(io.StringIO(export([full_record()], "csv"))))
    assert list(row) == list(COLUMNS)
    assert all(row[c] for c in COLUMNS)  # every exported field has its cell filled
    header = export([full_record()], "md").splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == [*MD_COLUMNS, "why"]


# --------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(("cls", "name"), CASES, ids=lambda c: getattr(c, "__name__", c))
def test_each_field_passes_through_the_redaction(cls: type[Any], name: str) -> None:
    spec = spec_of(cls, name)
    if spec.kind in NO_TEXT:
        return  # a time, a state, a number: no text to hold a secret
    record = record_with(cls, name, sample(spec.kind, SECRET))
    holder: Any = record.task if cls in (Task, TaskRequest, Cost) else record.result
    assert fields.mentions(holder, SECRET)
    scrubbed = fields.redact_record(holder, lambda text: text.replace(SECRET, "***"))
    assert SECRET not in repr(scrubbed)
    assert "***" in repr(scrubbed)
    assert not fields.mentions(scrubbed, SECRET)


def test_every_kind_is_either_text_or_known_to_hold_none() -> None:
    # A new kind must be put on one side: text (redacted) or not.
    assert set(Kind) == NO_TEXT | fields._TEXT_KINDS | set(fields._NESTED)


def test_a_result_with_the_secret_everywhere_is_redacted_whole() -> None:
    result = full_record(SECRET).result
    scrubbed = fields.redact_record(result, lambda text: text.replace(SECRET, "***"))
    assert SECRET not in repr(scrubbed)
    assert fields.redact_record(scrubbed, lambda text: text.replace(SECRET, "***")) is scrubbed
