"""The record of what was sent (issue 17): one lock for the decision to send, requests
compared normalised, journals that do not grow with history, older journals read in."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from vidwatch.core.create.batch import Batch, BatchRow, parse_batch
from vidwatch.core.create.journal import COMPACT_AT, CREATE_JOURNAL, Manifest, ManifestDir
from vidwatch.core.create.ledger import AlreadySent, Ledger, keys_of
from vidwatch.core.create.requests import JsonValue, normalised_body, prepare, request_key
from vidwatch.core.create.verdict import RowState, Verdict

# --------------------------------------------------------------- the same request


def test_requests_that_change_nothing_have_one_key() -> None:
    def key(model: str, prompt: str, **fields: Any) -> str:
        images = fields.pop("images", [])
        return prepare(model, prompt, images, list(fields.items())).request.key()

    base = key("sora-2", "a whale")
    assert key("sora-2", "a whale", duration=10) == base  # the default written out
    assert key("sora-2", "a whale", duration=10.0) == base  # 10 and 10.0
    assert key("sora-2", " a whale\r\n") == base  # the prompt as sent
    assert key("sora-2", "a whale", duration=15) != base
    assert key("sora-2", "a whale", size="large") != base
    assert key("sora-2", "a whales") != base
    assert key("grok-video-3", "a cow", images=[]) == key("grok-video-3", "a cow")
    body: dict[str, JsonValue] = {
        "model": "m",
        "prompt": "p",
        "x": 1,
        "y": [1.0, {"z": 2}],
        "e": [],
        "n": None,
    }
    same: dict[str, JsonValue] = {
        "y": [1, {"z": 2.0}],
        "prompt": "p",
        "x": 1.0,
        "model": "m",
        "o": {},
    }
    assert normalised_body(body) == normalised_body(same)
    assert request_key(body) == request_key(same)
    assert request_key({**body, "x": True}) != request_key(body)  # true is not 1
    assert request_key({**body, "x": "1"}) != request_key(body)


def test_copies_of_a_row_in_one_file_are_separate_requests() -> None:
    batch = parse_batch(b'{"prompt": "a"}\n{"prompt": "b"}\n{"prompt": "a", "label": "x"}\n')
    keys = keys_of(batch.rows)
    first, _, third = (keys[row.identity] for row in batch.rows)
    assert first.rsplit("-", 1)[0] == third.rsplit("-", 1)[0]
    assert (first[-2:], third[-2:]) == ("-1", "-2")


# --------------------------------------------------------------- the one lock


def test_only_one_of_many_deciders_sends_a_request(tmp_path: Path) -> None:
    batch = parse_batch(b'{"prompt": "a"}\n', source="/data/a.jsonl")
    row = batch.rows[0]
    key = keys_of(batch.rows)[row.identity]
    won: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(8)

    def decide(n: int) -> None:
        # as separate processes would: each its own view of the record, from its own list
        ledger = Ledger(tmp_path / "sent", tmp_path / f"list{n % 3}.toml")
        start.wait()
        try:
            with ledger.deciding():
                won.append(ledger.claim(key, {}, journal=f"/data/copy{n}.jsonl", row=row))
        except AlreadySent as exc:
            refused.append(exc.earlier.where)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 1
    assert len(refused) == 7
    assert all(where.endswith(".jsonl") for where in refused)


def one_row(tmp_path: Path) -> tuple[Ledger, Batch, BatchRow, str]:
    ledger = Ledger(tmp_path / "sent", tmp_path / "tasks.toml")
    batch = parse_batch(b'{"prompt": "a"}\n', source="/data/a.jsonl")
    row = batch.rows[0]
    return ledger, batch, row, keys_of(batch.rows)[row.identity]


def test_an_accepted_earlier_send_is_sent_again_once(tmp_path: Path) -> None:
    ledger, batch, row, key = one_row(tmp_path)
    with ledger.deciding():
        first = ledger.claim(key, {"prompt": "a"}, journal=batch.source, row=row)
        ledger.note(key, first, Verdict(RowState.UNCERTAIN, "lost", "no answer"))
    earlier = ledger.earlier(key, batch.source, row.identity)
    assert earlier is not None
    assert earlier.own
    assert "its answer was lost" in earlier.text()
    with ledger.deciding():
        second = ledger.claim(key, {}, journal=batch.source, row=row, accepted=first)
        with pytest.raises(AlreadySent):  # accepting the first does not accept the second
            ledger.claim(key, {}, journal=batch.source, row=row, accepted=first)
        ledger.note(key, second, Verdict(RowState.CREATED, task_id="grok:2"))
    assert [s.state for s in ledger.sends(key)] == [RowState.UNCERTAIN, RowState.CREATED]


def test_a_damaged_record_is_never_sent_past(tmp_path: Path) -> None:
    ledger, batch, row, key = one_row(tmp_path)
    with ledger.deciding():
        ledger.claim(key, {}, journal=batch.source, row=row)
    path = next((tmp_path / "sent" / "requests").rglob("*.json"))
    path.write_text("{ broken", encoding="utf-8")
    with ledger.deciding(), pytest.raises(AlreadySent) as caught:
        ledger.claim(key, {}, journal=batch.source, row=row, accepted="damaged")
    assert str(path) in caught.value.earlier.where


# --------------------------------------------------------------- compaction


def _create_rows(n: int, prompt_size: int) -> list[Any]:
    text = "".join(json.dumps({"prompt": f"{i:05d} " + "p" * prompt_size}) + "\n" for i in range(n))
    return list(parse_batch(text.encode()).rows)


def test_the_journal_of_single_creates_does_not_grow_with_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # the cost counted here is bytes read
    folder = ManifestDir(tmp_path / "journals", str(tmp_path / "tasks.toml"))
    path = folder.path_for(CREATE_JOURNAL)
    sizes = []
    rows = _create_rows(150, 3000)  # 150 creates of ~3 KB each: ~3.5 times the bound
    for n, row in enumerate(rows):
        sizes.append(path.stat().st_size if path.exists() else 0)  # what the open reads
        with folder.open(CREATE_JOURNAL) as journal:
            journal.record_intent(row)
            if n % 100 == 7:
                journal.record_verdict(row.identity, Verdict(RowState.UNCERTAIN, "lost", "x"))
                continue
            journal.record_verdict(row.identity, Verdict(RowState.CREATED, task_id=f"grok:{n}"))
            journal.mark_listed(row.identity)
    assert max(sizes) < COMPACT_AT + 16 * 1024  # bounded, however many creates came before
    assert sizes[-1] < COMPACT_AT + 16 * 1024
    kept = Manifest.read(path)
    uncertain = [e for e in kept.entries.values() if e.state is RowState.UNCERTAIN]
    assert len(uncertain) == 2  # what is still unresolved is never compacted away
    assert all(e.prompt for e in uncertain)  # enough to tell the user which create it was


def test_a_crash_during_compaction_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    folder = ManifestDir(tmp_path / "journals", str(tmp_path / "tasks.toml"))
    rows = _create_rows(40, 4000)
    with folder.open("/data/b.jsonl") as journal:
        for n, row in enumerate(rows):
            journal.record_intent(row)
            journal.record_verdict(row.identity, Verdict(RowState.CREATED, task_id=f"grok:{n}"))
    path = folder.path_for("/data/b.jsonl")
    before = path.read_bytes()
    assert len(before) > COMPACT_AT

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # killed between writing the new journal and the rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        folder.open("/data/b.jsonl")
    assert path.read_bytes() == before  # the old journal, whole
    monkeypatch.undo()
    with folder.open("/data/b.jsonl") as journal:  # the next open compacts it
        assert len(journal.entries) == 40
        assert all(e.state is RowState.CREATED for e in journal.entries.values())
    assert path.stat().st_size < len(before) / 2
    assert {e.task_id for e in Manifest.read(path).entries.values()} == {
        f"grok:{n}" for n in range(40)
    }
    assert not list(path.parent.glob("*.compacting"))  # the leftover was written over


# --------------------------------------------------------------- older versions


def test_what_older_versions_recorded_beside_the_task_list_is_not_forgotten(
    tmp_path: Path,
) -> None:
    tasks = tmp_path / "lists" / "tasks.toml"
    old = ManifestDir.beside(tasks)
    batch = parse_batch(b'{"prompt": "a"}\n{"prompt": "b"}\n', source="/data/b.jsonl")
    with old.open(batch.source) as journal:
        for n, row in enumerate(batch.rows):
            journal.record_intent(row)
            verdict = Verdict(RowState.CREATED, task_id=f"grok:{n}")
            if n == 1:
                verdict = Verdict(RowState.UNCERTAIN, "lost", "no answer")
            journal.record_verdict(row.identity, verdict)
    ledger = Ledger(tmp_path / "sent", tasks).ready()
    copy = parse_batch(b'{"prompt": "a"}\n{"prompt": "b"}\n', source="/data/copy.jsonl")
    keys = keys_of(copy.rows)
    found = [ledger.earlier(keys[row.identity], copy.source, row.identity) for row in copy.rows]
    assert [e.task_id if e else None for e in found] == ["grok:0", None]
    assert [e.state if e else None for e in found] == [RowState.CREATED, RowState.UNCERTAIN]
    with ledger.journals.open(batch.source) as journal:  # the file's own journal carries over
        states = {row.number: journal.entries[row.identity].state for row in batch.rows}
    assert states == {1: RowState.CREATED, 2: RowState.UNCERTAIN}


def test_a_job_an_older_version_took_with_an_unusable_id_is_uncertain_again(
    tmp_path: Path,
) -> None:
    folder = ManifestDir(tmp_path / "journals")
    row = parse_batch(b'{"prompt": "a"}\n').rows[0]
    with folder.open(CREATE_JOURNAL) as journal:
        journal.record_intent(row)
        journal._record({"kind": "created", "row": row.identity, "task_id": "grok:a\u3164b"})
        journal._record({"kind": "listed", "row": row.identity, "task_id": "grok:a\u3164b"})
    entry = folder.read(CREATE_JOURNAL).entries[row.identity]
    assert entry.state is RowState.UNCERTAIN  # not "created and listed": it is in no list
    assert entry.answered == "grok:a\u3164b"
    assert "grok:a\\u3164b" in entry.message


def test_the_record_of_sends_is_made_private_whatever_is_written_first(tmp_path: Path) -> None:
    """A journal opened before anything else (``vidwatch create`` does) makes ``sent/``
    and every folder above it that was missing 0700, never the umask's 0755."""
    import stat

    data = tmp_path / "data" / "vidwatch"
    ledger = Ledger(data / "sent", tmp_path / "tasks.toml")
    old = os.umask(0o022)
    try:
        with ledger.journals.open(CREATE_JOURNAL):
            pass
    finally:
        os.umask(old)
    for folder in (tmp_path / "data", data, data / "sent", data / "sent" / "journals"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
