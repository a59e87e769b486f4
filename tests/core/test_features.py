"""Issue 6 in the core: history, ETAs, the filter language, export, notifications, views."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vidwatch.core.gateway.outcomes import Ok
from vidwatch.core.model.query import QueryError, parse_query, parse_usable, search_text
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult, Transition
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.durations import DurationModel
from vidwatch.core.polling.results import apply_outcome
from vidwatch.core.polling.scheduler import Scheduler
from vidwatch.core.runtime.notify import desktop_sequence, notify_send, payload, terminal_style
from vidwatch.core.store.export import export, write_export
from vidwatch.core.store.task_file import TaskStore
from vidwatch.core.store.view import View, load_view, save_view
from vidwatch.core.text.wording import span

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def answer(state: State, status: str, at: datetime, url: str | None = None) -> Ok:
    return Ok(
        TaskResult(state, status, url, status_update_time=at, checked_at=at + timedelta(seconds=1))
    )


# --------------------------------------------------------------------------- history


def test_each_status_change_is_kept_with_its_time_and_survives_errors() -> None:
    from vidwatch.core.gateway.outcomes import NetworkError

    result = TaskResult()
    result = apply_outcome(result, answer(State.QUEUED, "pending", T0), T0)
    result = apply_outcome(result, answer(State.QUEUED, "pending", T0), T0)  # no change
    result = apply_outcome(result, NetworkError("reset"), T0)
    result = apply_outcome(
        result, answer(State.RUNNING, "processing", T0 + timedelta(seconds=8)), T0
    )
    done = answer(State.SUCCEEDED, "completed", T0 + timedelta(seconds=98), "https://v/x.mp4")
    result = apply_outcome(result, done, T0)
    assert [(t.state, t.status) for t in result.history] == [
        (State.QUEUED, "pending"),
        (State.RUNNING, "processing"),
        (State.SUCCEEDED, "completed"),
    ]
    assert result.history[1].at == T0 + timedelta(seconds=8)
    assert result.ran_for() == 90.0


def test_history_is_persisted_and_capped(tmp_path: Path) -> None:
    history = tuple(
        Transition(State.RUNNING, f"step {n}", T0 + timedelta(seconds=n)) for n in range(60)
    )
    record = TaskRecord(
        Task("a", T0), TaskResult(State.RUNNING, "step 59", checked_at=T0, history=history)
    )
    store = TaskStore(tmp_path / "tasks.toml")
    store.replace_all([record])
    loaded = store.load().records["a"].result.history
    assert len(loaded) == 24
    assert loaded[-1].status == "step 59"
    many = TaskResult()
    for n in range(40):
        many = apply_outcome(many, answer(State.RUNNING, f"s{n}", T0 + timedelta(seconds=n)), T0)
    assert len(many.history) == 24
    assert many.history[0].status == "s0"  # the first stays
    assert many.history[-1].status == "s39"


# --------------------------------------------------------------------------- ETA


def test_running_jobs_get_an_eta_and_overdue_ones_are_flagged() -> None:
    durations = DurationModel(prior_median=90, prior_sigma=0.3)
    sched = Scheduler(
        Policy(max_requests_per_second=100), durations=durations, wall_offset=T0.timestamp()
    )
    sched.track(
        "fresh", TaskResult(State.RUNNING, "processing", status_update_time=T0, checked_at=T0), 0.0
    )
    old = T0 - timedelta(minutes=10)
    sched.track(
        "stuck", TaskResult(State.RUNNING, "processing", status_update_time=old, checked_at=T0), 0.0
    )
    sched.track("queued", TaskResult(State.QUEUED, "pending", checked_at=T0), 0.0)
    fresh = sched.eta("fresh", 30.0)
    assert fresh is not None
    assert fresh.running_for == pytest.approx(30)
    assert 40 < fresh.remaining < 80  # median 90 s, 30 s in
    assert not fresh.late
    stuck = sched.eta("stuck", 0.0)
    assert stuck is not None
    assert stuck.late
    assert sched.eta("queued", 0.0) is None


def test_durations_read_like_people_write_them() -> None:
    assert span(45) == "45s"
    assert span(90) == "1m30s"
    assert span(120) == "2m"
    assert span(7500) == "2h05m"


# --------------------------------------------------------------------------- filter language


def rec(
    task_id: str, state: State | None, label: str = "", minutes: int = 0, **kw: object
) -> TaskRecord:
    result = TaskResult(state, state.value, checked_at=T0, **kw) if state else TaskResult()  # type: ignore[arg-type]
    return TaskRecord(Task(task_id, T0 - timedelta(minutes=minutes), label), result)


RECORDS = [
    rec("grok:1", State.FAILED, "cow", 5),
    rec("sora-2:2", State.SUCCEEDED, "cat", 90, video_url="https://v/2"),
    rec("grok:3", State.RUNNING, "", 20, enhanced_prompt="A cow on the moon"),
    rec("veo:4", None, "dog", 2),
]


def matching(text: str) -> list[str]:
    query = parse_query(text)
    return [r.id for r in RECORDS if query.matches(r, search_text(r), T0)]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("", ["grok:1", "sora-2:2", "grok:3", "veo:4"]),
        ("cow", ["grok:1", "grok:3"]),  # label, or prompt
        ("state:failed", ["grok:1"]),
        ("state:failed,running", ["grok:1", "grok:3"]),
        ("state:new", ["veo:4"]),
        ("-state:succeeded", ["grok:1", "grok:3", "veo:4"]),
        ("label:c", ["grok:1", "sora-2:2"]),
        ("model:grok", ["grok:1", "grok:3"]),
        ("model:so", ["sora-2:2"]),  # a prefix: model:veo finds veo3.1-fast
        ("age:<10m", ["grok:1", "veo:4"]),
        ("age:>1h", ["sora-2:2"]),
        ("url:yes", ["sora-2:2"]),
        ("model:grok age:>10m", ["grok:3"]),
        ("STATE:FAILED", ["grok:1"]),
    ],
)
def test_the_filter_language(text: str, ids: list[str]) -> None:
    assert matching(text) == ids


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("age:soon", "age:<1h"),
        ("age:>5", "add a unit"),
        ("updated:5", "add a unit"),
        ("age:>5x", "age:<1h"),
        ("url:maybe", "yes or no"),
        ("label:", "needs a value"),
    ],
)
def test_a_bad_filter_says_how_to_write_it(text: str, words: str) -> None:
    with pytest.raises(QueryError, match=words):
        parse_query(text)


def test_a_half_typed_filter_keeps_the_terms_that_parse() -> None:
    usable = parse_usable("state:failed age:<5 -label:x url:")
    assert usable.text == "state:failed -label:x"
    assert [r.id for r in RECORDS if usable.matches(r, search_text(r), T0)] == ["grok:1"]


def test_ids_and_urls_are_plain_words() -> None:
    assert matching("grok:3") == ["grok:3"]  # a task ID looks like a field; it is a word
    assert matching("https://v/2") == []  # URLs are not in the search text
    assert matching("colour:red") == []


# --------------------------------------------------------------------------- export


HOSTILE = TaskRecord(
    Task("grok:7", T0, '=HYPERLINK("http://evil")'),
    TaskResult(
        State.FAILED,
        "failed",
        fail_reason="+cmd|' /C calc'!A0",
        enhanced_prompt="line one | two\nline `three`",
        checked_at=T0,
    ),
)


def test_csv_export_defuses_formulas_and_round_trips() -> None:
    text = export([HOSTILE, RECORDS[1]], "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["label"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["fail_reason"] == "'+cmd|' /C calc'!A0"
    assert rows[0]["enhanced_prompt"] == "line one | two\nline `three`"
    assert rows[1]["video_url"] == "https://v/2"
    assert rows[1]["state"] == "succeeded"


def test_json_export_is_the_list_json() -> None:
    data = json.loads(export(RECORDS, "json"))
    assert [d["id"] for d in data] == [r.id for r in RECORDS]
    assert {"id", "label", "state", "status", "video_url", "history", "saved_to"} <= set(data[0])


def test_markdown_export_keeps_the_table_whole() -> None:
    text = export([HOSTILE], "md")
    lines = text.strip().splitlines()
    assert len(lines) == 3  # header, rule, one row: the newline in the prompt did not split it
    assert lines[2].count(" | ") == 11  # 10 columns and why: model, prompt and cost among them
    assert lines[0].endswith("| why |")
    assert "calc" in lines[2]  # the failed job's reason, escaped
    with pytest.raises(ValueError, match="unknown export format"):
        export([], "xml")


INJECTING = TaskRecord(
    Task(
        "grok:8\r\x1b[2J",
        T0,
        "<img src=x onerror=alert(1)> [c](javascript:alert(1)) ![](https://evil/p.png)",
    ),
    TaskResult(State.UNKNOWN, "<script>x</script>", "https://evil/<b>x</b>_y_", checked_at=T0),
)


def test_markdown_cells_cannot_inject_html_links_or_images() -> None:
    text = export([INJECTING], "md")
    row = text.strip().splitlines()[2]
    assert "\x1b" not in text
    assert "\r" not in text
    bare = re.sub(r"\\.", "", row)  # what is left once every escaped character is gone
    for special in "<>[]()!_":
        assert special not in bare, special
    assert "\\<img src=x onerror=alert\\(1\\)\\>" in row  # escaped, still readable
    assert row.count(" | ") == 11  # 10 columns and why: model, prompt and cost among them


def test_csv_shows_the_prompt_without_its_fence_and_json_keeps_it() -> None:
    fenced = TaskRecord(
        Task("grok:10", T0),
        TaskResult(State.SUCCEEDED, "completed", enhanced_prompt="```\nA cow\n```", checked_at=T0),
    )
    row = next(csv.DictReader(io.StringIO(export([fenced], "csv"))))
    assert row["enhanced_prompt"] == "A cow"
    assert json.loads(export([fenced], "json"))[0]["enhanced_prompt"] == "```\nA cow\n```"


def test_exports_printed_to_a_terminal_carry_no_control_sequences() -> None:
    record = TaskRecord(
        Task("grok:9", T0, "a\x1b]52;c;ZXZpbA==\x07b\x9b31mc\u202ed"),
        TaskResult(State.SUCCEEDED, "completed", "https://v/9", checked_at=T0),
    )
    for fmt in ("csv", "md", "json"):
        text = export([record], fmt)
        for hidden in ("\x1b", "\x9b", "\u202e"):
            assert hidden not in text, fmt
        assert "\x07" not in text, fmt
    data = json.loads(export([record], "json"))
    assert data[0]["label"] == record.task.label  # JSON escapes them: the data is whole


def test_an_export_needs_a_file_name_and_leaves_no_temp_file(tmp_path: Path) -> None:
    for where in ("", ".", "/", str(tmp_path) + "/"):
        with pytest.raises(IsADirectoryError):
            write_export(where, "x")
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        write_export(tmp_path / "dir", "x")
    assert write_export(tmp_path / "a" / "out.csv", "x\n").read_text() == "x\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "dir", "out.csv"]


# --------------------------------------------------------------------------- notifications


def test_terminal_notifications_by_terminal() -> None:
    assert terminal_style({"TERM_PROGRAM": "iTerm.app"}) == "osc9"
    assert terminal_style({"TERM": "xterm-kitty"}) == "osc9"
    assert terminal_style({"TERM_PROGRAM": "ghostty"}) == "osc777"
    assert terminal_style({"TERM": "foot"}) == "osc777"
    assert terminal_style({"TERM": "xterm-256color"}) is None
    # inside tmux: the outer terminal's own variables
    tmux = {"TERM": "tmux-256color", "TERM_PROGRAM": "tmux", "TMUX": "/tmp/tmux-1/default,1,0"}
    assert terminal_style(tmux) is None
    assert terminal_style({**tmux, "KITTY_WINDOW_ID": "3"}) == "osc9"
    assert terminal_style({**tmux, "LC_TERMINAL": "iTerm2"}) == "osc9"
    assert terminal_style({**tmux, "GHOSTTY_RESOURCES_DIR": "/usr/share/ghostty"}) == "osc777"


def test_notification_sequences_carry_no_control_characters() -> None:
    evil = "done\x07\x1b]52;c;ZXZpbA==\x07;rm -rf"
    seq = desktop_sequence("vidwatch", evil, "osc9")
    assert seq.startswith("\x1b]9;")
    assert seq.endswith("\x07")
    assert seq.count("\x07") == 1
    assert seq.count("\x1b") == 1
    assert "ZXZpbA==" not in seq  # the embedded OSC 52 went with its ESC
    seq777 = desktop_sequence("title;x", "body", "osc777")
    assert seq777 == "\x1b]777;notify;title x;body\x07"
    wrapped = desktop_sequence("t", "b", "osc9", in_tmux=True)
    assert wrapped.startswith("\x1bPtmux;\x1b\x1b]9;")
    assert wrapped.endswith("\x1b\\")
    assert payload("a\nb") == "a b"


def test_notify_send_when_installed() -> None:
    calls: list[list[str]] = []

    def run(argv: object) -> int:
        calls.append(list(argv))  # type: ignore[call-overload]
        return 0

    assert notify_send("vidwatch", "3 done", which=lambda n: f"/usr/bin/{n}", run=run)
    assert calls == [["notify-send", "--app-name=vidwatch", "--", "vidwatch", "3 done"]]
    assert not notify_send("vidwatch", "x", which=lambda n: None, run=run)


# --------------------------------------------------------------------------- views


def test_the_view_round_trips_and_a_broken_file_is_the_default(tmp_path: Path) -> None:
    path = tmp_path / "view.toml"
    assert load_view(path) == View()
    view = View("state:failed age:<1h", "state", frozenset({"checked", "next"}))
    save_view(path, view)
    assert load_view(path) == view
    assert path.read_text(encoding="utf-8").startswith("# Written by vidwatch")
    path.write_text("[view\nbroken", encoding="utf-8")
    assert load_view(path) == View()
    path.write_text('[view]\nfilter = 5\nhidden_columns = "x"\n', encoding="utf-8")
    assert load_view(path) == View()
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert load_view(path) == View()  # nested too deep for the parser: still the default
    path.write_bytes(b"[view]\n" + b"#" * 100_000)
    assert load_view(path) == View()
    save_view(path, View("cow \ud800", "state"))  # a lone surrogate from a paste
    assert load_view(path).filter == "cow ?"
