"""Issue 13 item 6: a download writes ``NAME.json`` beside ``NAME.mp4`` — what the video
is (ID, model, prompt, times, host), from the record's one field list, never the key."""

from __future__ import annotations

import errno
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from vidwatch.core.downloads import sidecar
from vidwatch.core.downloads.fetch import Downloader
from vidwatch.core.downloads.sidecar import SIDECAR_EXCLUDED
from vidwatch.core.model import fields
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult, Transition

from tests.core.downloads.test_fetch import clip, mock

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2025, 6, 1, 12, 3, tzinfo=UTC)
BODY = clip(b"s", 5000)


def plenty(folder: Path) -> int:
    return 1 << 50


def finished(
    task_id: str = "sora-2:task_01k81e7r",
    label: str = "cow",
    prompt: str = "A cow on the moon",
    url: str = "https://cdn.example/v/x.mp4?sig=abc&Expires=1",
) -> TaskRecord:
    return TaskRecord(
        Task(task_id, T0, label),
        TaskResult(
            State.SUCCEEDED,
            "completed",
            url,
            enhanced_prompt=prompt,
            server_id=task_id.partition(":")[2],
            status_update_time=T1,
            checked_at=T1,
            history=(
                Transition(State.RUNNING, "processing", T0),
                Transition(State.SUCCEEDED, "completed", T1),
            ),
        ),
    )


def serve(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": "video/mp4"}, content=BODY)


async def fetch(folder: Path, record: TaskRecord) -> tuple[Path, str]:
    async with Downloader(folder, transport=mock(serve), free_space=plenty) as downloader:
        result = await downloader.download(record)
    assert result.ok, result.message
    assert result.path is not None
    return result.path, result.message


async def test_a_download_writes_its_sidecar_beside_it(tmp_path: Path) -> None:
    video, message = await fetch(tmp_path, finished())
    side = video.with_suffix(".json")
    assert side.name == video.name.removesuffix(".mp4") + ".json"
    assert message == f"saved to {video}"
    data = json.loads(side.read_text(encoding="utf-8"))
    assert data["id"] == "sora-2:task_01k81e7r"
    assert data["model"] == "sora-2"
    assert data["enhanced_prompt"] == "A cow on the moon"
    assert data["label"] == "cow"
    assert data["added_at"] == T0.isoformat()
    assert data["status_update_time"] == T1.isoformat()
    assert [t["status"] for t in data["history"]] == ["processing", "completed"]
    assert data["source_host"] == "cdn.example"
    assert data["file"] == video.name
    assert data["size"] == len(BODY)
    assert datetime.fromisoformat(data["downloaded_at"]).tzinfo is not None
    text = side.read_text(encoding="utf-8")
    assert "sig=" not in text  # the signed link is not kept, its host is
    assert "video_url" not in data
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([video.name, side.name])


def test_the_sidecar_keeps_no_signed_link_of_the_answer() -> None:
    """Grok's thumbnail link and an extra field named like a link are signed like the
    video's: left out; the answer's other fields are kept."""
    record = finished()
    extras = (("ratio", "1:1"), ("gif_url", "https://cdn.example/a.gif?sig=9"), ("upscaled", True))
    result = replace(record.result, thumbnail_url="https://cdn.example/t.jpg?sig=7", extras=extras)
    data = sidecar.sidecar_data(replace(record, result=result), Path("x.mp4"), 1)
    assert "thumbnail_url" not in data
    assert data["extras"] == {"ratio": "1:1", "upscaled": True}
    assert "sig=" not in sidecar.sidecar_text(data)


def test_the_sidecar_has_every_field_of_the_record_but_the_excluded_ones() -> None:
    """Derived from the one field list: a field added to the record (the create request)
    is in the sidecar with nothing to update."""
    data = sidecar.sidecar_data(finished(), Path("x.mp4"), 1)
    every = {spec.name for spec in (*fields.TASK_FIELDS, *fields.RESULT_FIELDS)}
    assert every - set(SIDECAR_EXCLUDED) <= set(data)
    assert not set(SIDECAR_EXCLUDED) & set(data)
    assert set(SIDECAR_EXCLUDED) <= every  # each exclusion names a real field


async def test_the_sidecar_never_holds_the_key_and_is_inert_in_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = 'sk-side"car-canary-7731'
    monkeypatch.setattr("vidwatch.core.runtime.logs._secrets", {canary})
    record = finished(
        prompt=f"echoed {canary} \x1b[31mred\x1b[0m \u202eevil",
        url="https://cdn.example/v/x.mp4?key=" + canary.replace('"', ""),
    )
    record = replace(record, result=replace(record.result, fail_reason=canary, error=canary))
    video, _ = await fetch(tmp_path, record)
    raw = video.with_suffix(".json").read_bytes()
    text = raw.decode("utf-8")
    assert canary not in text
    assert canary.replace('"', '\\"') not in text
    assert "sk-side" not in text
    assert "echoed ***" in json.loads(text)["enhanced_prompt"]
    assert b"\x1b" not in raw
    assert "\u202e" not in text
    assert "\\u001b" in text  # escaped, as an export is
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


async def test_a_re_download_rewrites_its_sidecar(tmp_path: Path) -> None:
    video, _ = await fetch(tmp_path, finished(prompt="first"))
    video.unlink()  # the user deleted the video: it is fetched again, to the same name
    again, _ = await fetch(tmp_path, finished(prompt="second"))
    assert again == video
    data = json.loads(video.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["enhanced_prompt"] == "second"


async def test_a_video_already_on_disk_gets_its_missing_sidecar(tmp_path: Path) -> None:
    """Saved before sidecars existed (or the sidecar was deleted): asking again writes it."""
    video, _ = await fetch(tmp_path, finished())
    side = video.with_suffix(".json")
    side.unlink()
    record = finished(prompt="now with a sidecar")
    record = replace(record, task=record.task.with_saved_to(str(video)))
    async with Downloader(tmp_path, transport=mock(serve), free_space=plenty) as downloader:
        result = await downloader.download(record)
    assert result.skipped
    assert json.loads(side.read_text(encoding="utf-8"))["enhanced_prompt"] == "now with a sidecar"


async def test_a_json_file_of_the_users_is_never_replaced(tmp_path: Path) -> None:
    record = finished(label="clip", task_id="grok:1")
    mine = tmp_path / "clip [1].json"
    mine.write_text('{"my": "notes"}')
    video, _ = await fetch(tmp_path, record)
    assert video.name == "clip [1] (2).mp4"  # the name whose sidecar name is free
    assert mine.read_text() == '{"my": "notes"}'
    assert json.loads(video.with_suffix(".json").read_text())["id"] == "grok:1"
    # a video already on disk beside the user's file: the file is kept, and the user told
    other = tmp_path / "kept [9].mp4"
    other.write_bytes(BODY)
    (tmp_path / "kept [9].json").write_text("not json at all")
    saved = replace(record, task=record.task.with_saved_to(str(other)))
    async with Downloader(tmp_path, transport=mock(serve), free_space=plenty) as downloader:
        result = await downloader.download(saved)
    assert result.skipped
    assert "kept [9].json is not vidwatch's, so no sidecar was written" in result.message
    assert (tmp_path / "kept [9].json").read_text() == "not json at all"


async def test_videos_differing_only_by_suffix_get_their_own_sidecars(tmp_path: Path) -> None:
    mp4 = finished(task_id="a:1", label="clip", url="https://cdn.example/v/x.mp4")
    webm = finished(task_id="b:1", label="clip", url="https://cdn.example/v/x.webm")

    def both(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=BODY)

    async with Downloader(tmp_path, transport=mock(both), free_space=plenty) as downloader:
        results = await downloader.download_all([mp4, webm])
    assert all(r.ok for r in results), results
    # Downloaded at once: whichever is first takes the plain name, the other gets "(2)".
    videos = sorted(p for p in tmp_path.iterdir() if p.suffix != ".json")
    assert sorted(v.suffix for v in videos) == [".mp4", ".webm"]
    assert sorted(v.stem for v in videos) == ["clip [1]", "clip [1] (2)"]
    assert len(list(tmp_path.iterdir())) == 4  # a sidecar each, named after its video
    for video in videos:
        owner = json.loads(video.with_suffix(".json").read_text())["id"]
        assert owner == ("a:1" if video.suffix == ".mp4" else "b:1")


async def test_a_sidecar_that_cannot_be_written_leaves_the_video_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path, data: bytes, *, mode: int | None = None) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sidecar, "atomic_write", full)
    video, message = await fetch(tmp_path, finished())
    assert video.read_bytes() == BODY
    side = video.with_suffix(".json").name
    assert (
        message
        == f"saved to {video}; the sidecar {side} could not be written (No space left on device)"
    )


def test_a_cost_learned_after_the_download_reaches_the_sidecar(tmp_path: Path) -> None:
    """Issue 19: the sidecar says what the job cost, also when the request log was read
    after the video was saved; only vidwatch's sidecar of that very task is rewritten."""
    from decimal import Decimal

    from vidwatch.core.model.money import Cost

    video = tmp_path / "cow.mp4"
    video.write_bytes(BODY)
    record = finished()
    record = replace(record, task=record.task.with_saved_to(str(video)))
    path = sidecar.write_sidecar(record, video, len(BODY))
    before = json.loads(path.read_text(encoding="utf-8"))
    assert before["cost"] is None
    cost = Cost(200_000, 0, Decimal("0.40"), "USD", "task id", "sora-2", T0, "k1")
    costed = replace(record, task=record.task.with_cost(cost))
    assert sidecar.note_cost(costed)
    after = json.loads(path.read_text(encoding="utf-8"))
    assert after["cost"]["amount"] == "0.40"
    assert after["cost"]["unit"] == "USD"
    assert {k: v for k, v in after.items() if k != "cost"} == {
        k: v for k, v in before.items() if k != "cost"
    }  # downloaded_at and the rest as they were
    assert not sidecar.note_cost(costed)  # already there: not written again
    other = replace(costed, task=replace(costed.task, id="sora-2:another"))
    assert not sidecar.note_cost(other)  # another task's sidecar is left alone
    path.write_text('{"mine": true}\n', encoding="utf-8")
    assert not sidecar.note_cost(costed)  # the user's own file is never replaced
    assert path.read_text(encoding="utf-8") == '{"mine": true}\n'
