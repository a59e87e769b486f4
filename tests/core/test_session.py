"""The session: one in-memory list kept in step with the task file and other writers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from vidwatch.core.changes import Change, Examined, changed_ids
from vidwatch.core.gateway.outcomes import AuthRejected, Ok, Outcome
from vidwatch.core.model.records import State, Task, TaskResult, VideoFacts
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.poller import Poller
from vidwatch.core.session import Session
from vidwatch.core.store.task_file import TaskStore

from tests.support.waits import eventually

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def offline_session(path: Path) -> Session:
    return Session(TaskStore(path), Poller(None, Policy()))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tasks.toml"


def test_load_add_remove_relabel_and_save(path: Path) -> None:
    TaskStore(path).add([Task("a", T0, "first")])
    session = offline_session(path)
    assert session.load() is None
    assert list(session.records) == ["a"]

    report = session.add(["b", "a", "c", "b"], label="batch", now=T0)
    assert report.added == ("b", "c")
    assert report.skipped == ("a",)
    assert session.dirty
    assert session.relabel("c", "renamed") is not None
    assert session.relabel("nope", "x") is None
    assert session.remove(["a", "zzz"]) == ["a"]
    session.save()
    assert not session.dirty

    stored = TaskStore(path).load().records
    assert list(stored) == ["b", "c"]
    assert stored["b"].task.label == "batch"
    assert stored["c"].task.label == "renamed"


def test_tasks_added_by_another_process_appear_and_ours_are_kept(path: Path) -> None:
    session = offline_session(path)
    session.load()
    session.add(["mine"], now=T0)
    TaskStore(path).add([Task("theirs", T0)])  # another terminal: vidwatch add theirs
    change = session.save()
    assert [r.id for r in change.added] == ["theirs"]
    assert set(session.records) == {"mine", "theirs"}
    assert set(TaskStore(path).load().records) == {"mine", "theirs"}


def test_a_download_noted_by_another_process_is_kept_and_adopted(path: Path) -> None:
    """`vidwatch download` while the dashboard is open: the dashboard's next save (of a
    relabel, a new result) must not drop the file it noted, and the dashboard shows it."""
    TaskStore(path).add([Task("a", T0, "cow"), Task("b", T0)])
    session = offline_session(path)
    session.load()
    TaskStore(path).set_saved({"a": "/videos/cow.mp4"})  # the other terminal
    session.relabel("a", "cow v2")
    session.relabel("b", "bee")
    change = session.save()
    stored = TaskStore(path).load().records
    assert stored["a"].task.saved_to == "/videos/cow.mp4"
    assert stored["a"].task.label == "cow v2"
    assert [r.id for r in change.updated] == ["a"]
    assert session.records["a"].task.saved_to == "/videos/cow.mp4"
    assert session.records["a"].task.label == "cow v2"
    assert session.records["b"].task.saved_to is None


def test_a_file_downloaded_again_elsewhere_replaces_a_deleted_one(
    path: Path, tmp_path: Path
) -> None:
    old, new = tmp_path / "old.mp4", tmp_path / "new.mp4"
    TaskStore(path).add([Task("a", T0)])
    TaskStore(path).set_saved({"a": str(old)})
    session = offline_session(path)
    session.load()  # the dashboard knows old.mp4 ...
    new.write_bytes(b"video")  # ... which was deleted; vidwatch download fetched new.mp4
    TaskStore(path).set_saved({"a": str(new)})
    session.relabel("a", "renamed")
    change = session.save()
    assert TaskStore(path).load().records["a"].task.saved_to == str(new)
    assert session.records["a"].task.saved_to == str(new)
    assert [r.id for r in change.updated] == ["a"]
    old.write_bytes(b"mine")  # both there: our own note stands
    session.set_saved("a", str(old))
    session.save()
    assert TaskStore(path).load().records["a"].task.saved_to == str(old)


async def test_the_watcher_adopts_a_download_made_elsewhere(path: Path) -> None:
    TaskStore(path).add([Task("a", T0)])
    session = offline_session(path)
    session.load()
    TaskStore(path).set_saved({"a": "/videos/a.mp4"})
    change = await session.check_disk()
    assert [r.task.saved_to for r in change.updated] == ["/videos/a.mp4"]
    assert session.records["a"].task.saved_to == "/videos/a.mp4"
    assert not (await session.check_disk())


def test_tasks_removed_by_another_process_are_not_written_back(path: Path) -> None:
    TaskStore(path).add([Task("a", T0), Task("b", T0)])
    session = offline_session(path)
    session.load()
    TaskStore(path).remove(["a"])  # another terminal: vidwatch remove a
    change = session.save()
    assert change.removed == ("a",)
    assert list(session.records) == ["b"]
    assert list(TaskStore(path).load().records) == ["b"]


async def test_check_disk_sees_other_writers_and_is_cheap_when_nothing_changed(
    path: Path,
) -> None:
    session = offline_session(path)
    session.load()
    assert not await session.check_disk()
    TaskStore(path).add([Task("x", T0)])
    change = await session.check_disk()
    assert [r.id for r in change.added] == ["x"]
    assert "x" in session.records
    assert not await session.check_disk()


async def test_a_task_removed_while_a_save_runs_stays_removed(path: Path) -> None:
    TaskStore(path).add([Task("a", T0), Task("b", T0)])
    session = offline_session(path)
    session.load()
    session.mark_dirty()
    job = session.snapshot()  # the save starts with "a" still in the list
    session.remove(["a"])  # the user removes it while the file work runs
    on_disk = await asyncio.to_thread(session.write, job)
    assert "a" in on_disk.records
    change = session.integrate(on_disk, job)
    assert change.added == ()
    assert "a" not in session.records
    await session.save_async()
    assert list(TaskStore(path).load().records) == ["b"]


async def test_results_reach_the_file(path: Path) -> None:
    TaskStore(path).add([Task("a", T0)])
    session = offline_session(path)
    session.load()
    done = TaskResult(State.SUCCEEDED, "completed", "https://v/a.mp4", checked_at=T0)
    session.store_result("a", done)
    session.mark_dirty()
    await session.save_async()
    assert TaskStore(path).load().records["a"].result == done


async def test_an_offline_poller_polls_nothing_and_says_so(path: Path) -> None:
    session = offline_session(path)
    session.add(["a"], now=T0)
    assert session.poller.status.offline
    assert session.poller.status.label.startswith("offline")
    assert await session.poller.poll_pass() == []
    runner = asyncio.create_task(session.poller.run())
    await asyncio.sleep(0.05)  # a window in which nothing may be asked
    assert session.poller.requests_total == 0
    session.poller.stop()
    await asyncio.wait_for(runner, 2)


def test_a_corrupt_file_found_by_check_disk_is_reported(path: Path) -> None:
    session = offline_session(path)
    session.load()
    path.write_text("this is [not toml", encoding="utf-8")
    change = asyncio.run(session.check_disk())
    assert change.warning
    assert "could not be read" in change.warning
    assert list(path.parent.glob("tasks.toml.corrupt-*"))


def test_a_damaged_file_found_while_saving_loses_nothing_in_memory(path: Path) -> None:
    TaskStore(path).add([Task(i, T0) for i in "abcde"])
    session = offline_session(path)
    session.load()
    path.write_text("schema = 1\n[[tasks]\nbroken by hand", encoding="utf-8")
    session.mark_dirty()
    change = session.save()
    assert change.warning
    assert "moved to" in change.warning
    assert change.removed == ()
    assert sorted(session.records) == list("abcde")
    assert sorted(TaskStore(path).load().records) == list("abcde")  # written back whole
    assert list(path.parent.glob("tasks.toml.corrupt-*"))


async def test_a_damaged_file_found_by_the_watcher_loses_nothing_either(path: Path) -> None:
    TaskStore(path).add([Task(i, T0) for i in "abc"])
    session = offline_session(path)
    session.load()
    path.write_bytes(b"\x00\xff not toml")
    change = await session.check_disk()
    assert change.warning
    assert change.removed == ()
    assert sorted(session.records) == list("abc")
    assert session.dirty  # so the next save puts the list back
    await session.save_async()
    assert sorted(TaskStore(path).load().records) == list("abc")


def test_the_signature_is_of_the_file_that_was_read(path: Path) -> None:
    """Another process replacing the file just after a read must still look like a change."""
    TaskStore(path).add([Task("a", T0)])
    session = offline_session(path)
    loaded = session.read()
    TaskStore(path).add([Task("b", T0)])  # lands between our read and anything else
    session.adopt(loaded)
    assert session.disk_changed()
    assert "b" not in session.records
    assert [r.id for r in asyncio.run(session.check_disk()).added] == ["b"]


# ------------------------------------------------------------------ over part of the list


def told(result: TaskResult, outcome: Outcome) -> TaskResult | None:
    """As ``poll`` and ``wait`` keep an answer: a rejected key keeps nothing."""
    return None if isinstance(outcome, AuthRejected) else result


def test_a_session_over_part_of_the_list_saves_only_its_results(path: Path) -> None:
    """``vidwatch wait a b``: the tasks' labels and downloads, and every other task, stay
    as other writers left them; a task removed elsewhere is not written back."""
    store = TaskStore(path)
    store.add([Task("a", T0, "old"), Task("b", T0), Task("other", T0)])
    loaded = store.load().records
    session = Session.part(store, Poller(None, Policy()), [loaded["a"], loaded["b"]], told)
    assert list(session.records) == ["a", "b"]
    dashboard = offline_session(path)  # in another terminal, meanwhile
    assert session.partial
    assert not dashboard.partial
    dashboard.load()
    dashboard.relabel("a", "renamed")
    dashboard.set_saved("a", "/videos/a.mp4")
    dashboard.remove(["b"])
    dashboard.add(["new"], now=T0)
    dashboard.save()
    done = TaskResult(State.SUCCEEDED, "completed", "https://v/a.mp4", checked_at=T0)
    for task_id in ("a", "b"):
        session.store_result(task_id, done, Ok(done))
    assert not session.save()  # nothing of the file is adopted
    assert list(session.records) == ["a", "b"]  # and nothing of it dropped
    on_disk = TaskStore(path).load().records
    assert set(on_disk) == {"a", "other", "new"}
    assert on_disk["a"].result == done
    assert on_disk["a"].task.label == "renamed"
    assert on_disk["a"].task.saved_to == "/videos/a.mp4"


def test_a_session_over_part_of_the_list_keeps_answers_as_told(path: Path) -> None:
    store = TaskStore(path)
    store.add([Task("a", T0)])
    session = Session.part(store, Poller(None, Policy()), store.load().records.values(), told)
    before = session.records["a"]
    rejected = TaskResult(checked_at=T0, error="The API key was rejected", problem=None)
    assert session.store_result("a", rejected, AuthRejected(401)) is before  # kept as it was
    assert not session.dirty
    done = TaskResult(State.SUCCEEDED, "completed", "https://v/a.mp4", checked_at=T0)
    assert session.store_result("a", done, Ok(done)) == before.with_result(done)
    assert session.dirty


async def test_save_every_saves_when_due_until_cancelled(path: Path) -> None:
    store = TaskStore(path)
    store.add([Task("a", T0)])
    session = Session.part(store, Poller(None, Policy()), store.load().records.values(), told)
    done = TaskResult(State.SUCCEEDED, "completed", "https://v/a.mp4", checked_at=T0)
    session.store_result("a", done, Ok(done))
    asked: list[bool] = []

    def due() -> bool:
        asked.append(True)
        return len(asked) == 2  # not the first time it is asked: the second

    saver = asyncio.create_task(session.save_every(0.001, due))
    await eventually(lambda: len(asked) >= 3)
    saver.cancel()
    assert TaskStore(path).load().records["a"].result == done


FACTS = VideoFacts(1280, 720, 8.0, 24.0, "h264", "aac", 9_800_000)


def test_a_videos_facts_are_kept_and_announced_once(path: Path) -> None:
    TaskStore(path).add([Task("a", T0)])
    session = offline_session(path)
    session.load()
    heard: list[Change] = []
    session.subscribe(heard.append)
    session.set_video("a", FACTS)
    session.set_video("a", FACTS)  # known already: nothing to say
    assert [type(c) for c in heard] == [Examined]
    assert changed_ids(heard[0]) == ("a",)
    session.save()
    assert TaskStore(path).load().records["a"].task.video == FACTS


async def test_facts_read_by_another_process_are_adopted_and_never_dropped(path: Path) -> None:
    TaskStore(path).add([Task("a", T0), Task("b", T0)])
    session = offline_session(path)
    session.load()
    TaskStore(path).set_video({"a": FACTS})  # `vidwatch thumb a` in another terminal
    session.relabel("a", "cow")
    session.save()
    assert TaskStore(path).load().records["a"].task.video == FACTS
    assert session.records["a"].task.video == FACTS
    TaskStore(path).set_video({"b": FACTS})
    change = await session.check_disk()
    assert [r.id for r in change.updated] == ["b"]
    assert session.records["b"].task.video == FACTS
