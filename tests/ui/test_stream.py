"""One owner, one stream: the session owns the records, every change is one typed event,
and the screen applies them in one place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from vidwatch.core.changes import (
    Added,
    Change,
    DiskChange,
    Downloaded,
    Loaded,
    Relabeled,
    Removed,
)
from vidwatch.core.gateway.outcomes import Ok, Outcome
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.events import StatusChange, TaskUpdate
from vidwatch.core.polling.poller import Poller
from vidwatch.core.session import Session
from vidwatch.core.store.task_file import TaskStore
from vidwatch.ui.screens.main import MainScreen
from vidwatch.ui.widgets.task_table import TaskTable

from tests.support.dashboard import KEY, T0, FakeGateway, Harness, body, make_app, record
from tests.support.keeper import polled

FAST = Policy(min_interval=0.05, max_interval=0.1, concurrency=4, max_requests_per_second=500)
URL = "https://cdn.example/{}.mp4"


async def until(pilot: Pilot[None], check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


# --------------------------------------------------------------------------- the session


class Answers:
    """A query client that says every task succeeded."""

    async def query(self, task_id: str) -> Outcome:
        done = TaskResult(State.SUCCEEDED, "completed", URL.format(task_id), checked_at=T0)
        return Ok(done)


def collecting(session: Session) -> list[Change]:
    seen: list[Change] = []
    session.subscribe(seen.append)
    return seen


def test_every_edit_is_one_typed_change_in_order(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    TaskStore(path).add([Task("a", T0), Task("b", T0)])
    session = Session(TaskStore(path), Poller(None, Policy()))
    seen = collecting(session)
    session.load()
    session.add(["c"], "new", now=T0)
    session.relabel("a", "cow")
    session.set_saved("b", str(tmp_path / "b.mp4"))
    session.remove(["c"])
    TaskStore(path).add([Task("d", T0)])  # another process
    session.integrate(TaskStore(path).load())
    kinds = [type(c) for c in seen]
    assert kinds == [Loaded, Added, Relabeled, Downloaded, Removed, DiskChange]
    loaded, added, relabeled, downloaded, removed, disk = seen
    assert isinstance(loaded, Loaded)
    assert loaded.count == 2
    assert isinstance(added, Added)
    assert [r.id for r in added.records] == ["c"]
    assert isinstance(relabeled, Relabeled)
    assert relabeled.record.task.label == "cow"
    assert isinstance(downloaded, Downloaded)
    assert downloaded.record.task.saved_to == str(tmp_path / "b.mp4")
    assert isinstance(removed, Removed)
    assert removed.ids == ("c",)
    assert isinstance(disk, DiskChange)
    assert [r.id for r in disk.added] == ["d"]
    assert set(session.records) == {"a", "b", "d"}


def test_nothing_is_announced_for_edits_that_change_nothing(tmp_path: Path) -> None:
    session = Session(TaskStore(tmp_path / "tasks.toml"), Poller(None, Policy()))
    session.add(["a"], now=T0)
    seen = collecting(session)
    session.add(["a"], now=T0)  # already watched
    session.remove(["nope"])
    assert session.relabel("nope", "x") is None
    assert session.set_saved("nope", "/x.mp4") is None
    session.integrate(TaskStore(tmp_path / "tasks.toml").load())  # nothing new on disk
    assert seen == []


async def test_poll_results_reach_the_session_and_its_stream(tmp_path: Path) -> None:
    poller = Poller(Answers(), FAST)
    session = Session(TaskStore(tmp_path / "tasks.toml"), poller)
    seen = collecting(session)
    session.add(["a"], now=T0)
    await poller.poll_pass(["a"])
    updates = [c for c in seen if isinstance(c, TaskUpdate)]
    assert [u.record.id for u in updates] == ["a"]
    assert session.records["a"].result.state is State.SUCCEEDED
    assert updates[0].record is session.records["a"]  # the session's own record
    assert session.dirty
    assert poller.is_done("a")


def test_the_session_is_the_one_owner(tmp_path: Path) -> None:
    poller = Poller(None, Policy())
    assert dict(poller.records) == {}  # a poller holds no records of its own
    session = Session(TaskStore(tmp_path / "tasks.toml"), poller)
    session.add(["a"], now=T0)
    with pytest.raises(TypeError):
        session.records["b"] = TaskRecord(Task("b", T0))  # type: ignore[index]
    assert poller.records is session.records  # what it polls, read from the session
    with pytest.raises(RuntimeError):
        Session(TaskStore(tmp_path / "other.toml"), poller)  # one keeper per poller
    assert set(poller.records) == {"a"}


def test_the_poller_says_what_callers_need_without_its_scheduler() -> None:
    poller = polled(Answers(), Policy(), {"a": TaskRecord(Task("a", T0))})
    assert not poller.paused
    poller.pause()
    assert poller.paused
    assert not poller.is_done("a")
    poller.resume()
    assert not poller.paused


# --------------------------------------------------------------------------- the screen


@pytest.fixture
def one_path(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every change to the table's rows, noted; any made outside apply_changes too."""
    outside: list[str] = []
    inside = [False]
    apply = MainScreen.apply_changes

    def applying(self: MainScreen, changes: Sequence[Change]) -> None:
        inside[0] = True
        try:
            apply(self, changes)
        finally:
            inside[0] = False

    monkeypatch.setattr(MainScreen, "apply_changes", applying)
    for name in ("set_records", "upsert", "remove_rows"):
        method = getattr(TaskTable, name)

        def watched(
            self: TaskTable, *args: Any, _m: Any = method, _n: str = name, **kw: Any
        ) -> Any:
            if not inside[0]:
                outside.append(_n)
            return _m(self, *args, **kw)

        monkeypatch.setattr(TaskTable, name, watched)
    return outside


def delivered(h: Harness) -> list[type]:
    kinds: list[type] = []
    deliver = h.app._deliver

    def noting(changes: Sequence[Change]) -> None:
        kinds.extend(type(c) for c in changes)
        deliver(changes)

    h.app.feed._deliver = noting
    return kinds


def same(h: Harness) -> bool:
    return h.app.main.table.records == dict(h.app.session.records)


@pytest.mark.ui
async def test_the_screen_shows_every_kind_of_change_through_one_path(
    tmp_path: Path, one_path: list[str]
) -> None:
    gateway = FakeGateway({"grok:run": body("processing")})
    h = make_app(
        tmp_path,
        [record("grok:run", State.RUNNING), record("grok:a", State.SUCCEEDED, url=URL.format("a"))],
        key=KEY,
        gateway=gateway,
    )
    kinds = delivered(h)
    session = h.app.session
    async with h.app.run_test(size=(160, 30)) as pilot:
        table = h.app.main.table
        await until(pilot, lambda: Loaded in kinds and set(table.records) == {"grok:run", "grok:a"})
        gateway.bodies["grok:run"] = body("completed", URL.format("run"))  # a poll result
        await until(pilot, lambda: table.records["grok:run"].result.state is State.SUCCEEDED)
        session.add(["grok:new"], "fresh", now=T0)
        assert table.cursor_id == "grok:new"  # at once, and the cursor on it
        session.relabel("grok:a", "cow")
        assert table.records["grok:a"].task.label == "cow"
        session.set_saved("grok:a", str(tmp_path / "cow.mp4"))
        assert table.records["grok:a"].task.saved_to == str(tmp_path / "cow.mp4")
        session.remove(["grok:new"])
        assert "grok:new" not in table.records
        TaskStore(h.tasks).add([Task("grok:elsewhere", T0)])  # `vidwatch add` elsewhere
        await h.app.saver.watch_file()
        assert "grok:elsewhere" in table.records
        assert "added in another window" in h.last_toast()
        await pilot.press("p")  # polling paused: a status change
        await until(pilot, lambda: h.app.main.status.paused)
        await until(pilot, lambda: same(h))
    assert {Loaded, TaskUpdate, Added, Relabeled, Downloaded, Removed, DiskChange} <= set(kinds)
    assert StatusChange in kinds
    assert one_path == []  # no row changed outside MainScreen.apply_changes


@pytest.mark.ui
async def test_session_and_table_never_diverge_after_mixed_changes(tmp_path: Path) -> None:
    ids = [f"grok:{n}" for n in range(8)]
    gateway = FakeGateway({i: body("processing") for i in ids})
    h = make_app(tmp_path, [record(i, State.QUEUED) for i in ids], key=KEY, gateway=gateway)
    session = h.app.session
    other = TaskStore(h.tasks)
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: len(gateway.calls) >= 8)
        for n, task_id in enumerate(ids):  # answers change while the user edits
            gateway.bodies[task_id] = body("generating", progress=f"{n * 10}%")
        session.add(["grok:x", "grok:y"], "batch", now=T0)
        gateway.bodies["grok:x"] = body("completed", URL.format("x"))
        session.relabel(ids[0], "first")
        session.remove([ids[1], "grok:y"])
        await pilot.pause(0)
        other.add([Task("grok:z", T0, "from the CLI")])
        other.remove([ids[2]])
        other.set_saved({ids[3]: str(tmp_path / "three.mp4")})
        await h.app.saver.watch_file()
        session.relabel(ids[3], "relabelled after a download elsewhere")
        session.set_saved(ids[4], str(tmp_path / "four.mp4"))
        for task_id in [*ids, "grok:x", "grok:z"]:  # everything finishes
            gateway.bodies[task_id] = body("completed", URL.format(task_id[5:]))
        await until(pilot, lambda: all(r.result.final for r in session.records.values()))
        # Polling is over: nothing more heals a change the screen missed.
        session.relabel(ids[5], "the last word")
        session.set_saved(ids[6], str(tmp_path / "six.mp4"))
        other.remove([ids[7]])
        await h.app.saver.watch_file()
        await until(pilot, lambda: same(h))
        table = h.app.main.table.records
        assert table[ids[0]].task.label == "first"
        assert not {ids[1], ids[2], "grok:y"} & set(table)
        assert "grok:z" in table
        assert table[ids[3]].task.saved_to == str(tmp_path / "three.mp4")
        assert table[ids[3]].task.label == "relabelled after a download elsewhere"
        assert table[ids[4]].task.saved_to == str(tmp_path / "four.mp4")
        assert table[ids[5]].task.label == "the last word"
        assert table[ids[6]].task.saved_to == str(tmp_path / "six.mp4")
        assert ids[7] not in table
        counts = dict(h.app.main.counts)
        assert counts.get(State.SUCCEEDED) == len(session.records)
