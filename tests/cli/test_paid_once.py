"""Paid once, for real (issue 17): the command line against a gateway that lies, repeats
itself and answers while the disk is full; requests that change nothing; copies of a
batch; single creates whose answer was lost.

In process, with a fake gateway behind the one client (``httpx.MockTransport``): each
test says what the gateway saw, and that is the proof that nothing was paid twice.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from vidwatch.cli import main
from vidwatch.core.clients import client_for
from vidwatch.core.config import Config
from vidwatch.core.store.task_file import StoreError, TaskStore

KEY = "sk-paid-once-0123456789"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Gateway:
    """Answers creates from ``answer`` (default: a fresh ID each time) and queries with
    "pending"; keeps every create body it got."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.answer: Callable[[dict[str, Any]], httpx.Response] = self.fresh

    def fresh(self, body: dict[str, Any]) -> httpx.Response:
        task_id = f"grok:{len(self.bodies):04d}-0000-4000-8000-000000000000"
        return httpx.Response(200, json={"id": task_id, "status": "pending"})

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            self.bodies.append(body)
            return self.answer(body)
        asked = request.url.params.get("id", "")
        return httpx.Response(200, json={"id": asked, "status": "pending"})

    def client(self, config: Config) -> Any:
        return client_for(config, transport=httpx.MockTransport(self.handler))


class Cli:
    def __init__(self, tmp: Path, gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp
        self.gateway = gateway
        self.tasks = tmp / "lists" / "tasks.toml"
        self.config = tmp / "config.toml"
        self.config.write_text("[create]\nconcurrency = 1\n", encoding="utf-8")
        monkeypatch.setattr("vidwatch.cli.network.make_client", gateway.client)

    def __call__(
        self, *argv: str, stdin: io.StringIO | None = None, tasks: Path | None = None
    ) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("QUICKROUTER_BASE_URL", "https://gw.example")
            patch.setenv("VIDWATCH_CONFIG", str(self.config))
            patch.setenv("QUICKROUTER_API_KEY", KEY)
            code = main(
                ["--tasks-file", str(tasks or self.tasks), *argv],
                out=out,
                err=err,
                stdin=stdin or io.StringIO(),
            )
        return code, out.getvalue(), err.getvalue()

    def stored(self, tasks: Path | None = None) -> dict[str, Any]:
        return dict(TaskStore(tasks or self.tasks).load().records)

    def batch(self, name: str, rows: list[dict[str, Any]]) -> Path:
        path = self.tmp / name
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        return path


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path, Gateway(), monkeypatch)


def answer_id(task_id: str) -> Callable[[dict[str, Any]], httpx.Response]:
    return lambda body: httpx.Response(200, json={"id": task_id, "status": "pending"})


# --------------------------------------------------------------- 2: one ID rule

HIDDEN = [
    "\u3164",
    "\u115f",
    "\uffa0",
    "\u034f",
    "\ufe0f",
    "\U000e0100",
    "\u2800",  # Braille blank
    "\ud7fc",  # unassigned, in the Hangul Jamo Extended-B block
    "\U00016fe4",  # Khitan filler
    "\ue000",  # private use
    "\U000e0001",  # language tag
]


@pytest.mark.parametrize("hidden", HIDDEN, ids=[f"U+{ord(h):04X}" for h in HIDDEN])
def test_an_id_the_task_file_cannot_hold_makes_the_create_uncertain(cli: Cli, hidden: str) -> None:
    raw = f"grok:abc{hidden}def"
    cli.gateway.answer = answer_id(raw)
    code, out, err = cli("create", "--yes", "a cat")
    assert code == 1, err
    assert out == ""  # never printed as "grok:abcdef"
    escaped = f"\\u{ord(hidden):04x}" if ord(hidden) < 0x10000 else f"\\U{ord(hidden):08x}"
    assert f"grok:abc{escaped}def" in err  # shown escaped, as it really is
    assert "may have been made" in err
    assert cli.stored() == {}
    code, _, err = cli("list")
    assert code == 0, err  # nothing unreadable was written
    assert f"grok:abc{escaped}def" in err  # still reported, until resolved
    journals = (cli.tmp / "home").rglob("*.jsonl")
    assert any(raw in p.read_text(encoding="utf-8") for p in journals)  # kept raw
    assert len(cli.gateway.bodies) == 1


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (408, b"", "timed out"),
        (408, b"<html><body>408 Request Timeout</body></html>", "timed out"),
        (304, b"", "304 Not Modified"),
        (299, b"", "empty answer"),
        (200, b'{"id": null, "status": null}', "no task id"),
        (200, b'{"id": ["grok:x"], "status": "pending"}', "no task id"),
    ],
)
def test_an_odd_answer_is_uncertain_and_never_sent_again(
    cli: Cli, status: int, body: bytes, said: str
) -> None:
    cli.gateway.answer = lambda _: httpx.Response(status, content=body)
    code, out, err = cli("create", "--yes", "a cat")
    assert code == 1, err
    assert out == ""
    assert said in err
    assert "may have been made" in err
    assert "nothing was paid" not in err
    code, _, err = cli("create", "--yes", "a cat")  # no terminal: refused without --resend
    assert code == 64, err
    assert "--resend" in err
    assert len(cli.gateway.bodies) == 1


def test_the_task_file_add_and_the_create_answer_take_the_same_ids(cli: Cli) -> None:
    from vidwatch.core.gateway.create_answer import Created, parse_create_response
    from vidwatch.core.model.records import Task, validate_task_id

    candidates = [
        "grok:ok-1",
        "grok:a b",
        "grok:a\u00a0b",
        "grok:",
        "x" * 2000,
        *(f"grok:abc{h}def" for h in HIDDEN),
    ]
    for candidate in candidates:
        rule = validate_task_id(candidate) is None
        answer = json.dumps({"id": candidate}).encode()
        created = isinstance(parse_create_response(200, {}, answer), Created)
        path = cli.tmp / f"t{candidates.index(candidate)}.toml"
        TaskStore(path).add([Task("grok:placeholder", _now())])
        text = path.read_text(encoding="utf-8").replace("grok:placeholder", candidate)
        path.write_text(text, encoding="utf-8")
        stored = candidate in TaskStore(path).load().records
        assert rule == created == stored, candidate


def _now() -> Any:
    from vidwatch.core.model.records import utcnow

    return utcnow()


# --------------------------------------------------------------- 6: duplicate IDs


def test_one_id_answered_for_four_requests_is_not_four_jobs(cli: Cli) -> None:
    old = "grok:00000000-0000-4000-8000-00000000dead"
    code, _, err = cli("add", old, "--label", "the old one")
    assert code == 0, err
    cli.gateway.answer = answer_id(old)
    rows = [{"prompt": f"clip {n}", "label": f"new {n}"} for n in range(4)]
    code, out, err = cli("submit", "--yes", str(cli.batch("b.jsonl", rows)))
    assert code == 1, err
    lines = [line.split("\t") for line in out.splitlines()]
    assert [cells[3].split(":")[0] for cells in lines] == ["uncertain"] * 4
    assert all("already holds" in cells[3] for cells in lines)
    assert cli.stored()[old].task.label == "the old one"
    assert len(cli.stored()) == 1


def test_one_new_id_answered_twice_is_one_job_and_one_uncertain_row(cli: Cli) -> None:
    cli.gateway.answer = answer_id("grok:00000000-0000-4000-8000-0000000000aa")
    rows = [{"prompt": "a cat", "label": "cat"}, {"prompt": "a dog", "label": "dog"}]
    code, out, err = cli("submit", "--yes", str(cli.batch("b.jsonl", rows)))
    assert code == 1, err
    whats = [line.split("\t")[3] for line in out.splitlines()]
    assert whats[0] == "created"
    assert whats[1].startswith("uncertain")
    assert "already gave for another request" in whats[1]
    assert [r.task.label for r in cli.stored().values()] == ["cat"]


# --------------------------------------------------------------- 7: the same request


def test_edits_that_change_nothing_do_not_pay_again(cli: Cli) -> None:
    first = [{"prompt": "a whale", "model": "sora-2", "label": "w"}, {"prompt": "a cow"}]
    code, _, err = cli("submit", "--yes", str(cli.batch("b.jsonl", first)))
    assert code == 0, err
    assert len(cli.gateway.bodies) == 2
    same: list[dict[str, Any]] = [
        {"label": "w", "duration": 10.0, "images": [], "model": "sora-2", "prompt": "a whale"},
        {"prompt": "a cow", "model": "grok-video-3", "images": []},
    ]
    edited = cli.batch("b.jsonl", same)
    code, out, err = cli("submit", "--yes", str(edited))
    assert code == 0, err  # every request has its job: nothing to do, nothing failed
    assert len(cli.gateway.bodies) == 2  # nothing paid again
    assert all("sent before" in line for line in out.splitlines())
    assert "2 with a job (2 by an earlier send of the same request)" in err
    assert "--resend" in err
    code, out, err = cli("submit", "--yes", str(edited), stdin=Terminal("n\n"))
    assert len(cli.gateway.bodies) == 2
    code, out, err = cli("submit", "--yes", str(edited), stdin=Terminal("y\n"))
    assert code == 0, err
    assert len(cli.gateway.bodies) == 4  # asked, and the user said yes


def test_a_deleted_journal_still_knows_the_jobs_in_the_task_list(cli: Cli) -> None:
    rows = [{"prompt": "a whale", "label": "w"}, {"prompt": "a whale", "label": "w2"}]
    batch = cli.batch("b.jsonl", rows)
    code, _, err = cli("submit", "--yes", str(batch))
    assert code == 0, err
    for folder in [*(cli.tmp / "home").rglob("sent"), *cli.tmp.rglob("manifests")]:
        shutil.rmtree(folder)  # every record of the sends, gone: the task list remains
    code, out, err = cli("submit", "--yes", str(batch))
    assert len(cli.gateway.bodies) == 2
    assert code == 0, err  # the jobs are there: exit 1 would invite a --resend
    assert all("already in the task list" in line for line in out.splitlines())


def test_the_same_create_twice_asks_or_needs_resend(cli: Cli) -> None:
    code, first, err = cli("create", "--yes", "--param", "duration=6", "a cat")
    assert code == 0, err
    code, _, err = cli("create", "--yes", "--param", "duration=6.0", "a cat")
    assert code == 64
    assert f"sent before as {first.strip()}" in err
    assert "--resend" in err
    code, _, err = cli("create", "--yes", "a cat", "--param", "duration=6", stdin=Terminal("n\n"))
    assert len(cli.gateway.bodies) == 1
    code, _out, err = cli("create", "--yes", "--resend", "--param", "duration=6", "a cat")
    assert code == 0, err
    assert len(cli.gateway.bodies) == 2


def test_the_same_batch_under_another_task_list_is_named_and_needs_resend(cli: Cli) -> None:
    rows = [{"prompt": f"clip {n}"} for n in range(3)]
    batch = cli.batch("b.jsonl", rows)
    assert cli("submit", "--yes", str(batch))[0] == 0
    other = cli.tmp / "other" / "tasks.toml"
    code, out, err = cli("submit", "--yes", str(batch), tasks=other)
    assert code == 0, err
    assert len(cli.gateway.bodies) == 3
    assert all(f"task list {cli.tasks.resolve()}" in line for line in out.splitlines())
    code, out, err = cli("submit", "--yes", "--resend", str(batch), tasks=other)
    assert code == 0, err
    assert len(cli.gateway.bodies) == 6


def test_a_row_whose_request_may_have_a_job_fails_the_run_until_resolved(cli: Cli) -> None:
    """Sent before with its answer lost: the job is unknown, so the run is not a
    success (exit 1, as the README says), and it is not paid again."""
    cli.gateway.answer = lambda _: httpx.Response(504, content=b"")
    assert cli("create", "--yes", "a cat")[0] == 1
    batch = cli.batch("b.jsonl", [{"prompt": "a cat"}, {"prompt": "a dog"}])
    cli.gateway.answer = cli.gateway.fresh
    code, out, err = cli("submit", "--yes", str(batch))
    assert code == 1, err
    assert "1 with a job, 1 sent before" in err
    assert "the job may exist" in out
    code, _, err = cli("submit", "--dry-run", str(batch))
    assert code == 0, err  # a dry run only shows
    assert len(cli.gateway.bodies) == 2


# --------------------------------------------------------------- 5: a full disk


class FillingDisk:
    """The disk fills up while the gateway makes the job: every fsync after the create's
    answer fails with ENOSPC (until ``full`` is set back to False)."""

    def __init__(self, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        self.cli = cli
        self._fsync = os.fsync
        cli.gateway.answer = self.answer
        monkeypatch.setattr(os, "fsync", self.fsync)

    def answer(self, body: dict[str, Any]) -> httpx.Response:
        self.full = True
        return self.cli.gateway.fresh(body)

    def fsync(self, fd: int) -> None:
        if self.full:
            raise OSError(28, "No space left on device")
        self._fsync(fd)


def test_a_job_made_when_the_disk_fills_up_is_printed_logged_and_exists(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FillingDisk(cli, monkeypatch)
    code, out, err = cli("create", "--yes", "a cat")
    made = "grok:0001-0000-4000-8000-000000000000"
    assert out.strip() == made  # the job exists: its ID is printed
    assert code == 4
    assert f"was made as {made}" in err
    assert "was not sent" not in err
    log = next((cli.tmp / "home").rglob("vidwatch.log")).read_text(encoding="utf-8")
    assert made in log
    assert len(cli.gateway.bodies) == 1
    disk.full = False
    code, out, err = cli("create", "--yes", "--resend", "--json", "a cat")
    assert code == 4
    assert json.loads(out) == {"id": "grok:0002-0000-4000-8000-000000000000"}


def test_submit_exits_4_when_the_task_list_cannot_be_written(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Any, tasks: Any) -> Any:
        raise StoreError(f"Cannot save the task list to {self.path}: the disk is full.")

    monkeypatch.setattr(TaskStore, "add", refuse)
    rows = [{"prompt": "a cat"}, {"prompt": "a dog"}]
    code, out, err = cli("submit", "--yes", str(cli.batch("b.jsonl", rows)))
    assert code == 4, err
    ids = [line.split("\t")[2] for line in out.splitlines()]
    assert all(i.startswith("grok:") for i in ids)  # the IDs that came back are printed
    assert "the disk is full" in err
    log = next((cli.tmp / "home").rglob("vidwatch.log")).read_text(encoding="utf-8")
    assert all(i in log for i in ids)


# --------------------------------------------------------------- 10: the folder


def test_a_file_or_a_broken_link_where_the_record_goes_is_named(cli: Cli) -> None:
    cli.tasks.parent.mkdir(parents=True)
    (cli.tasks.parent / "manifests").write_text("not a folder")
    code, _out, err = cli("create", "--yes", "a cat")
    assert code == 0, err  # the old folder is only read: a file there holds nothing
    sent = next((cli.tmp / "home").rglob("sent"))
    shutil.rmtree(sent)
    sent.write_text("not a folder")
    code, _, err = cli("create", "--yes", "--resend", "a cat")
    assert code == 4
    assert f"{sent} is a file, not a folder" in err
    assert "File exists" not in err
    sent.unlink()
    (cli.tasks.parent / "manifests").unlink()
    (cli.tasks.parent / "manifests").symlink_to(cli.tmp / "unmounted" / "manifests")
    code, _, err = cli("create", "--yes", "--resend", "a dog")
    assert code == 4
    assert "which does not exist" in err
    assert str(cli.tmp / "unmounted") in err
    assert len(cli.gateway.bodies) == 1


def test_paths_names_the_record_of_sends(cli: Cli) -> None:
    code, out, _ = cli("paths")
    assert code == 0
    sent = [line for line in out.splitlines() if line.startswith("sent")]
    assert sent
    assert sent[0].split(None, 1)[1].endswith(os.path.join("vidwatch", "sent"))


# --------------------------------------------------------------- resolving, once


def _ref(err: str) -> str:
    found = re.search(r"--mark-done ([0-9a-f]{8})=ID", err)
    assert found, err
    return found.group(1)


def test_mark_done_never_replaces_an_earlier_resolution_silently(cli: Cli) -> None:
    cli.gateway.answer = lambda _: httpx.Response(502, content=b"")
    code, _, err = cli("create", "--yes", "a cat")
    assert code == 1, err
    ref = _ref(err)
    code, _, err = cli("create", "--mark-done", f"{ref}=grok:first-0001")
    assert code == 0, err
    assert "replaces" not in err
    code, _, err = cli("create", "--mark-done", f"{ref}=grok:first-0001")  # the same again
    assert code == 0, err
    assert "already resolved: marked done as grok:first-0001" in err
    code, _, err = cli("create", "--mark-done", f"{ref}=grok:second-0002")
    assert code == 0, err
    assert "grok:second-0002 added" in err
    assert "it replaces the earlier mark, grok:first-0001" in err  # said, not silent
    code, _, err = cli("create", "--mark-done", ref)
    assert code == 0, err
    assert "it replaces the earlier mark, grok:second-0002" in err
    assert set(cli.stored()) == {"grok:first-0001", "grok:second-0002"}
    assert len(cli.gateway.bodies) == 1


def test_mark_done_refuses_to_overwrite_a_create_the_gateway_answered(cli: Cli) -> None:
    code, out, err = cli("create", "--yes", "a cat")
    assert code == 0, err
    made = out.strip()
    journals = list((cli.tmp / "home").rglob("*.jsonl"))
    rows = {
        json.loads(line)["row"]
        for path in journals
        for line in path.read_text(encoding="utf-8").splitlines()
        if made in line
    }
    (row,) = rows
    code, _, err = cli("create", "--mark-done", f"{row[:8]}=grok:something-else")
    assert code == 64, err
    assert f"answered this create with {made}" in err
    code, _, err = cli("create", "--mark-done", row[:8])
    assert code == 0, err
    assert f"already resolved: made as {made}" in err
    assert set(cli.stored()) == {made}


def test_the_summary_of_uncertain_rows_reads_naturally_and_names_timeouts(cli: Cli) -> None:
    cli.gateway.answer = lambda _: httpx.Response(408, content=b"")
    batch = cli.batch("b.jsonl", [{"prompt": "a cat"}, {"prompt": "a dog", "label": "d"}])
    code, _, err = cli("submit", "--yes", str(batch))
    assert code == 1, err
    summary = next(line for line in err.splitlines() if "uncertain rows:" in line)
    assert "uncertain rows: 1, 2 (d): their requests may have made jobs" in summary
    assert "timeout" in summary
    assert "its request" not in summary
    assert "nothing paid" not in err
    assert len(cli.gateway.bodies) == 2


def test_submit_names_the_job_made_when_the_disk_fills_up(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    FillingDisk(cli, monkeypatch)
    code, out, err = cli("submit", "--yes", str(cli.batch("b.jsonl", [{"prompt": "a cat"}])))
    made = "grok:0001-0000-4000-8000-000000000000"
    assert code == 4, err
    assert made in out
    assert f"row 1: the job was made as {made}, but it could not be recorded" in err, err
    assert "No space left" in err
    assert "1 row: 1 with a job" in err  # not "uncertain": the job is known
    assert "--mark-done" not in err
    assert ".;" not in err
    assert len(cli.gateway.bodies) == 1


def test_every_send_decision_is_logged(cli: Cli) -> None:
    """Not only what was sent: a request not sent because it was sent before, and a
    create resolved by hand, are in the log too (never the key, never the prompt)."""
    prompt = "a very particular whale at sunrise over the harbour"
    cli.gateway.answer = lambda _: httpx.Response(502, content=b"")
    assert cli("create", "--yes", prompt)[0] == 1
    code, _, err = cli("submit", "--yes", str(cli.batch("b.jsonl", [{"prompt": prompt}])))
    assert code == 1, err
    ref = _ref(cli("list")[2])
    assert cli("create", "--mark-done", f"{ref}=grok:found-0001")[0] == 0
    log = next((cli.tmp / "home").rglob("vidwatch.log")).read_text(encoding="utf-8")
    assert "create outcome: create: uncertain" in log
    assert "create not sent: row 1 of" in log
    assert "its request was sent before (its answer was lost" in log
    assert f"create resolved: create {ref}: marked done as grok:found-0001" in log
    assert "particular whale" not in log
    assert KEY not in log


def test_a_veo_create_answer_keeps_its_detail_in_the_task_list(cli: Cli) -> None:
    task_id = "veo3.1-fast:1770350082-trii1OXZc3"
    answer = {
        "id": task_id,
        "status": "pending",
        "detail": {"status": "pending", "operation_name": "ops/abc", "note": KEY},
    }
    cli.gateway.answer = lambda _: httpx.Response(200, json=answer)
    code, out, err = cli("create", "--yes", "--model", "veo3.1-fast", "a cat")
    assert code == 0, err
    assert out.strip() == task_id
    extras = dict(cli.stored()[task_id].result.extras)
    assert extras["detail.operation_name"] == "ops/abc"
    assert KEY not in str(extras)  # a key echoed back is redacted, as in a query's answer
    assert KEY not in cli.tasks.read_text(encoding="utf-8")


def test_two_resends_decided_at_once_pay_once(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `create --resend` of one request, for two task lists, each having seen the same
    earlier send: the one lock covers the decision, so the second finds the first's send
    (newer than the one it agreed to pay again for) and pays nothing."""
    from vidwatch.core.create.ledger import Ledger

    for name, value in (  # as each call sets them: the threads' restores change nothing
        ("QUICKROUTER_BASE_URL", "https://gw.example"),
        ("VIDWATCH_CONFIG", str(cli.config)),
        ("QUICKROUTER_API_KEY", KEY),
    ):
        monkeypatch.setenv(name, value)
    assert cli("create", "--yes", "a cat")[0] == 0
    both_seen = threading.Barrier(2, timeout=30)
    waited = threading.local()
    deciding = Ledger.deciding

    def decide_together(self: Ledger) -> Any:
        if not getattr(waited, "done", False):  # both have read what was sent before
            waited.done = True
            both_seen.wait()
        return deciding(self)

    monkeypatch.setattr(Ledger, "deciding", decide_together)
    results: dict[str, tuple[int, str, str]] = {}

    def resend(name: str) -> None:
        tasks = cli.tmp / name / "tasks.toml"
        results[name] = cli("create", "--yes", "--resend", "a cat", tasks=tasks)

    threads = [threading.Thread(target=resend, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(cli.gateway.bodies) == 2, results  # the first create and one resend
    assert sorted(code for code, _, _ in results.values()) == [0, 1], results
    assert any("meanwhile" in err for _, _, err in results.values()), results
