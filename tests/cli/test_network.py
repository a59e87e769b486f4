"""poll, wait and check: what they say and how they exit when the server fails, refuses
the key, or answers out of order. A fake client plays the server; two tests use a real
loopback port (a closed one, and the simulator)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import cast

import httpx
import pytest
from vidwatch.cli import (
    EXIT_FAILED,
    EXIT_KEY,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    main,
)
from vidwatch.cli.network import CHECK_ID, watch_session
from vidwatch.cli.offline import load
from vidwatch.cli.output import Context
from vidwatch.core.clients import billing_client_for
from vidwatch.core.config import Paths
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    NetworkError,
    NotFound,
    Ok,
    Outcome,
    RateLimited,
    ServerError,
)
from vidwatch.core.model.records import State, Task, TaskRecord, TaskRequest, TaskResult, utcnow
from vidwatch.core.polling.budget import Policy
from vidwatch.core.store.task_file import TaskStore
from vidwatch.simulator.serve import SimulatorThread
from vidwatch.simulator.server import Simulator

from tests.cli.test_cli import Run
from tests.support.schedule import assert_even_intervals, assert_first_round_fair, drive
from tests.support.waits import eventually

KEY = "sk-test-0123456789"
REFUSED = NetworkError(
    "ClientConnectorError: Cannot connect to host api.quickrouter.ai:443 ssl:default "
    "[Connect call failed ('203.0.113.5', 443)]"
)
Answer = Callable[[str], Awaitable[Outcome]]


class FakeClient:
    """Answers every query with ``answer(task_id)``; counts what it was asked."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.asked: list[str] = []

    async def __aenter__(self) -> FakeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def query(self, task_id: str) -> Outcome:
        self.asked.append(task_id)
        return await self.answer(task_id)


def always(outcome: Outcome) -> Answer:
    async def answer(task_id: str) -> Outcome:
        return outcome

    return answer


def ok(state: State = State.RUNNING, url: str | None = None) -> Ok:
    status = {State.RUNNING: "processing", State.SUCCEEDED: "completed"}[state]
    return Ok(TaskResult(state, status, video_url=url, checked_at=utcnow()))


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("QUICKROUTER_API_KEY", KEY)
    return Run(tmp_path)


def serve(monkeypatch: pytest.MonkeyPatch, answer: Answer) -> FakeClient:
    client = FakeClient(answer)
    monkeypatch.setattr("vidwatch.cli.network.make_client", lambda config: client)
    not_offered = httpx.MockTransport(lambda request: httpx.Response(404))
    monkeypatch.setattr(
        "vidwatch.cli.money.make_billing",
        lambda config: billing_client_for(config, transport=not_offered),
    )
    return client


def test_poll_where_every_request_failed_exits_5_and_says_so_plainly(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("add", "grok:1", "grok:2")
    serve(monkeypatch, always(REFUSED))
    code, out, err = run("poll")
    assert code == EXIT_UNREACHABLE
    text = out + err
    assert "cannot reach api.quickrouter.ai: the connection was refused" in out
    assert "no task could be checked" in err
    for raw in ("ssl:default", "ClientConnectorError", "will retry", "Connect call"):
        assert raw not in text
    stored = json.loads(run("list", "--json")[1])
    assert {d["error"] for d in stored} == {
        "cannot reach api.quickrouter.ai: the connection was refused"
    }


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        (NetworkError("no answer in time", timeout=True), "no answer from api.quickrouter.ai"),
        (ServerError(502, "Bad gateway"), "api.quickrouter.ai failed to answer (HTTP 502)"),
        (RateLimited(30.0), "limiting requests (HTTP 429); it asked to wait 30 s"),
    ],
)
def test_poll_says_each_failure_without_a_promise_to_retry(
    run: Run, monkeypatch: pytest.MonkeyPatch, outcome: Outcome, said: str
) -> None:
    run("add", "grok:1")
    serve(monkeypatch, always(outcome))
    code, out, err = run("poll")
    assert code == EXIT_UNREACHABLE
    assert said in out
    assert "will retry" not in out + err


def test_poll_where_some_requests_failed_exits_1(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    run("add", "grok:1", "grok:2")

    async def answer(task_id: str) -> Outcome:
        return ok() if task_id == "grok:1" else REFUSED

    serve(monkeypatch, answer)
    code, _, err = run("poll")
    assert code == EXIT_FAILED
    assert "1 task of 2 could not be checked" in err


def test_poll_of_an_unreachable_port_on_loopback(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real client, a real refused connection: nothing of the client's own words."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("QUICKROUTER_BASE_URL", f"http://127.0.0.1:{port}")
    run("add", "grok:1")
    code, out, err = run("poll")
    assert code == EXIT_UNREACHABLE
    assert f"cannot reach 127.0.0.1:{port}: the connection was refused" in out
    assert "ssl:default" not in out + err
    assert "will retry" not in out + err


def test_poll_prints_in_the_order_of_list(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first task's answer comes last; the output still follows the list."""
    run("add", "grok:a", "grok:b", "grok:c")
    answered: list[str] = []
    events: dict[int, asyncio.Event] = {}

    async def answer(task_id: str) -> Outcome:
        last_came = events.setdefault(id(asyncio.get_running_loop()), asyncio.Event())
        if task_id == "grok:a":
            await last_came.wait()
        elif task_id == "grok:c":
            last_came.set()
        answered.append(task_id)
        return ok()

    serve(monkeypatch, answer)
    code, out, _ = run("poll", "--json")
    assert code == EXIT_OK
    assert answered[-1] == "grok:a"
    assert [d["id"] for d in json.loads(out)] == ["grok:a", "grok:b", "grok:c"]
    answered.clear()
    events.clear()
    code, out, _ = run("poll")
    assert answered[-1] == "grok:a"
    rows = [re.split(r" {2,}", line)[1] for line in out.splitlines()[1:]]  # STATE  TASK…
    assert rows == ["grok:a", "grok:b", "grok:c"]


def finished(run: Run, task_id: str) -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    store = TaskStore(run.tasks)
    store.add([Task(task_id, now)])
    result = TaskResult(State.SUCCEEDED, "completed", "https://v.example/a.mp4", checked_at=now)
    store.merge_results({task_id: result})


def test_a_wrong_key_poll_of_a_finished_task_is_told_once_and_not_kept(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished(run, "grok:done")
    serve(monkeypatch, always(AuthRejected(401, "Invalid API key")))
    code, out, err = run("poll", "grok:done")
    assert code == EXIT_KEY
    assert (out + err).count("HTTP 401") == 1
    stored = json.loads(run("list", "--json")[1])[0]
    assert stored["error"] is None
    assert stored["video_url"] == "https://v.example/a.mp4"


def test_nothing_to_poll_says_so(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    finished(run, "grok:done")
    client = serve(monkeypatch, always(ok()))
    code, out, _ = run("poll")
    assert code == EXIT_OK
    assert "Nothing to poll: every watched task has finished" in out
    assert client.asked == []


def test_wait_with_a_wrong_key_prints_the_401_once(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, always(AuthRejected(401, "Invalid API key")))
    code, out, err = run("wait", "grok:1", "grok:2", "--timeout", "30")
    assert code == EXIT_KEY
    assert (out + err).count("HTTP 401") == 1
    assert all(d["error"] is None for d in json.loads(run("list", "--json")[1]))


def test_wait_prints_only_usable_urls(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    urls = {"grok:1": "https://v.example/a.mp4", "grok:2": "https://v.example@evil.example/b"}

    async def answer(task_id: str) -> Outcome:
        return ok(State.SUCCEEDED, urls[task_id])

    serve(monkeypatch, answer)
    code, out, err = run("wait", "grok:1", "grok:2", "--timeout", "30")
    assert code == EXIT_FAILED
    assert out == "grok:1\thttps://v.example/a.mp4\n"
    assert "grok:2: finished, but its URL is not usable" in err
    assert "evil.example" not in out


def fast_polling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A config that polls every 0.05 s; state changes saved every 0.01 s."""
    monkeypatch.setattr("vidwatch.cli.network.SAVE_EVERY", 0.01)
    config = tmp_path / "config.toml"
    config.write_text(
        "[polling]\nmin_interval = 0.05\nmax_interval = 0.05\nmax_requests_per_second = 1000\n",
        encoding="utf-8",
    )
    return str(config)


def stored_state(run: Run, task_id: str) -> State | None:
    record = TaskStore(run.tasks).load().records.get(task_id)
    return record.result.state if record is not None else None


def test_wait_saves_each_state_change_while_it_still_waits(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A killed wait loses at most the last second: grok:1's end reaches the file while
    grok:2 is still awaited (grok:2 finishes only once the file shows grok:1 done)."""
    config = fast_polling(tmp_path, monkeypatch)

    async def answer(task_id: str) -> Outcome:
        if task_id == "grok:1" or stored_state(run, "grok:1") is State.SUCCEEDED:
            return ok(State.SUCCEEDED, f"https://v.example/{task_id[-1]}.mp4")
        return ok()

    serve(monkeypatch, answer)
    code, out, _ = run("--config", config, "wait", "grok:1", "grok:2", "--timeout", "20")
    assert code == EXIT_OK
    assert out == "grok:1\thttps://v.example/1.mp4\ngrok:2\thttps://v.example/2.mp4\n"


def test_wait_writes_the_file_when_a_state_changes_not_at_every_answer(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Waiting on one job in a list of 10,000 must not rewrite the whole file each time
    the job is asked about and is still running."""
    config = fast_polling(tmp_path, monkeypatch)
    signatures: list[object] = []

    async def answer(task_id: str) -> Outcome:
        if signatures:  # the first answer (running) is in the file before the next
            await eventually(lambda: stored_state(run, task_id) is State.RUNNING)
        signatures.append(TaskStore(run.tasks).signature())
        return ok() if len(signatures) < 6 else ok(State.SUCCEEDED, "https://v.example/a.mp4")

    serve(monkeypatch, answer)
    code, _, _ = run("--config", config, "wait", "grok:1", "--timeout", "20")
    assert code == EXIT_OK
    assert len(set(signatures[1:])) == 1  # still running four times: not written again
    assert stored_state(run, "grok:1") is State.SUCCEEDED


def test_wait_still_waits_for_a_task_removed_elsewhere_and_does_not_write_it_back(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = fast_polling(tmp_path, monkeypatch)
    removed: list[str] = []

    async def answer(task_id: str) -> Outcome:
        if task_id == "grok:1" and not removed:
            TaskStore(run.tasks).remove([task_id])  # vidwatch remove, in another terminal
            removed.append(task_id)
            return ok()
        return ok(State.SUCCEEDED, f"https://v.example/{task_id[-1]}.mp4")

    serve(monkeypatch, answer)
    code, out, _ = run("--config", config, "wait", "grok:1", "grok:2", "--timeout", "20")
    assert code == EXIT_OK
    assert out == "grok:2\thttps://v.example/2.mp4\ngrok:1\thttps://v.example/1.mp4\n"  # as done
    assert list(TaskStore(run.tasks).load().records) == ["grok:2"]


# --------------------------------------------------------------------------- check


@pytest.mark.parametrize(
    ("outcome", "code", "server", "key"),
    [
        (NotFound(404), EXIT_OK, "reachable", "accepted"),
        (ok(), EXIT_OK, "reachable", "accepted"),
        (AuthRejected(401, "Invalid API key"), EXIT_KEY, "reachable", "rejected"),
        (AuthRejected(403), EXIT_KEY, "reachable", "rejected"),
        (REFUSED, EXIT_UNREACHABLE, "cannot reach", "not checked"),
        (ServerError(503), EXIT_UNREACHABLE, "failed to answer (HTTP 503)", "not checked"),
    ],
)
def test_check_asks_once_and_tells_the_three_cases_apart(
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    outcome: Outcome,
    code: int,
    server: str,
    key: str,
) -> None:
    client = serve(monkeypatch, always(outcome))
    got, out, _ = run("check")
    assert got == code
    assert client.asked == [CHECK_ID]
    lines = dict(line.split(maxsplit=1) for line in out.splitlines())
    assert server in lines["server"]
    assert key in lines["API"]
    assert KEY not in out


def test_check_without_a_key_still_says_whether_the_server_answers(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUICKROUTER_API_KEY")
    serve(monkeypatch, always(AuthRejected(401)))
    code, out, _ = run("check")
    assert code == EXIT_KEY
    assert "server    reachable" in out
    assert "API key   not set" in out


def test_check_offline_sends_nothing(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    client = serve(monkeypatch, always(AuthRejected(401)))
    code, out, _ = run("check", "--offline")
    assert code == EXIT_OK
    assert "not checked (--offline)" in out
    monkeypatch.delenv("QUICKROUTER_API_KEY")
    assert run("check", "--offline")[0] == EXIT_KEY
    assert client.asked == []


def test_check_against_the_simulator_tells_a_good_key_from_a_wrong_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = Simulator(jobs=0, seed=3)
    with SimulatorThread(sim) as thread:
        monkeypatch.setenv("QUICKROUTER_BASE_URL", thread.base_url)
        results = {}
        for name, key in (("good", sim.api_key), ("wrong", "sk-wrong-0123456789")):
            monkeypatch.setenv("QUICKROUTER_API_KEY", key)
            out = io.StringIO()
            code = main(["--tasks-file", str(tmp_path / "t.toml"), "check"], out=out)
            results[name] = (code, out.getvalue())
    assert results["good"][0] == EXIT_OK
    assert "API key   accepted" in results["good"][1]
    assert results["wrong"][0] == EXIT_KEY
    assert "API key   rejected" in results["wrong"][1]
    assert "sk-wrong-0123456789" not in results["wrong"][1]


def test_wait_keeps_the_fact_that_a_task_was_given_up(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record holds the poller's words for the answer, the fact of giving up
    included: what the CLI stores is what the dashboard stores."""
    run("add", "grok:never-made")
    serve(monkeypatch, always(NotFound(400, "task_not_exist")))
    code, _, err = run("wait", "grok:never-made", "--timeout", "600")
    assert code == EXIT_FAILED
    assert "given up" in err
    stored = json.loads(run("list", "--json")[1])
    assert stored[0]["problem"] == "not_found"
    assert "(given up: not found 3 times)" in stored[0]["error"]


@pytest.mark.parametrize("answered", [False, True], ids=["new", "checked-last-run"])
def test_wait_on_many_tasks_asks_each_once_in_turn_then_evenly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answered: bool
) -> None:
    """`wait --timeout 600` on 1,000 unfinished tasks with a budget of 25 req/s: the
    scheduler of the Session that `wait` builds asks each task once within N / rate, in
    list order, none twice before all once, then re-asks identical tasks evenly. The
    scheduler is driven on a simulated clock (nothing is sent, nothing sleeps)."""
    monkeypatch.setenv("QUICKROUTER_API_KEY", KEY)
    count, rate = 1_000, 25.0
    ids = [f"grok:{i}" for i in range(count)]
    queued = Ok(TaskResult(State.QUEUED, "queued", checked_at=utcnow()))
    store = TaskStore(tmp_path / "tasks.toml")
    store.add([Task(task_id, utcnow()) for task_id in ids])
    if answered:  # as left by an earlier run
        store.merge_results(dict.fromkeys(ids, queued.result))
    paths = Paths.discover(tasks_file=tmp_path / "tasks.toml", config_file=tmp_path / "c.toml")
    ctx = Context(paths, out=io.StringIO(), err=io.StringIO(), stdin=io.StringIO())
    policy = Policy(min_interval=3, max_interval=60, concurrency=8, max_requests_per_second=rate)
    config = replace(ctx.config(), policy=policy)
    records = load(ctx)
    client = cast(QueryClient, FakeClient(always(queued)))  # never asked: the test drives
    session = watch_session(ctx, config, client, [records[i] for i in ids])
    sched = session.poller.scheduler
    start = session.poller.clock()
    sched.check_by(start + 600.0, start)  # what wait_for does with --timeout
    asked = drive(sched, start + 3 * count / rate + 5.0, lambda task, now: queued, start=start)
    assert_first_round_fair(asked, ids, start, rate)
    assert_even_intervals(asked, ids)


# --------------------------------------------------------------------------- wait (issue 21)


def wait_run(run: Run, *argv: str, out: io.StringIO) -> tuple[int, str]:
    """``vidwatch wait`` with a stdout the fake server can read while it runs."""
    err = io.StringIO()
    code = main(["--tasks-file", str(run.tasks), *argv], out=out, err=err, stdin=io.StringIO())
    return code, err.getvalue()


def test_wait_prints_each_line_as_its_job_finishes(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """grok:c finishes first, and grok:a finishes only once grok:c's line is on stdout,
    grok:b once grok:a's is: the lines come as the jobs finish, in that order."""
    config = fast_polling(tmp_path, monkeypatch)
    out = io.StringIO()
    after = {"grok:a": "grok:c\t", "grok:b": "grok:a\t"}

    async def answer(task_id: str) -> Outcome:
        needed = after.get(task_id)
        if needed is None or needed in out.getvalue():
            return ok(State.SUCCEEDED, f"https://v.example/{task_id[-1]}.mp4")
        return ok()

    serve(monkeypatch, answer)
    code, err = wait_run(
        run, "--config", config, "wait", "grok:a", "grok:b", "grok:c", "--timeout", "20", out=out
    )
    assert code == EXIT_OK, err
    assert [line.split("\t")[0] for line in out.getvalue().splitlines()] == [
        "grok:c",
        "grok:a",
        "grok:b",
    ]


def test_wait_ordered_keeps_the_order_of_the_ids(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = fast_polling(tmp_path, monkeypatch)
    after = {"grok:a": "grok:b", "grok:b": "grok:c"}  # they finish c, b, a

    async def answer(task_id: str) -> Outcome:
        needed = after.get(task_id)
        if needed is None or stored_state(run, needed) is State.SUCCEEDED:
            return ok(State.SUCCEEDED, f"https://v.example/{task_id[-1]}.mp4")
        return ok()

    serve(monkeypatch, answer)
    argv = ("--config", config, "wait", "grok:a", "grok:b", "grok:c", "--timeout", "20")
    code, out, err = run(*argv, "--ordered")
    assert code == EXIT_OK, err
    assert out == "".join(f"grok:{n}\thttps://v.example/{n}.mp4\n" for n in "abc")


def test_wait_without_ids_waits_for_every_unfinished_task(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished(run, "grok:done")

    async def answer(task_id: str) -> Outcome:
        return ok(State.SUCCEEDED, f"https://v.example/{task_id[-1]}.mp4")

    client = serve(monkeypatch, answer)
    for argv, ids in ((("wait",), ("grok:1", "grok:2")), (("wait", "--all"), ("grok:3",))):
        run("add", *ids)
        code, out, err = run(*argv, "--timeout", "20")
        assert code == EXIT_OK, err
        assert sorted(out.splitlines()) == [f"{i}\thttps://v.example/{i[-1]}.mp4" for i in ids]
        assert set(client.asked) == set(ids)  # the finished ones are not waited for
        client.asked.clear()
    code, _, err = run("wait")
    assert code == EXIT_OK
    assert "Nothing to wait for" in err
    code, _, err = run("wait", "--all", "grok:1")
    assert code == EXIT_USAGE
    assert "--all" in err


def test_wait_names_the_jobs_still_unfinished_at_the_timeout(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def answer(task_id: str) -> Outcome:
        if task_id == "grok:done":
            return ok(State.SUCCEEDED, "https://v.example/d.mp4")
        return ok() if task_id == "grok:slow" else ServerError(502, "Bad gateway")

    serve(monkeypatch, answer)
    code, out, err = run("wait", "grok:done", "grok:slow", "grok:broken", "--timeout", "0.5")
    assert code == EXIT_TIMEOUT
    assert out == "grok:done\thttps://v.example/d.mp4\n"
    assert "timed out after 0.5 s; 2 jobs not finished (still watched):" in err
    named = {line.split()[0]: line for line in err.splitlines() if line.startswith("  ")}
    assert set(named) == {"grok:slow", "grok:broken"}
    assert "▶ running" in named["grok:slow"]
    assert "last problem: api.quickrouter.ai failed to answer (HTTP 502)" in named["grok:broken"]
    # a column of states, whatever the IDs' lengths
    assert named["grok:slow"].index("▶") == named["grok:broken"].index("!")


# --------------------------------------------------------------------------- balance


def test_check_and_balance_against_the_simulator_with_and_without_billing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = Simulator(jobs=0, seed=4)
    args = ["--tasks-file", str(tmp_path / "t.toml")]
    with SimulatorThread(sim) as thread:
        monkeypatch.setenv("QUICKROUTER_BASE_URL", thread.base_url)
        monkeypatch.setenv("QUICKROUTER_API_KEY", sim.api_key)
        said: dict[str, tuple[int, str]] = {}
        for name, command in (
            ("check", ["check"]),
            ("balance", ["balance"]),
            ("json", ["balance", "--json"]),
        ):
            out = io.StringIO()
            said[name] = (main([*args, *command], out=out), out.getvalue())
        sim.billing.offered = False
        out = io.StringIO()
        said["none"] = (main([*args, "balance", "--json"], out=out), out.getvalue())
        out = io.StringIO()
        said["check-none"] = (main([*args, "check"], out=out), out.getvalue())
    assert said["check"][0] == EXIT_OK
    assert "balance   31.20 USD (from /api/usage/token)" in said["check"][1]
    assert said["balance"] == (EXIT_OK, said["balance"][1])
    assert "unit      USD (500,000 quota a unit, from the site)" in said["balance"][1]
    shown = json.loads(said["json"][1])
    assert Decimal(shown["balance"]) == Decimal("31.20")
    assert shown["unit"] == "USD"
    none = json.loads(said["none"][1])
    assert said["none"][0] == EXIT_OK  # not offered is no error
    assert none["offered"] is False
    assert none["balance"] is None
    assert said["check-none"][0] == EXIT_OK
    assert "balance   not offered by this gateway" in said["check-none"][1]
    for _, text in said.values():
        assert sim.api_key not in text


def test_balance_stores_what_each_job_cost_and_flags_failed_but_charged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = Simulator(jobs=0, seed=12)
    refunded = sim.add_job(model="sora-2", fails=True, queue_time=0, duration=0)
    charged = sim.add_job(model="sora-2", fails=True, queue_time=0, duration=0)
    fine = sim.add_job(model="grok", fails=False)
    sim.add_job(model="veo3.1-fast")  # made elsewhere: kept apart
    tasks = tmp_path / "t.toml"
    failed = TaskResult(State.FAILED, "failed", checked_at=utcnow())
    TaskStore(tasks).replace_all(
        [
            TaskRecord(
                Task(
                    i,
                    sim.wall_time(sim.jobs[i].created),
                    request=TaskRequest(sim.jobs[i].model, "p"),
                ),
                failed if i != fine else TaskResult(),
            )
            for i in (refunded, charged, fine)
        ]
    )
    args = ["--tasks-file", str(tasks)]
    with SimulatorThread(sim) as thread:
        monkeypatch.setenv("QUICKROUTER_BASE_URL", thread.base_url)
        monkeypatch.setenv("QUICKROUTER_API_KEY", sim.api_key)
        out = io.StringIO()
        assert main([*args, "balance"], out=out) == EXIT_OK
    said = out.getvalue()
    assert "costs     3 jobs newly costed (2 by task id); 1 charge for no watched job" in said
    out = io.StringIO()
    main([*args, "list", "--json"], out=out)
    costs = {row["id"]: row["cost"] for row in json.loads(out.getvalue())}
    assert costs[charged]["amount"] == "0.4"
    assert costs[charged]["unit"] == "USD"
    assert costs[charged]["source"] == "task id"
    assert costs[refunded]["refunded"] == costs[refunded]["charged"]
    assert costs[fine]["source"] == "model and time"
    out = io.StringIO()
    main([*args, "list", "--json", "--filter", "charged:failed"], out=out)
    assert [row["id"] for row in json.loads(out.getvalue())] == [charged]
    assert sim.api_key not in (tasks.with_name("t.charges.json")).read_text()


def test_a_gateway_without_billing_is_said_in_the_log_by_check_and_balance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Not offered" is said by ``check`` and ``balance`` and kept in the log (as the
    dashboard's keeper keeps it), without the key."""
    sim = Simulator(jobs=0, seed=4)
    sim.billing.offered = False
    args = ["--tasks-file", str(tmp_path / "t.toml")]
    with SimulatorThread(sim) as thread:
        monkeypatch.setenv("QUICKROUTER_BASE_URL", thread.base_url)
        monkeypatch.setenv("QUICKROUTER_API_KEY", sim.api_key)
        out = io.StringIO()
        assert main([*args, "paths"], out=out) == EXIT_OK
        log_file = Path(
            next(ln for ln in out.getvalue().splitlines() if ln.startswith("log")).split()[1]
        )
        assert main([*args, "balance"], out=io.StringIO()) == EXIT_OK
        assert main([*args, "check"], out=io.StringIO()) == EXIT_OK
    logged = log_file.read_text(encoding="utf-8")
    assert logged.count("the gateway offers no balance to this key") == 2
    assert logged.count("the gateway offers no request log to this key") == 1
    assert sim.api_key not in logged
