"""The task list on disk: round trips, atomic writes, damage, concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import stat
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vidwatch.core.model.records import (
    MAX_EXTRA_TEXT,
    MAX_EXTRAS,
    MAX_EXTRAS_SIZE,
    Problem,
    State,
    Task,
    TaskRecord,
    TaskResult,
)
from vidwatch.core.store.format import SCHEMA
from vidwatch.core.store.task_file import StoreError, TaskStore

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def result(status: str = "completed", minutes: int = 1, **kw: object) -> TaskResult:
    fields: dict[str, object] = {
        "state": State.SUCCEEDED if status == "completed" else State.RUNNING,
        "status": status,
        "checked_at": T0 + timedelta(minutes=minutes),
    }
    fields.update(kw)
    return TaskResult(**fields)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tasks.toml"


def test_missing_file_is_an_empty_list(path: Path) -> None:
    loaded = TaskStore(path).load()
    assert loaded.records == {}
    assert loaded.warning is None
    assert not path.exists()


def test_round_trip_keeps_every_field(path: Path) -> None:
    store = TaskStore(path)
    full = TaskResult(
        state=State.SUCCEEDED,
        status="completed",
        video_url="https://cdn.example/v.mp4?sig=1",
        enhanced_prompt="```\n一头牛在月球上\nline two\n```",
        server_id="eee6faa8",
        status_update_time=T0,
        checked_at=T0 + timedelta(seconds=5),
        error=None,
        fail_reason=None,
        progress=100.0,
    )
    store.add([Task("grok:1", T0, "cow"), Task("veo:2", T0)])
    assert store.merge_results({"grok:1": full}) == 1
    records = TaskStore(path).load().records
    assert list(records) == ["grok:1", "veo:2"]
    assert records["grok:1"].result == full
    assert records["grok:1"].task == Task("grok:1", T0, "cow")
    assert records["veo:2"].result == TaskResult()
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    assert document["schema"] == SCHEMA


def test_a_hand_edited_time_out_of_range_is_dropped_on_load(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        'schema = 1\n[[tasks]]\nid = "a"\nadded_at = 0001-01-01T00:00:00Z\n'
        '[tasks.result]\nstate = "running"\nstatus = "processing"\n'
        "status_update_time = 9999-12-31T23:59:59+09:00\nchecked_at = 2026-01-01T00:00:00Z\n",
        encoding="utf-8",
    )
    record = TaskStore(path).load().records["a"]
    assert record.result.status_update_time is None
    assert record.task.added_at.year == 1970  # shown as "long ago", never an overflow
    record.task.added_at.astimezone()
    TaskStore(path).merge_results({"a": record.result})  # and it can be written back


def test_round_trip_keeps_the_last_error_and_its_kind(path: Path) -> None:
    store = TaskStore(path)
    errored = TaskResult(
        state=State.RUNNING,
        status="processing",
        checked_at=T0,
        error="Timed out: no answer in time; will retry",
        problem=Problem.TIMEOUT,
    )
    store.add([Task("a", T0)])
    store.merge_results({"a": errored})
    assert TaskStore(path).load().records["a"].result == errored


def test_file_is_private_and_no_temp_files_are_left(path: Path) -> None:
    TaskStore(path).add([Task("a", T0)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["tasks.toml"]


def test_add_skips_duplicates_and_remove_reports_what_it_removed(path: Path) -> None:
    store = TaskStore(path)
    assert store.add([Task("a", T0), Task("b", T0)]) == (["a", "b"], [])
    assert store.add([Task("b", T0), Task("c", T0)]) == (["c"], ["b"])
    assert store.remove(["b", "zzz"]) == ["b"]
    assert list(store.load().records) == ["a", "c"]


def test_merge_results_keeps_the_newer_result_and_ignores_removed_tasks(path: Path) -> None:
    store = TaskStore(path)
    store.add([Task("a", T0)])
    assert store.merge_results({"a": result("processing", minutes=5)}) == 1
    assert store.merge_results({"a": result("completed", minutes=2)}) == 0  # older
    assert store.merge_results({"gone": result()}) == 0
    assert store.load().records["a"].result.status == "processing"
    assert "gone" not in store.load().records


def test_save_records_merges_with_what_others_wrote(path: Path) -> None:
    store = TaskStore(path)
    store.add([Task("a", T0), Task("b", T0), Task("c", T0)])
    seen = set(store.load().records)
    view = {
        "a": TaskRecord(Task("a", T0, "relabelled"), result(minutes=3)),
        "b": TaskRecord(Task("b", T0)),
        "c": TaskRecord(Task("c", T0)),
        "mine": TaskRecord(Task("mine", T0)),
    }
    other = TaskStore(path)
    other.add([Task("theirs", T0)])
    other.remove(["c"])
    saved = store.save_records(view, removed={"b"}, known_on_disk=seen)
    merged = saved.records
    assert sorted(merged) == ["a", "mine", "theirs"]
    assert merged["a"].task.label == "relabelled"
    assert merged["a"].result.status == "completed"
    assert saved.signature == store.signature()
    assert not saved.damaged
    assert sorted(store.load().records) == ["a", "mine", "theirs"]


def test_unparseable_file_is_moved_aside_with_one_clear_sentence(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("this is [not toml", encoding="utf-8")
    loaded = TaskStore(path).load()
    assert loaded.records == {}
    assert loaded.warning is not None
    assert "could not be read" in loaded.warning
    backups = list(path.parent.glob("tasks.toml.corrupt-*"))
    assert len(backups) == 1
    assert backups[0].read_text(encoding="utf-8") == "this is [not toml"
    assert str(backups[0]) in loaded.warning
    # The next add starts a fresh list; the backup stays.
    TaskStore(path).add([Task("a", T0)])
    assert list(TaskStore(path).load().records) == ["a"]
    assert backups[0].exists()


def test_binary_garbage_is_moved_aside(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe\x00garbage")
    store = TaskStore(path)
    store.add([Task("a", T0)])
    assert list(store.load().records) == ["a"]
    assert len(list(path.parent.glob("tasks.toml.corrupt-*"))) == 1


def test_bad_entries_are_dropped_but_the_original_is_kept(path: Path) -> None:
    path.parent.mkdir(parents=True)
    original = (
        "schema = 1\n"
        '[[tasks]]\nid = "good"\nadded_at = 2026-11-24T10:00:00Z\n'
        "[[tasks]]\nid = 42\n"
        '[[tasks]]\nlabel = "no id"\n'
        '[[tasks]]\nid = "also-good"\n[tasks.result]\nstatus = 7\nstate = "bogus"\n'
    )
    path.write_text(original, encoding="utf-8")
    loaded = TaskStore(path).load()
    assert list(loaded.records) == ["good", "also-good"]
    assert loaded.records["also-good"].result.state is State.UNKNOWN
    assert loaded.warning is not None
    assert "2 entries" in loaded.warning
    backups = list(path.parent.glob("tasks.toml.corrupt-*"))
    assert [b.read_text(encoding="utf-8") for b in backups] == [original]
    # The file itself was rewritten cleanly: a second load is silent.
    assert TaskStore(path).load().warning is None


def test_newer_schema_is_refused_and_left_untouched(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("schema = 99\n", encoding="utf-8")
    with pytest.raises(StoreError, match="newer vidwatch"):
        TaskStore(path).add([Task("a", T0)])
    assert path.read_text(encoding="utf-8") == "schema = 99\n"


def test_hand_edited_hostile_text_is_cleaned_on_load(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(
        'schema = 1\n[[tasks]]\nid = "a"\nlabel = "x\\u001b]52;c;Zm9v\\u0007y"\n'
        '[tasks.result]\nstatus = "done\\u001b[31m"\nenhanced_prompt = "p\\u009b2J"\n',
        encoding="utf-8",
    )
    record = TaskStore(path).load().records["a"]
    assert record.task.label == "xy"
    assert record.result.status == "done"
    assert record.result.enhanced_prompt == "p"


def test_failed_write_keeps_the_old_file_and_says_why(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TaskStore(path)
    store.add([Task("a", T0)])
    before = path.read_bytes()

    def full_disk(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("vidwatch.core.store.atomic.os.write", full_disk)
    with pytest.raises(StoreError, match=r"Cannot save the task list to .*: the disk is full"):
        store.add([Task("b", T0)])
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["tasks.toml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_folder_gives_a_clear_error(path: Path) -> None:
    store = TaskStore(path)
    store.add([Task("a", T0)])
    path.parent.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="permission denied"):
            store.add([Task("b", T0)])
        assert list(store.load().records) == ["a"]
    finally:
        path.parent.chmod(0o700)


def _add_many(path: str, prefix: str, count: int) -> None:
    store = TaskStore(Path(path))
    for n in range(count):
        store.add([Task(f"{prefix}-{n}", T0)])


@pytest.mark.e2e
def test_concurrent_writers_in_separate_processes_lose_nothing(path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(str(path), f"p{i}", 40)) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    records = TaskStore(path).load().records
    assert len(records) == 160
    assert {f"p{i}-{n}" for i in range(4) for n in range(40)} == set(records)


def test_saving_again_does_not_reparse_our_own_file(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vidwatch.core.store.format as store_module

    parses: list[int] = []
    real_loads = store_module.loads

    def counting(text: str) -> dict[str, object]:
        parses.append(len(text))
        return real_loads(text)

    monkeypatch.setattr(store_module, "loads", counting)
    store = TaskStore(path)
    store.add([Task(f"t{i}", T0) for i in range(50)])
    for _ in range(5):
        store.save_records({})  # nothing changed on disk since our own write
    assert parses == []
    TaskStore(path).add([Task("from-elsewhere", T0)])  # another process writes
    parses.clear()
    assert "from-elsewhere" in store.save_records({}).records
    assert len(parses) == 1  # the new file was read once


def test_the_file_stays_plain_toml_for_any_text(path: Path) -> None:
    tricky = 'line one\n[[tasks]]\nid = "fake"\n""" \'\'\' \\ \t tab \u200b zwsp 一头牛'
    record = TaskRecord(
        Task("grok:1", T0, label="x"),
        TaskResult(State.RUNNING, "processing", enhanced_prompt=tricky, checked_at=T0),
    )
    TaskStore(path).replace_all([record])
    document = tomllib.loads(path.read_text(encoding="utf-8"))  # the standard parser
    assert document["schema"] == SCHEMA
    assert [t["id"] for t in document["tasks"]] == ["grok:1"]
    assert document["tasks"][0]["result"]["enhanced_prompt"] == tricky


def test_a_long_list_parses_in_pieces_and_a_prompt_cannot_forge_a_task(path: Path) -> None:
    from vidwatch.core.store.format import LOAD_CHUNK

    forged = 'end of prompt\n[[tasks]]\nid = "forged"\nadded_at = 2026-01-01T00:00:00Z\n'
    records = [
        TaskRecord(
            Task(f"t{n}", T0),
            TaskResult(State.RUNNING, "processing", enhanced_prompt=forged, checked_at=T0),
        )
        for n in range(LOAD_CHUNK * 2 + 5)
    ]
    TaskStore(path).replace_all(records)
    loaded = TaskStore(path).load()
    assert loaded.warning is None
    assert list(loaded.records) == [f"t{n}" for n in range(LOAD_CHUNK * 2 + 5)]
    assert loaded.records["t7"].result.enhanced_prompt == forged
    assert tomllib.loads(path.read_text(encoding="utf-8"))["tasks"][7]["id"] == "t7"


def test_a_hand_written_list_without_a_schema_line_loads(path: Path) -> None:
    from vidwatch.core.store.format import LOAD_CHUNK

    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f'[[tasks]]\nid = "h{n}"\nadded_at = 2026-01-01T00:00:00Z\n\n'
        for n in range(LOAD_CHUNK + 3)
    )
    path.write_text(body, encoding="utf-8")
    loaded = TaskStore(path).load()
    assert loaded.warning is None
    assert len(loaded.records) == LOAD_CHUNK + 3


# --------------------------------------------------------------------------- answers


def test_a_task_stored_as_done_on_a_step_before_the_end_is_reopened_on_load(path: Path) -> None:
    """An earlier vidwatch took veo's video_generation_completed (with detail.video_url,
    the video before upscaling) for the end and stopped polling: loading it again makes it
    running, without that URL, so it is polled to the real end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        'schema = 1\n[[tasks]]\nid = "veo3.1-fast:1770350082-trii1OXZc3"\n'
        'added_at = 2026-02-06T03:54:00Z\nsaved_to = "/videos/veo [trii1OXZc3].mp4"\n'
        '[tasks.result]\nstate = "succeeded"\nstatus = "video_generation_completed"\n'
        'video_url = "https://pro.filesystem.site/cdn/20260206/before.mp4"\n'
        "checked_at = 2026-02-06T04:00:00Z\n"
        '[[tasks.result.history]]\nstate = "queued"\nstatus = "pending"\n'
        "at = 2026-02-06T03:54:00Z\n"
        '[[tasks.result.history]]\nstate = "succeeded"\nstatus = "video_generation_completed"\n'
        "at = 2026-02-06T03:58:20Z\n"
        '[[tasks]]\nid = "grok:done"\nadded_at = 2026-02-06T03:54:00Z\n'
        '[tasks.result]\nstate = "succeeded"\nstatus = "completed"\n'
        'video_url = "https://cdn.example/v.mp4"\nchecked_at = 2026-02-06T04:00:00Z\n',
        encoding="utf-8",
    )
    loaded = TaskStore(path).load()
    assert loaded.warning is None
    task = loaded.records["veo3.1-fast:1770350082-trii1OXZc3"].task
    assert task.saved_to is None  # that file is the video before upscaling: fetch the end
    veo = loaded.records["veo3.1-fast:1770350082-trii1OXZc3"].result
    assert (veo.state, veo.status, veo.video_url) == (
        State.RUNNING,
        "video_generation_completed",
        None,
    )
    assert not veo.final  # polled again (the poller and `poll` skip final results only)
    assert [t.state for t in veo.history] == [State.QUEUED, State.RUNNING]
    assert veo.ran_for() is None
    done = loaded.records["grok:done"].result  # a real end stays the end
    assert (done.state, done.video_url) == (State.SUCCEEDED, "https://cdn.example/v.mp4")


def test_an_answers_extra_fields_in_a_hand_edited_file_are_checked_on_load(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    many = "".join(f'field_{n} = "{"x" * 300}"\n' for n in range(40))
    path.write_text(
        'schema = 1\n[[tasks]]\nid = "grok:a"\nadded_at = 2026-02-06T03:54:00Z\n'
        '[tasks.result]\nstate = "succeeded"\nstatus = "completed"\n'
        'video_url = "https://cdn.example/v.mp4"\nthumbnail_url = "javascript:alert(1)"\n'
        "[tasks.result.extras]\n"
        'ratio = "1:1\\u001b]52;c;x\\u0007"\n'
        'cover_url = "file:///etc/passwd"\n'
        "nested = { a = 1 }\n"
        "listed = [1, 2]\n"
        '"bad key\\u202e" = "x"\n'
        "completed_at = 1764745713\n"
        f'long = "{"y" * 5000}"\n' + many,
        encoding="utf-8",
    )
    loaded = TaskStore(path).load()
    assert loaded.warning is None
    result = loaded.records["grok:a"].result
    assert result.thumbnail_url is None
    extras = dict(result.extras)
    assert extras["ratio"] == "1:1"
    assert extras["completed_at"] == 1764745713
    assert not {"cover_url", "nested", "listed"} & set(extras)
    assert all(key.isascii() and key.isprintable() for key in extras)
    assert extras["long"] == "y" * (MAX_EXTRA_TEXT - 1) + "…"  # cut, and says so
    assert len(extras) <= MAX_EXTRAS
    assert sum(len(k) + len(str(v)) for k, v in extras.items()) <= MAX_EXTRAS_SIZE + 8 * 16
    TaskStore(path).merge_results({"grok:a": replace(result, checked_at=T0)})  # written back
    assert dict(TaskStore(path).load().records["grok:a"].result.extras) == extras
