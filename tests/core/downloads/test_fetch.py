"""Downloads end to end against the simulator: bytes, resume, expired links, names, no key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from vidwatch.core.downloads.fetch import Downloader, DownloadResult, safe_filename
from vidwatch.core.downloads.filenames import task_tag
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import Ok
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult, utcnow
from vidwatch.simulator.server import Simulator

pytestmark = pytest.mark.e2e


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(jobs=0, seed=21, video_size=300_000)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def finished(sim: Simulator, label: str = "") -> TaskRecord:
    """A job the simulator has finished, as vidwatch knows it after a poll."""
    job_id = sim.add_job(queue_time=0, duration=0, fails=False)  # finished at once
    async with QueryClient(sim.base_url, sim.api_key) as client:
        outcome = await client.query(job_id)
    assert isinstance(outcome, Ok), outcome
    assert outcome.result.video_url
    return TaskRecord(Task(job_id, utcnow(), label), outcome.result)


async def test_a_video_lands_whole_under_its_label_without_the_key(
    sim: Simulator, tmp_path: Path
) -> None:
    record = await finished(sim, "cow take 2")
    seen: list[tuple[int, int | None]] = []
    async with Downloader(tmp_path) as downloader:
        result = await downloader.download(
            record, lambda i, done, total: seen.append((done, total))
        )
    assert result.ok, result.message
    assert result.path is not None
    assert result.path.name.startswith("cow take 2 [")
    assert result.path.suffix == ".mp4"
    assert result.path.read_bytes() == sim.jobs[record.id].video(300_000)
    assert seen[-1] == (300_000, 300_000)
    assert len(seen) > 1  # progress came in steps
    assert list(tmp_path.glob("*.part")) == []
    assert sim.stats.key_sent_to_video_host == 0
    saved = replace(record, task=replace(record.task, saved_to=str(result.path)))
    async with Downloader(tmp_path) as downloader:  # again, as the app knows it: nothing to do
        again = await downloader.download(saved)
    assert again.skipped
    assert again.path == result.path
    assert sim.stats.videos == 1


async def test_an_interrupted_download_resumes_where_it_stopped(
    sim: Simulator, tmp_path: Path
) -> None:
    record = await finished(sim)
    sim.cut_video_after = 100_000
    async with Downloader(tmp_path) as downloader:
        first = await downloader.download(record)
    assert not first.ok
    parts = list(tmp_path.glob("*.part"))
    assert len(parts) == 1
    kept = parts[0].stat().st_size
    assert 0 < kept <= 100_000  # what arrived before the cut is kept
    ranges: list[str] = []
    if_range: list[str] = []

    def spy(request: httpx.Request) -> None:
        ranges.append(request.headers.get("range", ""))
        if_range.append(request.headers.get("if-range", ""))

    async with Downloader(tmp_path) as downloader:
        downloader._client.event_hooks["request"] = [_async(spy)]
        second = await downloader.download(record)
    assert second.ok, second.message
    assert ranges == [f"bytes={kept}-"]
    assert if_range == [f'"{sim.jobs[record.id].server_id}-300000"']  # the same version only
    assert list(tmp_path.glob("*.part.json")) == []  # the part's note goes with it
    assert second.path is not None
    assert second.path.read_bytes() == sim.jobs[record.id].video(300_000)


def _async(fn: Callable[[httpx.Request], None]) -> Callable[[httpx.Request], Awaitable[None]]:
    async def hook(request: httpx.Request) -> None:
        fn(request)

    return hook


async def test_an_expired_link_is_refreshed_by_polling_again(tmp_path: Path) -> None:
    sim = Simulator(jobs=0, seed=22, url_ttl=-60)  # links signed now expired a minute ago
    await sim.start()
    try:
        record = await finished(sim)
        sim.url_ttl = 3600  # asked again, the server signs a fresh link
        refreshes: list[str] = []

        async def refresh(task_id: str) -> str | None:
            refreshes.append(task_id)
            async with QueryClient(sim.base_url, sim.api_key) as client:
                outcome = await client.query(task_id)
            return outcome.result.video_url if isinstance(outcome, Ok) else None

        async with Downloader(tmp_path, refresh=refresh) as downloader:
            result = await downloader.download(record)
        assert result.ok, result.message
        assert refreshes == [record.id]
        assert sim.stats.expired_links == 1
        async with Downloader(tmp_path / "other") as downloader:  # nobody to ask again
            failed = await downloader.download(record)
        assert not failed.ok
        assert "expired" in failed.message
    finally:
        await sim.stop()


async def test_a_short_body_is_caught_by_the_size_check(tmp_path: Path) -> None:
    record = TaskRecord(
        Task("grok:1", utcnow()),
        TaskResult(State.SUCCEEDED, "completed", "https://cdn.example/v.mp4"),
    )

    def full_file(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "1000"}, content=b"y" * 10)

    async with Downloader(tmp_path, transport=mock(full_file)) as downloader:
        result = await downloader.download(record)
    assert not result.ok
    assert "got 10 of 1,000 bytes" in result.message
    assert not (tmp_path / safe_filename(record)).exists()  # never a short file by that name


async def test_a_redirect_to_a_refused_url_is_said_and_not_followed(tmp_path: Path) -> None:
    record = TaskRecord(
        Task("grok:1", utcnow()),
        TaskResult(State.SUCCEEDED, "completed", "https://cdn.example/v.mp4"),
    )
    hosts: list[str] = []

    def hides_its_host(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(302, headers={"Location": "https://cdn.example@evil.example/v"})

    async with Downloader(tmp_path, transport=mock(hides_its_host)) as downloader:
        result = await downloader.download(record)
    assert not result.ok
    assert "a redirect leads to a URL that is refused" in result.message
    assert "evil.example" in result.message
    assert hosts == ["cdn.example"]  # the other host was never asked


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "file:///etc/passwd", "-o/tmp/x", "ftp://host/v.mp4"]
)
async def test_only_http_links_are_fetched(tmp_path: Path, url: str) -> None:
    record = TaskRecord(Task("grok:1", utcnow()), TaskResult(State.SUCCEEDED, "completed", url))
    async with Downloader(tmp_path) as downloader:
        result = await downloader.download(record)
    assert not result.ok
    assert "refused" in result.message


@pytest.mark.parametrize(
    ("label", "task_id", "expected"),
    [
        ("cow", "grok:abc-123", "cow [abc123].mp4"),
        ("", "grok:abc-123", "grok_abc-123.mp4"),
        ("../../etc/passwd", "grok:1", "_.._etc_passwd [1].mp4"),
        ('a/b\\c:d*e?f"g<h>i|j', "x:1", "a_b_c_d_e_f_g_h_i_j [1].mp4"),
        ("CON", "", "_CON.mp4"),
        ("trailing dots...", "v:9", "trailing dots [9].mp4"),
        ("evil\u202etxt.exe\x9b31m", "v:9", "eviltxt.exe [9].mp4"),
        ("COM¹", "", "_COM¹.mp4"),
        ("conin$", "", "_conin$.mp4"),
    ],
)
def test_file_names_are_safe_everywhere(label: str, task_id: str, expected: str) -> None:
    record = TaskRecord(
        Task(task_id or "CON", utcnow(), label),
        TaskResult(State.SUCCEEDED, "completed", "https://cdn.example/v/x.mp4?sig=1"),
    )
    if not task_id:  # a label that is a reserved name, and no ID tag to follow it
        record = TaskRecord(Task(label, utcnow()), record.result)
    name = safe_filename(record)
    assert name == expected
    assert "/" not in name
    assert "\\" not in name
    assert len(name.encode()) <= 160


@pytest.mark.parametrize(
    ("task_id", "label", "ext", "ending"),
    [
        ("grok:1", "一只橘猫" * 80, ".webm", " [1].webm"),
        ("grok:1111aaaa-2222", "日本語のラベル" * 30, ".mp4", " [aaaa2222].mp4"),
    ],
)
def test_a_long_label_is_cut_within_limits_but_the_id_tag_stays(
    task_id: str, label: str, ext: str, ending: str
) -> None:
    record = TaskRecord(
        Task(task_id, utcnow(), label),
        TaskResult(State.SUCCEEDED, "completed", f"https://cdn.example/v/x{ext}"),
    )
    name = safe_filename(record)
    assert name.endswith(ending)
    assert len(name.encode()) <= 150 + len(ext)


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def clip(fill: bytes, size: int) -> bytes:
    """``size`` bytes that start like an MP4, then ``fill`` over and over."""
    return (MP4_HEAD + fill * size)[:size]


def video(task_id: str, label: str, url: str = "https://cdn.example/v/x.mp4") -> TaskRecord:
    return TaskRecord(Task(task_id, utcnow(), label), TaskResult(State.SUCCEEDED, "completed", url))


class _Body(httpx.AsyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data


def mock(
    handler: Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]],
) -> httpx.MockTransport:
    """A MockTransport whose answers stream, as a network's do: httpx reads a ``content=``
    body at once, and ``aiter_raw`` (downloads write the raw bytes) refuses a read body."""

    async def streaming(request: httpx.Request) -> httpx.Response:
        answer = handler(request)
        if not isinstance(answer, httpx.Response):
            answer = await answer
        return httpx.Response(
            answer.status_code, headers=answer.headers, stream=_Body(answer.content)
        )

    return httpx.MockTransport(streaming)


def serve_bodies(bodies: dict[str, bytes]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body = bodies[request.url.path]
        return httpx.Response(200, headers={"Content-Length": str(len(body))}, content=body)

    return mock(handler)


async def test_tasks_never_share_a_file(tmp_path: Path) -> None:
    """Same label, IDs that clean to the same name, case-only differences: each video gets
    its own file, in one run and across runs, and nobody's file is taken for another's."""
    bodies = {f"/v/{n}.mp4": clip(bytes([n]), 1000 + n) for n in range(4)}
    records = [
        video("job:x", "same", "https://cdn.example/v/0.mp4"),
        video("job/x", "same", "https://cdn.example/v/1.mp4"),
        video("JOB:X", "Same", "https://cdn.example/v/2.mp4"),
    ]
    async with Downloader(tmp_path, transport=serve_bodies(bodies)) as downloader:
        results = await downloader.download_all(records)
    assert all(r.ok for r in results), results
    paths = [r.path for r in results]
    assert len({str(p).casefold() for p in paths}) == 3
    for result, n in zip(results, range(3), strict=True):
        assert result.path is not None
        assert result.path.read_bytes() == bodies[f"/v/{n}.mp4"]
    later = video("job?x", "same", "https://cdn.example/v/3.mp4")  # another run, same name
    async with Downloader(tmp_path, transport=serve_bodies(bodies)) as downloader:
        fourth = await downloader.download(later)
    assert fourth.ok
    assert not fourth.skipped  # the file of that name is another task's
    assert fourth.path is not None
    assert fourth.path.read_bytes() == bodies["/v/3.mp4"]
    assert fourth.path.name not in {p.name for p in paths if p is not None}


async def test_many_downloads_started_at_once_each_get_their_own_name(tmp_path: Path) -> None:
    """Names are claimed in worker threads, many at once: no two claims may win one name."""
    count = 48
    bodies = {f"/v/{n}.mp4": clip(n.to_bytes(2, "big"), 1200) for n in range(count)}
    records = [
        video(f"j{n}:{'X' if n % 2 else 'x'}", "batch", f"https://cdn.example/v/{n}.mp4")
        for n in range(count)
    ]
    async with Downloader(tmp_path, parallel=count, transport=serve_bodies(bodies)) as downloader:
        results = await downloader.download_all(records)
    assert all(r.ok for r in results), results
    names = {r.path.name.casefold() for r in results if r.path is not None}
    assert len(names) == count
    for n, result in enumerate(results):
        assert result.path is not None
        assert result.path.read_bytes() == bodies[f"/v/{n}.mp4"]


async def test_two_downloads_of_one_task_never_write_one_file(tmp_path: Path) -> None:
    """D pressed twice, or the dashboard and `vidwatch download` at once: one downloads,
    the other says so, and the saved video is whole."""
    body = clip(bytes(range(256)), 256 * 800)
    gate = asyncio.Event()
    arrived = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await gate.wait()
        return httpx.Response(200, headers={"Content-Length": str(len(body))}, content=body)

    record = video("grok:same", "clip", "https://cdn.example/v/same.mp4")
    async with (
        Downloader(tmp_path, transport=mock(slow)) as first,
        Downloader(tmp_path, transport=mock(slow)) as second,
    ):
        one = asyncio.create_task(first.download(record))
        await arrived.wait()  # the first is fetching: it holds the task's lock
        # Without the lock the second would wait on the same video forever: bound it.
        other = await asyncio.wait_for(second.download(record), 30)
        gate.set()
        done = await one
    assert done.ok, done
    assert not other.ok
    assert "already being downloaded" in other.message
    assert done.path is not None
    assert done.path.read_bytes() == body
    sidecar = done.path.with_suffix(".json").name
    assert sorted(p.name for p in tmp_path.iterdir()) == [sidecar, done.path.name]  # no lock


async def test_a_part_of_another_video_is_not_continued(tmp_path: Path) -> None:
    """A .part left from the first URL (say, before upscaling): the new URL starts over."""
    first = video("grok:1", "", "https://cdn.example/v/draft.mp4")
    cut = {"/v/draft.mp4": clip(b"A", 5000)}

    def cut_short(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "20000"}, content=cut["/v/draft.mp4"])

    async with Downloader(tmp_path, transport=mock(cut_short)) as downloader:
        assert not (await downloader.download(first)).ok
    assert len(list(tmp_path.glob("*.part"))) == 1
    final = video("grok:1", "", "https://cdn.example/v/final.mp4")
    sent: list[httpx.Request] = []

    whole = clip(b"B", 20000)

    def both(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if "range" in request.headers:
            return httpx.Response(
                206, headers={"Content-Range": "bytes 5000-19999/20000"}, content=whole[5000:]
            )
        return httpx.Response(200, headers={"Content-Length": "20000"}, content=whole)

    async with Downloader(tmp_path, transport=mock(both)) as downloader:
        result = await downloader.download(final)
    assert result.ok, result.message
    assert "range" not in sent[0].headers
    assert result.path is not None
    assert result.path.read_bytes() == whole


async def test_downloads_ask_for_bytes_as_stored() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("accept-encoding", ""))
        return httpx.Response(200, content=b"v" * 10)

    async with Downloader(Path("/nonexistent"), transport=mock(handler)) as d:
        await d._client.get("https://cdn.example/v.mp4")
    assert seen == ["identity"]  # no gzip: sizes and ranges count the file's own bytes


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        ("http://cdn.example:99999/v.mp4", None),
        ("http://xn--/v.mp4", None),
        ("https://cdn.example/v.mp4", httpx.Response(200, content=b"")),
        ("https://cdn.example/v.mp4", httpx.Response(410)),
        (
            "https://cdn.example/v.mp4",
            httpx.Response(206, headers=[(b"Content-Range", b"bytes \xb2-9/10")], content=b"x"),
        ),
    ],
)
async def test_one_odd_video_fails_alone(
    tmp_path: Path, url: str, answer: httpx.Response | None
) -> None:
    good = video("grok:good", "good", "https://good.example/v.mp4")
    odd = video("grok:odd", "odd", url)
    part = tmp_path / f"odd [odd].mp4.{task_tag(odd.id)}.part"  # so a range is asked
    part.write_bytes(clip(b"x", 9))
    part.with_name(part.name + ".json").write_text(json.dumps({"path": "/v.mp4", "total": 10}))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "good.example":
            return httpx.Response(200, headers={"Content-Length": "30"}, content=clip(b"a", 30))
        assert answer is not None
        return answer

    async with Downloader(tmp_path, transport=mock(handler)) as downloader:
        results = await downloader.download_all([good, odd])
    assert results[0].ok
    assert not results[1].ok
    assert results[1].message
    if answer is not None and answer.status_code == 410:
        assert "HTTP 410" in results[1].message
    assert (tmp_path / "good [good].mp4").read_bytes() == clip(b"a", 30)


def test_a_result_is_built_by_name_never_by_position(tmp_path: Path) -> None:
    """Six places once wrote ``DownloadResult(id, False, None, 0, why)``: one slip of the
    order and a failure reads as a success. Now only by keyword or a named constructor."""
    with pytest.raises(TypeError):
        DownloadResult("grok:a", False, None, 0, "refused")  # type: ignore[call-arg]
    failed = DownloadResult.failed("grok:a", "refused")
    assert (failed.ok, failed.path, failed.size, failed.skipped) == (False, None, 0, False)
    on_disk = DownloadResult.on_disk("grok:a", tmp_path / "a.mp4", 5, "already on disk")
    assert (on_disk.ok, on_disk.skipped, on_disk.size) == (True, True, 5)
    saved = DownloadResult.saved("grok:a", tmp_path / "a.mp4", 5, "saved")
    assert (saved.ok, saved.skipped, saved.path) == (True, False, tmp_path / "a.mp4")
