"""Reading a video on its host by ranges: a few blocks, never the whole video, never the key."""

from __future__ import annotations

import httpx
import pytest
from vidwatch.core.media.decoder import ReadFailed
from vidwatch.core.media.source import (
    BLOCK,
    Expired,
    RemoteVideo,
    container_format,
    fetch_thumbnail,
    preview_client,
)

from tests.support.video_host import VideoHost

MB = 1024 * 1024
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 40_000  # ~10 MB
URL = "https://cdn.example/v/video.mp4?sig=abc"


def video(host: VideoHost, *, max_bytes: int = 4096 * MB, budget: int = 3 * MB) -> RemoteVideo:
    client = preview_client(timeout=5, connections=2, transport=host.transport())
    return RemoteVideo(client, URL, max_bytes=max_bytes, budget=budget)


async def test_the_size_comes_from_the_first_range_and_only_blocks_asked_for_are_read() -> None:
    host = VideoHost(MP4)
    remote = video(host)
    await remote.open()
    assert remote.size == len(MP4)
    assert host.ranges_asked == [f"bytes=0-{BLOCK - 1}"]  # never HEAD, never the whole video
    assert await remote.read(5 * MB, 100) == MP4[5 * MB : 5 * MB + 100]
    assert await remote.read(5 * MB + 50, 10) == MP4[5 * MB + 50 : 5 * MB + 60]  # kept
    assert remote.fetched == host.sent < 1 * MB
    assert len(host.ranges_asked) == 2
    assert all("authorization" not in h for h in host.headers)


async def test_reading_past_the_budget_stops_with_a_reason() -> None:
    remote = video(VideoHost(MP4), budget=1 * MB)
    await remote.open()

    async def read_on() -> None:
        for offset in range(0, 4 * MB, BLOCK):
            await remote.read(offset, BLOCK)

    with pytest.raises(ReadFailed, match="needs more than"):
        await read_on()
    assert remote.fetched <= 1 * MB + 2 * BLOCK


async def test_a_huge_declared_size_is_refused_before_its_body_is_read() -> None:
    host = VideoHost(MP4, declared_size=50 * 1024 * MB)
    remote = video(host, max_bytes=200 * MB)
    with pytest.raises(ReadFailed, match="over max_download_mb"):
        await remote.open()
    assert remote.fetched == 0


async def test_a_host_without_ranges_is_read_only_as_far_as_needed() -> None:
    host = VideoHost(MP4, ranges=False)
    remote = video(host, budget=2 * MB)
    await remote.open()
    assert await remote.read(100_000, 10) == MP4[100_000:100_010]
    assert remote.fetched < 1 * MB
    with pytest.raises(ReadFailed, match="needs more than"):
        await remote.read(8 * MB, 10)
    await remote.aclose()


async def test_what_is_not_a_video_is_said_so() -> None:
    page = VideoHost(b"<html><body>Access denied</body></html>", content_type="text/html")
    with pytest.raises(ReadFailed) as caught:
        await video(page).open()
    assert "video" in str(caught.value)
    junk = VideoHost(b"PK\x03\x04" + bytes(100_000), content_type="application/octet-stream")
    with pytest.raises(ReadFailed, match="not a video"):
        await video(junk).open()


async def test_an_expired_link_is_told_apart() -> None:
    with pytest.raises(Expired, match="expired"):
        await video(VideoHost(MP4, status=403)).open()


async def test_a_refused_url_is_never_asked_for() -> None:
    host = VideoHost(MP4)
    client = preview_client(timeout=5, connections=1, transport=host.transport())
    remote = RemoteVideo(client, "file:///etc/passwd", max_bytes=MB, budget=MB)
    with pytest.raises(ReadFailed, match="refused"):
        await remote.open()
    assert host.headers == []


def test_the_demuxer_is_named_from_the_first_bytes_only() -> None:
    assert container_format(MP4[:16]) == "mov"
    assert container_format(b"\x1a\x45\xdf\xa3" + bytes(12)) == "matroska"
    assert container_format(b"#EXTM3U\nhttp://x") is None  # a playlist is never opened
    assert container_format(b"<html>" + bytes(10)) is None


async def test_a_thumbnail_must_be_an_image_within_its_cap() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(1000)
    client = preview_client(timeout=5, connections=1, transport=VideoHost(MP4, jpeg).transport())
    assert await fetch_thumbnail(client, "https://img.example/t.jpg") == jpeg
    bad = VideoHost(MP4, b"<html>nope</html>")
    client = preview_client(timeout=5, connections=1, transport=bad.transport())
    with pytest.raises(ReadFailed, match="not a JPEG"):
        await fetch_thumbnail(client, "https://img.example/t.jpg")
    assert isinstance(client, httpx.AsyncClient)
