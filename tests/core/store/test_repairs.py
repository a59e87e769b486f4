"""The task file as people really keep it: hand-merged with duplicate entries, or a
symbolic link into a synced folder (issue 12 items 4 and 5)."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vidwatch.cli import main
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult, Transition
from vidwatch.core.store.duplicates import merge_duplicate
from vidwatch.core.store.export import write_export
from vidwatch.core.store.format import dumps
from vidwatch.core.store.task_file import TaskStore
from vidwatch.core.store.view import View, load_view, save_view

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ID = "grok:eee6faa8-9dee-455c-aa82-02ac623adf3a"
URL = "https://cdn.example/v/cow.mp4?sig=1"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


QUEUED = TaskResult(
    State.QUEUED,
    "pending",
    checked_at=at(30),  # checked later, but not as far along
    history=(Transition(State.QUEUED, "pending", at(0)),),
)
DONE = TaskResult(
    State.SUCCEEDED,
    "completed",
    URL,
    checked_at=at(9),
    history=(
        Transition(State.QUEUED, "pending", at(0)),
        Transition(State.RUNNING, "processing", at(2)),
        Transition(State.SUCCEEDED, "completed", at(9)),
    ),
)


def write(path: Path, *records: TaskRecord) -> bytes:
    """A task file listing ``records`` as given, duplicates and all."""
    data = dumps(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))


# --------------------------------------------------------------------------- duplicates


def test_a_duplicate_entry_is_merged_said_once_and_the_original_kept(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    saved = str(tmp_path / "cow.mp4")
    Path(saved).write_bytes(b"video")
    original = write(
        path,
        TaskRecord(Task(ID, at(1)), QUEUED),
        TaskRecord(Task("veo:other", T0)),
        TaskRecord(Task(ID, T0, "cow, take 2", saved), DONE),
    )
    store = TaskStore(path)
    loaded = store.load()
    assert list(loaded.records) == [ID, "veo:other"]
    record = loaded.records[ID]
    assert record.result.state is State.SUCCEEDED  # the most advanced result
    assert record.result.video_url == URL
    assert record.task.label == "cow, take 2"
    assert record.task.saved_to == saved
    assert record.task.added_at == T0  # the earliest
    assert len(record.result.history) == 3  # the longest timeline
    # said once, with what was done and where the original is
    assert loaded.warning is not None
    assert "1 task was listed more than once" in loaded.warning
    assert "grok:" in loaded.warning
    assert store.notices == [loaded.warning]
    [backup] = backups(path)
    assert str(backup) in loaded.warning
    assert backup.read_bytes() == original
    # the file now holds the merged entry: nothing left to say next time
    again = TaskStore(path).load()
    assert again.warning is None
    assert again.records == loaded.records
    assert len(backups(path)) == 1


def test_merging_is_also_done_before_a_save_writes(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    write(path, TaskRecord(Task(ID, T0)), TaskRecord(Task(ID, T0, "label"), DONE))
    store = TaskStore(path)
    saved = store.save_records({"veo:new": TaskRecord(Task("veo:new", T0))})
    assert saved.warning is not None
    assert "listed more than once" in saved.warning
    assert saved.records[ID].result == DONE
    assert saved.records[ID].task.label == "label"
    assert len(backups(path)) == 1


def test_the_cli_says_what_was_merged(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    write(path, TaskRecord(Task(ID, T0)), TaskRecord(Task(ID, T0, "cow"), DONE))
    out, err = io.StringIO(), io.StringIO()
    main(["--tasks-file", str(path), "list"], out=out, err=err, stdin=io.StringIO())
    assert "cow" in out.getvalue()
    assert err.getvalue().count("listed more than once") == 1


def test_the_first_entry_wins_ties_and_keeps_its_label() -> None:
    first = TaskRecord(Task(ID, T0, "first"), DONE)
    second = TaskRecord(Task(ID, T0, "second"), QUEUED)
    merged = merge_duplicate(first, second)
    assert merged.task.label == "first"
    assert merged.result == DONE
    assert merge_duplicate(second, first).result == DONE  # order does not demote a result
    same = merge_duplicate(TaskRecord(Task(ID, T0, "a"), DONE), TaskRecord(Task(ID, T0), DONE))
    assert same == TaskRecord(Task(ID, T0, "a"), DONE)


def test_a_failure_is_as_final_as_a_success_and_the_later_check_decides() -> None:
    failed = TaskResult(State.FAILED, "failed", checked_at=at(20), fail_reason="nsfw")
    merged = merge_duplicate(TaskRecord(Task(ID, T0), DONE), TaskRecord(Task(ID, T0), failed))
    assert merged.result.state is State.FAILED
    # the longer timeline is kept with it
    assert merged.result.history == DONE.history


def test_a_saved_file_that_is_gone_gives_way_to_one_that_is_there(tmp_path: Path) -> None:
    there = tmp_path / "b.mp4"
    there.write_bytes(b"v")
    gone = str(tmp_path / "a.mp4")
    merged = merge_duplicate(
        TaskRecord(Task(ID, T0, saved_to=gone)), TaskRecord(Task(ID, T0, saved_to=str(there)))
    )
    assert merged.task.saved_to == str(there)


# --------------------------------------------------------------------------- symlinks


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """``data/tasks.toml`` -> ``synced/tasks.toml``."""
    (tmp_path / "synced").mkdir()
    target = tmp_path / "synced" / "tasks.toml"
    link = tmp_path / "data" / "tasks.toml"
    link.parent.mkdir()
    link.symlink_to(target)
    return link, target


def test_a_symlinked_task_file_stays_a_link(linked: tuple[Path, Path]) -> None:
    link, target = linked
    store = TaskStore(link)
    store.add([Task("grok:1", T0)])  # the target is created through the dangling link
    store.add([Task("grok:2", T0)])
    store.merge_results({"grok:1": DONE})
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert list(TaskStore(target).load().records) == ["grok:1", "grok:2"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["tasks.toml"]
    assert sorted(p.name for p in link.parent.iterdir()) == [
        "tasks.toml"
    ]  # the lock goes when released


def test_a_damaged_symlinked_file_is_set_aside_beside_its_target(
    linked: tuple[Path, Path],
) -> None:
    link, target = linked
    target.write_text("this is [[not toml", encoding="utf-8")
    loaded = TaskStore(link).load()
    assert loaded.warning is not None
    assert link.is_symlink()  # the link was not moved aside
    [backup] = backups(target)
    assert backup.read_text(encoding="utf-8") == "this is [[not toml"
    TaskStore(link).add([Task("grok:1", T0)])
    assert link.is_symlink()
    assert list(TaskStore(target).load().records) == ["grok:1"]


def test_saved_views_and_exports_write_through_links(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    view_target = tmp_path / "real" / "view.toml"
    view_link = tmp_path / "view.toml"
    view_link.symlink_to(view_target)
    save_view(view_link, View(filter="state:new", sort="state", hidden=frozenset({"ETA"})))
    assert view_link.is_symlink()
    assert load_view(view_target).filter == "state:new"
    export_target = tmp_path / "real" / "out.csv"
    export_link = tmp_path / "out.csv"
    export_link.symlink_to(export_target)
    write_export(export_link, "id\n")
    assert export_link.is_symlink()
    assert export_target.read_text() == "id\n"
