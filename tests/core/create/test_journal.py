"""The manifest never lets a row be paid twice: journal, crash safety, planning."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vidwatch.core.create.batch import Batch, parse_batch
from vidwatch.core.create.journal import (
    Manifest,
    ManifestBusy,
    ManifestDir,
    ManifestError,
    RowEntry,
    RowState,
    Verdict,
    judge,
    judge_error,
)
from vidwatch.core.create.ledger import Ledger, keys_of
from vidwatch.core.create.plan import Why, plan_batch
from vidwatch.core.gateway.create_answer import (
    CreateBadResponse,
    Created,
    CreateRateLimited,
    CreateServerError,
    NoChannel,
    Refused,
)

KEY = "sk-secret-key-never-written"


def make_batch(*prompts: str) -> Batch:
    lines = [json.dumps({"prompt": p, "label": f"L{n}"}) for n, p in enumerate(prompts, 1)]
    return parse_batch("\n".join(lines).encode(), source="/data/b.jsonl")


@pytest.fixture
def folder(tmp_path: Path) -> ManifestDir:
    return ManifestDir.beside(tmp_path / "tasks.toml")


def plan_for(batch: Batch, folder: ManifestDir, **options: object) -> list[tuple[bool, Why]]:
    manifest = folder.read(batch.source)
    plan = plan_batch(batch, manifest.entries, blocked=manifest.blocked, **options)  # type: ignore[arg-type]
    return [(step.send, step.why) for step in plan.steps]


CREATED = Verdict(RowState.CREATED, task_id="grok:1")


# ---------------------------------------------------------------- judging answers


def test_judging_answers() -> None:
    assert judge(Created("grok:1", "pending", None)) == CREATED
    refused = judge(Refused(400, "invalid_value", "bad size"))
    assert (refused.state, refused.stop_batch) == (RowState.REFUSED, False)
    quota = judge(Refused(403, "quota_not_enough", "no money"))
    assert (quota.state, quota.stop_batch) == (RowState.NOT_SENT, True)
    channel = judge(NoChannel("veo9", "none"))
    assert (channel.state, channel.stop_model) == (RowState.NOT_SENT, True)
    limited = judge(CreateRateLimited(5.0, "slow down"))
    assert (limited.state, limited.retry_after, limited.retry_soon) == (
        RowState.NOT_SENT,
        5.0,
        True,
    )
    assert judge(CreateServerError(503, "", "unavailable")).state is RowState.NOT_SENT
    for status in (500, 502, 504):
        assert judge(CreateServerError(status, "", "")).state is RowState.UNCERTAIN
    assert judge(CreateBadResponse(200, "not JSON")).state is RowState.UNCERTAIN
    assert judge(CreateBadResponse(302, "redirect")).state is RowState.NOT_SENT
    request = httpx.Request("POST", "http://127.0.0.1/")
    assert judge_error(httpx.ConnectError("refused", request=request)).state is RowState.NOT_SENT
    lost = judge_error(httpx.RemoteProtocolError("gone", request=request))
    assert lost.state is RowState.UNCERTAIN


# ---------------------------------------------------------------- the journal


def test_rows_move_through_their_states_and_survive_reopening(folder: ManifestDir) -> None:
    batch = make_batch("a", "b", "c", "d", "e")
    a, b, c, d, e = batch.rows
    with folder.open(batch.source) as manifest:
        for row in batch.rows:
            manifest.record_intent(row)
        manifest.record_verdict(a.identity, CREATED)
        manifest.record_verdict(b.identity, judge(Refused(400, "bad", "no")))
        manifest.record_verdict(c.identity, judge_error(TimeoutError()))
        manifest.record_verdict(d.identity, judge(CreateRateLimited(None, "")))
        # e: killed after the intent
    entries = folder.read(batch.source).entries
    assert entries[a.identity].state is RowState.CREATED
    assert entries[a.identity].task_id == "grok:1"
    assert entries[a.identity].label == "L1"
    assert entries[b.identity].state is RowState.REFUSED
    assert entries[c.identity].state is RowState.UNCERTAIN
    assert entries[d.identity].state is RowState.NOT_SENT
    assert entries[e.identity].state is RowState.SENDING
    assert plan_for(batch, folder) == [
        (False, Why.HAS_JOB),
        (False, Why.REFUSED),
        (False, Why.UNCERTAIN),
        (True, Why.NOT_SENT_BEFORE),
        (False, Why.UNCERTAIN),
    ]
    resend = plan_for(batch, folder, resend_uncertain=True)
    assert [send for send, _ in resend] == [False, False, True, True, True]


def test_the_manifest_is_private_holds_bodies_and_never_the_key(folder: ManifestDir) -> None:
    batch = make_batch("a cat")
    with folder.open(batch.source) as manifest:
        manifest.record_intent(batch.rows[0])
        manifest.record_verdict(batch.rows[0].identity, CREATED)
    path = folder.path_for(batch.source)
    assert path.parent == folder.folder
    assert path.name.startswith("b.jsonl-")
    assert path.stat().st_mode & 0o777 == 0o600
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["kind"] for r in records] == ["batch", "intent", "created"]
    assert records[0]["source"] == "/data/b.jsonl"
    assert records[1]["body"]["prompt"] == "a cat"
    assert KEY not in path.read_text()
    assert "Authorization" not in path.read_text()


def test_a_torn_last_line_is_ignored_and_cut_off(folder: ManifestDir) -> None:
    batch = make_batch("a", "b")
    with folder.open(batch.source) as manifest:
        manifest.record_intent(batch.rows[0])
        manifest.record_verdict(batch.rows[0].identity, CREATED)
    path = folder.path_for(batch.source)
    whole = path.read_bytes()
    torn_intent = json.dumps({"v": 1, "kind": "intent", "row": batch.rows[1].identity})
    path.write_bytes(whole + torn_intent.encode()[:30])  # a write cut short: no newline
    read = folder.read(batch.source)
    assert batch.rows[1].identity not in read.entries  # its fsync never returned: never sent
    assert read.notices
    assert plan_for(batch, folder) == [(False, Why.HAS_JOB), (True, Why.NEW)]
    with folder.open(batch.source) as manifest:
        manifest.record_intent(batch.rows[1])
    assert path.read_bytes().startswith(whole)
    lines = path.read_bytes().split(b"\n")
    assert all(json.loads(line) for line in lines if line)  # the fragment is gone


def test_an_intent_whose_outcome_was_torn_is_uncertain(folder: ManifestDir) -> None:
    batch = make_batch("a")
    with folder.open(batch.source) as manifest:
        manifest.record_intent(batch.rows[0])
    path = folder.path_for(batch.source)
    with path.open("ab") as handle:
        handle.write(b'{"v":1,"kind":"created","row":"' + batch.rows[0].identity.encode())
    assert plan_for(batch, folder) == [(False, Why.UNCERTAIN)]


def test_damaged_lines_make_their_row_uncertain_or_block_the_batch(folder: ManifestDir) -> None:
    batch = make_batch("a", "b")
    with folder.open(batch.source) as manifest:
        manifest.record_intent(batch.rows[0])
        manifest.record_verdict(batch.rows[0].identity, CREATED)
    path = folder.path_for(batch.source)
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = lines[2].replace(b'"kind":"created"', b'"kind":"cre\xffated",')
    path.write_bytes(b"".join([*lines[:2], damaged]))
    assert plan_for(batch, folder) == [(False, Why.UNCERTAIN), (True, Why.NEW)]
    path.write_bytes(b"".join([*lines, b"garbage without a row\n"]))
    assert plan_for(batch, folder) == [(False, Why.BLOCKED), (False, Why.BLOCKED)]


def test_only_one_process_writes_a_manifest(folder: ManifestDir) -> None:
    batch = make_batch("a")
    with folder.open(batch.source), pytest.raises(ManifestBusy):
        folder.open(batch.source)
    with folder.open(batch.source) as again:
        assert again.entries == {}


def test_reading_writes_nothing_and_read_only_views_refuse_records(folder: ManifestDir) -> None:
    batch = make_batch("a")
    manifest = folder.read(batch.source)
    assert not folder.folder.exists()
    with pytest.raises(ManifestError):
        manifest.record_intent(batch.rows[0])


def test_mark_done_resolves_an_uncertain_row(folder: ManifestDir) -> None:
    batch = make_batch("a")
    row = batch.rows[0]
    with folder.open(batch.source) as manifest:
        with pytest.raises(ManifestError):
            manifest.mark_done(row.identity)
        manifest.record_intent(row)
        manifest.record_verdict(row.identity, judge_error(TimeoutError()))
        entry = manifest.mark_done(row.identity, "grok:found-in-console")
    assert entry.state is RowState.DONE
    assert entry.task_id == "grok:found-in-console"
    assert plan_for(batch, folder) == [(False, Why.DONE)]


def test_retry_failed_makes_a_new_job_linked_to_the_old(folder: ManifestDir) -> None:
    batch = make_batch("a", "b")
    a, b = batch.rows
    with folder.open(batch.source) as manifest:
        for row, task in ((a, "grok:old-a"), (b, "grok:b")):
            manifest.record_intent(row)
            manifest.record_verdict(row.identity, Verdict(RowState.CREATED, task_id=task))
    failed = {"grok:old-a"}
    assert plan_for(batch, folder, failed_tasks=failed) == [
        (False, Why.HAS_JOB),
        (False, Why.HAS_JOB),
    ]
    manifest = folder.read(batch.source)
    plan = plan_batch(batch, manifest.entries, failed_tasks=failed, retry_failed=True)
    assert [(s.send, s.why, s.replaces) for s in plan.steps] == [
        (True, Why.RETRY_FAILED, "grok:old-a"),
        (False, Why.HAS_JOB, None),
    ]
    with folder.open(batch.source) as manifest:
        manifest.record_intent(a, plan.steps[0].replaces)
        during = manifest.entries[a.identity]
        assert (during.state, during.replaces) == (RowState.SENDING, "grok:old-a")
        manifest.record_verdict(a.identity, Verdict(RowState.CREATED, task_id="grok:new-a"))
    entry = folder.read(batch.source).entries[a.identity]
    assert (entry.task_id, entry.previous, entry.sends) == ("grok:new-a", ("grok:old-a",), 2)
    records = folder.path_for(batch.source).read_text().splitlines()
    assert json.loads(records[-2])["replaces"] == "grok:old-a"


def test_edited_rows_are_new_and_invalid_rows_are_skipped(folder: ManifestDir) -> None:
    batch = make_batch("a")
    with folder.open(batch.source) as manifest:
        manifest.record_intent(batch.rows[0])
        manifest.record_verdict(batch.rows[0].identity, judge(Refused(400, "bad", "no")))
    edited = parse_batch(
        b'{"prompt": "a fixed"}\n{"prompt": ""}\n{"prompt": "a", "label": "L1"}\n',
        source=batch.source,
    )
    assert plan_for(edited, folder) == [
        (True, Why.NEW),
        (False, Why.INVALID),
        (False, Why.REFUSED),
    ]


def test_a_refused_file_sends_nothing(folder: ManifestDir) -> None:
    broken = parse_batch(b'prompt\nfine\n"' + b"x" * 200_000 + b'"\n', source="/data/b.csv")
    assert broken.error
    assert {send for send, _ in plan_for(broken, folder)} == {False}


def test_rows_sent_from_another_file_are_found(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "sent", tmp_path / "tasks.toml").ready()
    old = make_batch("a", "b")
    keys = keys_of(old.rows)
    with ledger.deciding():
        send = ledger.claim(keys[old.rows[0].identity], {}, journal=old.source, row=old.rows[0])
        ledger.note(keys[old.rows[0].identity], send, CREATED)
    moved = parse_batch(
        b'{"prompt": "a"}\n{"prompt": "b"}\n{"prompt": "c"}\n', source="/data/renamed.jsonl"
    )
    moved_keys = keys_of(moved.rows)
    assert moved_keys[moved.rows[0].identity] == keys[old.rows[0].identity]  # labels aside
    earlier = {
        row.identity: found
        for row in moved.rows
        if (found := ledger.earlier(moved_keys[row.identity], moved.source, row.identity))
    }
    assert set(earlier) == {moved.rows[0].identity}
    plan = plan_batch(moved, {}, earlier=earlier, keys=moved_keys)
    assert [(s.send, s.why) for s in plan.steps] == [
        (False, Why.SENT_BEFORE),
        (True, Why.NEW),
        (True, Why.NEW),
    ]
    assert "grok:1" in plan.steps[0].detail
    assert "row 1 of /data/b.jsonl" in plan.steps[0].detail
    anyway = plan_batch(moved, {}, earlier=earlier, keys=moved_keys, resend=True)
    assert [s.send for s in anyway.steps] == [True, True, True]
    assert anyway.steps[0].accepted == send


# ---------------------------------------------------------------- a real kill -9

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from vidwatch.core.create.batch import parse_batch
    from vidwatch.core.create.journal import ManifestDir, RowState, Verdict

    folder = ManifestDir(Path(sys.argv[1]))
    stage = sys.argv[2]
    batch = parse_batch(b'{"prompt": "a"}\\n{"prompt": "b"}\\n', source="/data/b.jsonl")
    manifest = folder.open(batch.source)
    first, second = batch.rows
    manifest.record_intent(first)
    manifest.record_verdict(first.identity, Verdict(RowState.CREATED, task_id="grok:1"))
    if stage == "after-intent":
        manifest.record_intent(second)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("stage", "second"),
    [("after-intent", (False, Why.UNCERTAIN)), ("before-intent", (True, Why.NEW))],
)
def test_kill_9_leaves_rows_uncertain_or_sendable_correctly(
    tmp_path: Path, stage: str, second: tuple[bool, Why]
) -> None:
    folder = ManifestDir(tmp_path / "manifests")
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(folder.folder), stage],
        capture_output=True,
        check=False,
        env={**os.environ, "QUICKROUTER_API_KEY": KEY},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    batch = parse_batch(b'{"prompt": "a"}\n{"prompt": "b"}\n', source="/data/b.jsonl")
    assert plan_for(batch, folder) == [(False, Why.HAS_JOB), second]
    with folder.open(batch.source):  # the dead process's lock is gone with it
        pass


# ---------------------------------------------------------------- properties

OUTCOMES = [
    CREATED,
    judge(Refused(400, "bad", "no")),
    judge(CreateRateLimited(None, "")),
    judge_error(TimeoutError()),
]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(-1, 3)), min_size=1, max_size=6))
def test_a_crash_at_any_byte_leaves_exactly_the_completed_records(
    steps: list[tuple[int, int]],
) -> None:
    """Cut the journal anywhere: what loads is what the complete lines say, and no
    row that had an intent on disk is ever sendable as new."""
    batch = make_batch("a", "b", "c")
    with tempfile.TemporaryDirectory() as tmp:
        folder = ManifestDir(Path(tmp))
        snapshots: list[tuple[int, dict[str, RowState]]] = [(0, {})]
        with folder.open(batch.source) as manifest:
            path = folder.path_for(batch.source)
            snapshots.append((path.stat().st_size, {}))
            for row_index, outcome in steps:
                row = batch.rows[row_index]
                manifest.record_intent(row)
                snapshots.append((path.stat().st_size, _states(manifest.entries)))
                if outcome >= 0:
                    manifest.record_verdict(row.identity, OUTCOMES[outcome])
                    snapshots.append((path.stat().st_size, _states(manifest.entries)))
        data = path.read_bytes()
        ends = [n for n, byte in enumerate(data) if byte == ord("\n")]
        starts = [0, *(end + 1 for end in ends[:-1])]
        # Every way a line can be cut: before it, inside it, just before and after its \n.
        cuts = {0, len(data)}
        for start, end in zip(starts, ends, strict=True):
            cuts.update((start + 1, (start + end) // 2, end, end + 1))
        for cut in sorted(cuts):
            path.write_bytes(data[:cut])
            expected = [states for size, states in snapshots if size <= cut][-1]
            loaded = Manifest.read(path)
            assert _states(loaded.entries) == expected
            assert loaded.blocked is None


def _states(entries: dict[str, RowEntry]) -> dict[str, RowState]:
    return {row: entry.state for row, entry in entries.items()}


@settings(max_examples=100)
@given(st.binary(max_size=400))
def test_any_bytes_load_without_raising(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.jsonl"
        path.write_bytes(data)
        manifest = Manifest.read(path)
        batch = make_batch("a")
        plan = plan_batch(batch, manifest.entries, blocked=manifest.blocked)
        assert len(plan.steps) == 1
