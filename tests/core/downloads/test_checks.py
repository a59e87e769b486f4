"""Issue 12 item 1: downloads are bounded (free space, Content-Length, max_download_mb, a
full disk), written as sent, never spliced from two files on a resume, and committed only
when they are really a video. No test fills a disk: the free space is a pretend one."""

from __future__ import annotations

import asyncio
import errno
import gzip
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from vidwatch.cli import EXIT_FAILED
from vidwatch.core.downloads import fetch as downloads
from vidwatch.core.downloads.fetch import (
    MB,
    MIN_FREE,
    Downloader,
    DownloadResult,
    safe_filename,
)
from vidwatch.core.downloads.filenames import task_tag
from vidwatch.core.model.records import State

from tests.cli.test_cli import Run
from tests.cli.test_input import hand_edited
from tests.core.downloads.test_fetch import MP4_HEAD, clip, mock, video
from tests.support.dashboard import make_app, record
from tests.support.waits import until

pytestmark = pytest.mark.e2e

URL = "https://cdn.example/v/clip.mp4"
PLENTY = 1 << 50  # bytes free on the pretend disk when space is not the point


def plenty(folder: Path) -> int:
    return PLENTY


def leftovers(folder: Path) -> list[str]:
    """Every file in ``folder``: after a refused download, none (no video, no part, no
    note, no lock)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class Chunks(httpx.AsyncByteStream):
    """A body sent in pieces, as a network sends it; counts what was taken from it."""

    def __init__(self, pieces: Iterator[bytes], gate: asyncio.Event | None = None) -> None:
        self.pieces = pieces
        self.gate = gate
        self.started = asyncio.Event()
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        for piece in self.pieces:
            self.sent += len(piece)
            yield piece


def pieces(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    return (body[i : i + size] for i in range(0, len(body), size))


def streamed(
    body: Chunks, headers: dict[str, str] | None = None, status: int = 200
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers or {}, stream=body)

    return httpx.MockTransport(handler)


# --------------------------------------------------------------------------- (a) sizes


@pytest.mark.parametrize(
    ("size", "free", "fits"),
    [
        (1000, MIN_FREE + 1000, True),  # exactly the video and the margin
        (1000, MIN_FREE + 999, False),
        # 8 GiB: the margin is 5 % of the video (410 MB), more than the 256 MB floor
        (8192 * MB, 8192 * MB + 300 * MB, False),
    ],
)
async def test_a_video_that_will_not_fit_is_refused_before_a_byte_is_written(
    tmp_path: Path, size: int, free: int, fits: bool
) -> None:
    body = Chunks(pieces(clip(b"v", min(size, 1000))))
    headers = {"Content-Length": str(size), "Content-Type": "video/mp4"}
    async with Downloader(
        tmp_path, transport=streamed(body, headers), max_bytes=16384 * MB, free_space=lambda f: free
    ) as downloader:
        result = await downloader.download(video("grok:1", "big", URL))
    if fits:
        assert result.ok, result.message
        return
    assert not result.ok
    assert f"not enough free space in {tmp_path}" in result.message
    assert "vidwatch leaves" in result.message
    assert body.sent == 0  # refused on the headers
    assert leftovers(tmp_path) == []


async def test_downloads_under_way_count_against_the_free_space(tmp_path: Path) -> None:
    """Each of two videos fits alone, not both: the second is refused while the first
    is still coming, and the first finishes."""
    gate = asyncio.Event()
    first_body = Chunks(pieces(clip(b"1", 1000)), gate)
    second_body = Chunks(pieces(clip(b"2", 1000)))

    def handler(request: httpx.Request) -> httpx.Response:
        body = first_body if request.url.path == "/v/1.mp4" else second_body
        return httpx.Response(200, headers={"Content-Length": "1000"}, stream=body)

    first = video("grok:1", "one", "https://cdn.example/v/1.mp4")
    second = video("grok:2", "two", "https://cdn.example/v/2.mp4")
    async with Downloader(
        tmp_path, transport=httpx.MockTransport(handler), free_space=lambda f: MIN_FREE + 1500
    ) as downloader:
        one = asyncio.create_task(downloader.download(first))
        await first_body.started.wait()  # its headers are in: its 1000 bytes are owed
        two = await downloader.download(second)
        gate.set()
        done = await one
    assert done.ok, done.message
    assert not two.ok
    assert "not enough free space" in two.message
    assert second_body.sent == 0


async def test_a_body_past_its_content_length_is_stopped_and_removed(tmp_path: Path) -> None:
    body = Chunks(pieces(clip(b"x", 1_000_000), 256 * 1024))
    headers = {"Content-Length": "300000", "Content-Type": "video/mp4"}
    async with Downloader(
        tmp_path, transport=streamed(body, headers), free_space=plenty
    ) as downloader:
        result = await downloader.download(video("grok:1", "clip", URL))
    assert not result.ok
    assert "more than the 300,000 bytes it announced" in result.message
    assert body.sent < 1_000_000  # stopped, not read to the end
    assert leftovers(tmp_path) == []


async def test_a_resumed_body_past_its_range_is_stopped_and_removed(tmp_path: Path) -> None:
    """The 206 sibling: the rest of the file, then more than the file's size."""
    whole = clip(b"r", 400_000)
    record = video("grok:1", "clip", URL)
    cut = Chunks(pieces(whole[:100_000]))
    async with Downloader(
        tmp_path,
        transport=streamed(cut, {"Content-Length": "400000", "ETag": '"a"'}),
        free_space=plenty,
    ) as downloader:
        assert not (await downloader.download(record)).ok
    too_long = Chunks(pieces(whole[100_000:] + b"\x00" * 500_000))
    rest = {"Content-Range": "bytes 100000-399999/400000", "ETag": '"a"'}
    async with Downloader(
        tmp_path, transport=streamed(too_long, rest, 206), free_space=plenty
    ) as downloader:
        result = await downloader.download(record)
    assert not result.ok
    assert "more than the 400,000 bytes it announced" in result.message
    assert leftovers(tmp_path) == []


async def test_a_video_over_the_cap_is_refused_on_its_headers(tmp_path: Path) -> None:
    body = Chunks(pieces(clip(b"x", 1000)))
    headers = {"Content-Length": str(10 * 1024 * MB), "Content-Type": "video/mp4"}  # 10 GiB
    async with Downloader(
        tmp_path, transport=streamed(body, headers), free_space=plenty
    ) as downloader:  # the default cap: 4096 MB
        result = await downloader.download(video("grok:1", "huge", URL))
    assert not result.ok
    assert "the video is 10,240 MB, over max_download_mb (4,096 MB)" in result.message
    assert body.sent == 0
    assert leftovers(tmp_path) == []


async def test_a_body_of_no_stated_size_is_stopped_at_the_cap(tmp_path: Path) -> None:
    body = Chunks(pieces(clip(b"x", 10 * MB)))  # chunked: no Content-Length
    async with Downloader(
        tmp_path, transport=streamed(body), max_bytes=1 * MB, free_space=plenty
    ) as downloader:
        result = await downloader.download(video("grok:1", "endless", URL))
    assert not result.ok
    assert "passed max_download_mb (1.0 MB) and was stopped" in result.message
    assert body.sent <= 1 * MB + 64 * 1024
    assert leftovers(tmp_path) == []


async def test_a_disk_filling_up_during_a_download_stops_it_with_room_to_spare(
    tmp_path: Path,
) -> None:
    """A pretend disk whose free space is what the folder's files have not taken: a body
    of no stated size is stopped before the disk is left with less than the margin."""
    capacity = MIN_FREE + 1 * MB
    lowest: list[int] = []

    def disk(folder: Path) -> int:
        free = capacity - sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        lowest.append(free)
        return free

    body = Chunks(pieces(clip(b"x", 3 * MB)))
    async with Downloader(tmp_path, transport=streamed(body), free_space=disk) as downloader:
        result = await downloader.download(video("grok:1", "clip", URL))
    assert not result.ok
    assert "the disk is nearly full" in result.message
    assert "partial file removed" in result.message
    assert min(lowest) >= MIN_FREE
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EDQUOT, "the disk quota is used up"),
        (errno.EFBIG, "cannot hold a file this big"),
    ],
)
async def test_a_full_disk_mid_write_removes_the_part_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, said: str
) -> None:
    real = downloads._write_chunk
    writes: list[int] = []

    def write(out: object, data: bytes) -> None:
        writes.append(len(data))
        if len(writes) == 2:
            raise OSError(code, "No space left on device")
        real(out, data)  # type: ignore[arg-type]

    monkeypatch.setattr(downloads, "_write_chunk", write)
    whole = clip(b"x", 1 * MB)

    def handler(request: httpx.Request) -> httpx.Response:
        body = Chunks(pieces(whole, 256 * 1024))
        return httpx.Response(200, headers={"Content-Length": str(len(whole))}, stream=body)

    record = video("grok:1", "clip", URL)
    async with Downloader(
        tmp_path, transport=httpx.MockTransport(handler), free_space=plenty
    ) as downloader:
        result = await downloader.download(record)
        assert not result.ok
        assert said in result.message
        assert str(tmp_path) in result.message
        assert "partial file removed" in result.message
        assert leftovers(tmp_path) == []
        monkeypatch.setattr(downloads, "_write_chunk", real)  # space again: downloads work
        again = await downloader.download(record)
    assert again.ok, again.message
    assert again.path is not None
    assert again.path.read_bytes() == whole


# --------------------------------------------------------------------------- loopback host


@dataclass
class Answer:
    """What the loopback host sends: a status, headers, a body, cut short or not."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    cut: int | None = None  # drop the connection after this many bytes
    encoding: str | None = None


@dataclass
class Host:
    answer: Callable[[web.Request], Answer]
    seen: list[tuple[str, str]] = field(default_factory=list)  # (Range, If-Range) asked
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.headers.get("Range", ""), request.headers.get("If-Range", "")))
        answer = self.answer(request)
        headers = {"Content-Type": "video/mp4", **answer.headers}
        if answer.encoding:
            headers["Content-Encoding"] = answer.encoding
        response = web.StreamResponse(status=answer.status, headers=headers)
        response.content_length = len(answer.body)
        await response.prepare(request)
        if answer.cut is not None:
            await response.write(answer.body[: answer.cut])
            assert request.transport is not None
            request.transport.close()  # what was written is sent, then the connection ends
            return response
        await response.write(answer.body)
        await response.write_eof()
        return response


@pytest.fixture
async def host() -> AsyncIterator[Host]:
    served = Host(lambda request: Answer(b""))
    app = web.Application()
    app.router.add_get("/v/clip.mp4", served.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    served.url = f"http://127.0.0.1:{port}/v/clip.mp4"
    yield served
    await runner.cleanup()


# --------------------------------------------------------------------------- (b) as sent


async def test_a_mislabelled_encoding_is_written_as_sent(host: Host, tmp_path: Path) -> None:
    """``Content-Encoding: gzip`` over a plain MP4: decoding would fail or corrupt it; the
    file holds exactly the bytes sent."""
    sent = clip(bytes(range(256)), 64 * 1024)
    host.answer = lambda request: Answer(sent, encoding="gzip")
    async with Downloader(tmp_path, free_space=plenty) as downloader:  # production transport
        result = await downloader.download(video("grok:gz", "gz", host.url))
    assert result.ok, result.message
    assert result.path is not None
    assert result.path.read_bytes() == sent
    assert result.size == len(sent)


async def test_a_gzip_bomb_is_never_inflated_nor_saved(host: Host, tmp_path: Path) -> None:
    """A 64 MiB video squeezed into 64 KiB of gzip: the bytes sent are not a video, so
    nothing is saved, and nothing was ever inflated."""
    inflated = 64 * MB
    sent = gzip.compress(MP4_HEAD + bytes(inflated - len(MP4_HEAD)))
    assert len(sent) < inflated // 200
    host.answer = lambda request: Answer(sent, encoding="gzip")
    async with Downloader(tmp_path, free_space=plenty) as downloader:
        result = await downloader.download(video("grok:gz", "gz", host.url))
    assert not result.ok
    assert result.message == (
        "the server sent gzip-compressed data (Content-Encoding: gzip), not a video"
    )
    assert leftovers(tmp_path) == []
    assert host.seen == [("", "")]


# --------------------------------------------------------------------------- (c) resumes

SIZE = 200_000
CUT = 64 * 1024
OLD = clip(b"A", SIZE)  # the file when the download started
NEW = clip(b"B", SIZE)  # the file at the same URL later (re-rendered, replaced)
LONGER = clip(b"C", SIZE + 5000)
MONDAY = "Mon, 01 Jan 2024 00:00:00 GMT"
TUESDAY = "Tue, 02 Jan 2024 00:00:00 GMT"


Resume = Callable[[int], Answer]  # the answer to a request for the rest from a byte


def rest(body: bytes, headers: dict[str, str]) -> Resume:
    """A 206 with the rest of ``body``, whatever the If-Range said."""

    def answer(start: int) -> Answer:
        span = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
        return Answer(body[start:], {**span, **headers}, 206)

    return answer


# The headers of the first answer, the answer to the resume, the file a request for the
# whole gets afterwards, and whether the resume continues the same file.
SPLICES: dict[str, tuple[dict[str, str], Resume, bytes, bool]] = {
    "same ETag: resumed": ({"ETag": '"a"'}, rest(OLD, {"ETag": '"a"'}), OLD, True),
    "same ETag, Last-Modified left out: resumed": (
        {"ETag": '"a"', "Last-Modified": MONDAY},
        rest(OLD, {"ETag": '"a"'}),
        OLD,
        True,
    ),
    "same Last-Modified: resumed": (
        {"Last-Modified": MONDAY},
        rest(OLD, {"Last-Modified": MONDAY}),
        OLD,
        True,
    ),
    "ETag differs from If-Range": ({"ETag": '"a"'}, rest(NEW, {"ETag": '"b"'}), NEW, False),
    "Last-Modified differs": (
        {"Last-Modified": MONDAY},
        rest(NEW, {"Last-Modified": TUESDAY}),
        NEW,
        False,
    ),
    "206 without the first answer's ETag": ({"ETag": '"a"'}, rest(NEW, {}), NEW, False),
    "206 with a validator the first answer lacked": ({}, rest(NEW, {"ETag": '"b"'}), NEW, False),
    "Content-Range starts elsewhere": (
        {"ETag": '"a"'},
        lambda start: Answer(
            OLD, {"ETag": '"a"', "Content-Range": f"bytes 0-{SIZE - 1}/{SIZE}"}, 206
        ),
        OLD,
        False,
    ),
    "Content-Range of another total": (
        {"ETag": '"a"'},
        rest(LONGER, {"ETag": '"a"'}),
        LONGER,
        False,
    ),
    "Content-Range missing": (
        {"ETag": '"a"'},
        lambda start: Answer(OLD[start:], {"ETag": '"a"'}, 206),
        OLD,
        False,
    ),
}


@pytest.mark.parametrize("case", sorted(SPLICES))
async def test_a_resume_never_splices_two_files(host: Host, tmp_path: Path, case: str) -> None:
    """The first download is cut; the resume's answer either continues the very same
    file, or the download starts over from zero: the saved file is always one file."""
    first_headers, resumed, later, usable = SPLICES[case]
    host.answer = lambda request: Answer(OLD, first_headers, cut=CUT)
    record = video("grok:1", "clip", host.url)
    async with Downloader(tmp_path, free_space=plenty) as downloader:
        cut = await downloader.download(record)
    assert not cut.ok
    parts = list(tmp_path.glob("*.part"))
    assert [p.stat().st_size for p in parts] == [CUT]

    def answer(request: web.Request) -> Answer:
        asked = request.headers.get("Range", "")
        if asked:
            return resumed(int(asked.removeprefix("bytes=").rstrip("-")))
        return Answer(later, first_headers)

    host.answer = answer
    async with Downloader(tmp_path, free_space=plenty) as downloader:
        result = await downloader.download(record)
    assert result.ok, result.message
    assert result.path is not None
    assert result.path.read_bytes() == (OLD if usable else later)
    ranges = [asked for asked, _ in host.seen]
    assert ranges == (["", f"bytes={CUT}-"] if usable else ["", f"bytes={CUT}-", ""])
    assert list(tmp_path.glob("*.part*")) == []


# --------------------------------------------------------------------------- (d) videos only

PAGE = (
    b"<!DOCTYPE html><html><head><title>Access denied \x1b]0;pwned\x07\xe2\x80\xae</title>"
    b"<style>p{}</style></head><body><h1>Access denied</h1><p>You do not have access.</p>"
)


@pytest.mark.parametrize(
    ("content_type", "body", "said"),
    [
        ("text/html; charset=utf-8", PAGE, "a web page (text/html), not a video: 'Access denied'"),
        ("application/xhtml+xml", PAGE, "a web page (application/xhtml+xml), not a video"),
        (
            "application/json",
            b'{"error": "link expired"}',
            """JSON (application/json), not a video: '{"error": "link expired"}'""",
        ),
        ("application/problem+json", b"{}", "JSON (application/problem+json), not a video"),
        ("application/xml", b"<Error>AccessDenied</Error>", "XML (application/xml)"),
        ("text/plain", b"Forbidden", "text (text/plain), not a video: 'Forbidden'"),
        ("image/png", b"\x89PNG\r\n\x1a\n" + bytes(64), "an image (image/png)"),
        # a type that may be a video, and bytes that are not one
        ("application/octet-stream", PAGE, "a web page, not a video: 'Access denied'"),
        ("video/mp4", b"<html><body>Access denied by policy</body></html>", "a web page"),
        ("", b'{"code": "expired"}', """JSON, not a video: '{"code": "expired"}'"""),
        ("video/mp4", b"PK\x03\x04" + bytes(64), "a ZIP archive, not a video"),
        ("video/mp4", b"GIF89a" + bytes(64), "an image (GIF), not a video"),  # as .mp4
        ("video/mp4", b"#EXTM3U\n#EXT-X-VERSION:3\n", "a playlist (M3U), not a video file"),
        ("video/mp4", bytes(range(40)), "data in no video format (it starts 00 01 02 03"),
        ("video/mp4", b"tiny", "text, not a video"),
    ],
)
async def test_only_a_video_is_committed_and_the_message_says_what_came(
    tmp_path: Path, content_type: str, body: bytes, said: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        return httpx.Response(200, headers=headers, content=body)

    async with Downloader(tmp_path, transport=mock(handler), free_space=plenty) as downloader:
        result = await downloader.download(video("grok:1", "clip", URL))
    assert not result.ok
    assert result.message.startswith("the server sent ")
    assert said in result.message
    for hidden in ("\x1b", "\x07", "\u202e"):
        assert hidden not in result.message
    assert len(result.message) < 200
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("content_type", "head", "suffix"),
    [
        ("video/mp4", MP4_HEAD, ".mp4"),
        ("video/quicktime", b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", ".mov"),
        ("video/quicktime", b"\x00\x00\x01\x00moov", ".mov"),
        ("video/mp4", b"\x00\x00\x00\x08free", ".mp4"),
        ("video/webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", ".webm"),
        ("application/octet-stream", b"\x1a\x45\xdf\xa3\x01\x00\x00\x00", ".mkv"),
        ("binary/octet-stream", b"RIFF\x00\x10\x00\x00AVI LIST", ".avi"),
        ("", MP4_HEAD, ".mp4"),
        ("image/gif", b"GIF89a\x10\x00\x10\x00", ".gif"),
    ],
)
async def test_every_common_container_is_accepted(
    tmp_path: Path, content_type: str, head: bytes, suffix: str
) -> None:
    body = head + bytes(range(256)) * 8

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        return httpx.Response(200, headers=headers, content=body)

    record = video("grok:1", "clip", f"https://cdn.example/v/clip{suffix}")
    async with Downloader(tmp_path, transport=mock(handler), free_space=plenty) as downloader:
        result = await downloader.download(record)
    assert result.ok, result.message
    assert result.path is not None
    assert result.path.suffix == suffix
    assert result.path.read_bytes() == body


async def test_a_long_page_title_is_cut_in_the_message(tmp_path: Path) -> None:
    title = "Denied " * 40
    page = f"<html><title>{title}</title></html>".encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=page)

    async with Downloader(tmp_path, transport=mock(handler), free_space=plenty) as downloader:
        result = await downloader.download(video("grok:1", "clip", URL))
    assert not result.ok
    quoted = result.message.split(": ", 1)[1]
    assert quoted.startswith("'Denied Denied")
    assert quoted.endswith("…'")
    assert len(quoted) <= 82


async def test_a_part_that_is_not_a_video_is_never_continued(tmp_path: Path) -> None:
    """A ``.part`` left by an older vidwatch that saved a web page: the download starts
    over rather than append a video to it."""
    record = video("grok:1", "clip", URL)
    name = safe_filename(record)
    part = tmp_path / f"{name}.{task_tag(record.id)}.part"
    part.write_bytes(PAGE[:1000])
    note = '{"path": "/v/clip.mp4", "total": 3000, "etag": "\\"a\\""}'
    part.with_name(part.name + ".json").write_text(note)
    whole = clip(b"v", 3000)
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("range", ""))
        if "range" in request.headers:
            return httpx.Response(
                206,
                headers={"Content-Range": "bytes 1000-2999/3000", "ETag": '"a"'},
                content=whole[1000:],
            )
        return httpx.Response(200, headers={"ETag": '"a"'}, content=whole)

    async with Downloader(tmp_path, transport=mock(handler), free_space=plenty) as downloader:
        result = await downloader.download(record)
    assert result.ok, result.message
    assert asked == [""]
    assert result.path is not None
    assert result.path.read_bytes() == whole


# --------------------------------------------------------------------------- the config's cap


def test_vidwatch_download_takes_its_cap_from_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("max_download_mb = 7\n", encoding="utf-8")
    run = Run(tmp_path)
    hand_edited(run, ("grok:good", "https://v.example/a.mp4", ""))
    caps: list[int] = []

    async def fake_all(
        self: Downloader, records: list[object], progress: object
    ) -> list[DownloadResult]:
        caps.append(self.budget.max_bytes)
        return [DownloadResult.failed("grok:good", "refused")]

    monkeypatch.setattr(Downloader, "download_all", fake_all)
    code, _, err = run("--config", str(config), "download", "--dir", str(tmp_path / "v"))
    assert caps == [7 * MB]
    assert code == EXIT_FAILED
    assert "refused" in err


async def test_the_dashboard_takes_its_cap_from_the_config(tmp_path: Path) -> None:
    h = make_app(tmp_path, [record("grok:a", State.SUCCEEDED, label="cow", url=URL)])
    folder = tmp_path / "videos"
    h.app.config = replace(h.app.config, download_dir=folder, max_download_mb=1)
    body = Chunks(pieces(clip(b"x", 2 * MB)))
    h.app.downloader_transport = streamed(body, {"Content-Length": str(2 * MB)})
    async with h.app.run_test(size=(160, 30)) as pilot:
        await pilot.press("D")
        await until(pilot, lambda: "max_download_mb" in h.last_toast())
    assert "Not downloaded: cow: the video is 2.0 MB, over max_download_mb (1.0 MB)" in (
        h.last_toast()
    )
    assert body.sent == 0
    assert leftovers(folder) == []
