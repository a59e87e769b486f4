"""Where a preview's bytes come from: a video on its host, read by ranges; the server's own
still (grok's ``thumbnail_url``); a video already downloaded.

A still of a video on a host costs a few of its megabytes, never the whole video:
:class:`RemoteVideo` answers the decoder's reads with HTTP ``Range`` requests in blocks of
:data:`BLOCK` (kept, so a read twice is fetched once). Its first request asks for the first
block: the answer's ``Content-Range`` says how big the video is (signed links often
refuse ``HEAD``), its type and first bytes say whether it is a video at all, and a video
over ``max_download_mb`` is refused before its body is read. A host that ignores ranges
(``200``) is read from the start, as far as the decoder needs and the budget allows.
Every read counts against the preview's budget: a file that makes the decoder wander is
stopped at it.

The requests go through the project's one HTTP stack (``files``: httpx's transport, as
downloads) on a client that never had the key; a redirect is followed (CDNs redirect), and
carries none. Every URL passes the one URL rule before it is asked for.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import httpx

from vidwatch.core.downloads.diskspace import mb_text
from vidwatch.core.downloads.partfile import header_int, range_start_total
from vidwatch.core.downloads.sniff import HEAD_BYTES, head_problem, refusal, type_problem
from vidwatch.core.gateway.http import BodyTooLarge, new_client, read_capped
from vidwatch.core.media.decoder import ReadFailed
from vidwatch.core.text.urls import url_problem

__all__ = [
    "BLOCK",
    "EXPIRED",
    "MAX_THUMBNAIL",
    "Expired",
    "RemoteVideo",
    "container_format",
    "fetch_thumbnail",
    "local_video",
    "preview_client",
]

BLOCK: Final = 256 * 1024
AHEAD: Final = 2  # blocks fetched at once when the decoder reads straight on
KEEP: Final = 64 * 1024 * 1024  # blocks kept for reads again (a filmstrip seeks back)
MAX_THUMBNAIL: Final = 8 * 1024 * 1024
EXPIRED: Final = (401, 403, 410)
_IMAGES: Final = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


class Expired(ReadFailed):
    """The signed link was refused (401/403/410): a fresh one may work."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the video link has expired (HTTP {status})")
        self.status = status


def preview_client(
    *, timeout: float, connections: int, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The client previews read with: no key, redirects followed, bytes as sent."""
    return new_client(
        follow_redirects=True,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        headers={"Accept-Encoding": "identity"},
        connections=connections,
        purpose="files",
        transport=transport,
    )


def container_format(head: bytes) -> str | None:
    """The demuxer that opens a video starting with ``head`` (``mov`` for MP4 and MOV,
    ``matroska`` for WebM and MKV, ``avi``); ``None`` for anything else."""
    if head_problem(head, ".mp4") is not None:
        return None
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF"):
        return "avi"
    return "mov"


def too_big(size: int, max_bytes: int) -> str | None:
    if size > max_bytes:
        return (
            f"the video is {mb_text(size)}, over max_download_mb ({mb_text(max_bytes)}); "
            "no still is read from it"
        )
    return None


def local_video(path: Path) -> tuple[int, bytes]:
    """A downloaded video's size and first bytes (blocking). Raises OSError."""
    with path.open("rb") as handle:
        size = path.stat().st_size
        return size, handle.read(HEAD_BYTES)


class RemoteVideo:
    """A video on its host, read by ranges within ``budget`` bytes (see the module)."""

    def __init__(self, client: httpx.AsyncClient, url: str, *, max_bytes: int, budget: int):
        self.client = client
        self.url = url
        self.max_bytes = max_bytes
        self.budget = budget
        self.size = 0
        self.head = b""
        self.fetched = 0  # bytes received
        self.requests = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._kept = 0
        self._next = 0  # where the last read ended: reading on from there reads ahead
        self._whole: httpx.Response | None = None  # a host that ignores ranges
        self._chunks: AsyncIterator[bytes] | None = None
        self._prefix = bytearray()

    async def open(self) -> None:
        """Ask for the first block: the size, the type, the first bytes. Raises
        :class:`ReadFailed` (:class:`Expired` for a refused link)."""
        problem = url_problem(self.url)
        if problem is not None:
            raise ReadFailed(f"the video URL is refused: {problem}")
        # Like `bytes=0-0`, the first block's range answers with the size in its
        # Content-Range; it also brings the first bytes, in the same round trip.
        request = self.client.build_request(
            "GET", self.url, headers={"Range": f"bytes=0-{BLOCK - 1}"}
        )
        self.requests += 1
        response = await self.client.send(request, stream=True)
        try:
            status = response.status_code
            if status in EXPIRED:
                raise Expired(status)
            if status not in (200, 206):
                raise ReadFailed(f"the video host answered HTTP {status}")
            what = type_problem(response.headers.get("content-type"), ".mp4")
            if what is not None:
                encoding = response.headers.get("content-encoding")
                raise ReadFailed(await refusal(what, response.aiter_raw(), encoding))
            if status == 206:
                start, total = range_start_total(response.headers.get("content-range"))
                if start != 0 or total is None:
                    raise ReadFailed("the video host does not say how big the video is")
            else:
                total = header_int(response.headers.get("content-length"))
                if total is None:
                    raise ReadFailed("the video host does not say how big the video is")
            refused = too_big(total, self.max_bytes)
            if refused is not None:
                raise ReadFailed(refused)
            self.size = total
            if status == 206:
                first = await self._body(response, min(BLOCK, total))
                self._keep(0, first)
                self._next = len(first)
            else:  # no ranges: the answer is the whole video, read as far as needed
                self._whole, response = response, None  # type: ignore[assignment]
                self._chunks = self._whole.aiter_raw()
                await self._pull(min(HEAD_BYTES, total))
            self.head = (await self.read(0, HEAD_BYTES)) if total else b""
            what = head_problem(self.head, ".mp4")
            if what is not None:
                raise ReadFailed(f"the server sent {what}, not a video")
        finally:
            if response is not None:
                await response.aclose()

    async def _body(self, response: httpx.Response, expected: int) -> bytes:
        """A range's body: exactly ``expected`` bytes, counted against the budget."""
        data = bytearray()
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) > expected:
                raise ReadFailed("the video host sent more than was asked for")
        self._count(len(data))
        if len(data) != expected:
            raise ReadFailed(f"the video host sent {len(data):,} of {expected:,} bytes asked for")
        return bytes(data)

    def _count(self, size: int) -> None:
        self.fetched += size
        if self.fetched > self.budget:
            raise ReadFailed(
                f"a still of it needs more than {mb_text(self.budget)} of the video; "
                "download it to see one"
            )

    def _keep(self, block: int, data: bytes) -> None:
        for n in range(0, len(data), BLOCK):
            index = block + n // BLOCK
            piece = data[n : n + BLOCK]
            self._blocks[index] = piece
            self._kept += len(piece)
        while self._kept > KEEP and len(self._blocks) > 1:
            _, dropped = self._blocks.popitem(last=False)
            self._kept -= len(dropped)

    async def read(self, offset: int, length: int) -> bytes:
        """The bytes at ``offset`` (fewer at the end of the video). Raises ReadFailed."""
        length = max(0, min(length, self.size - offset))
        if not length:
            return b""
        if self._whole is not None:
            await self._pull(offset + length)
            return bytes(self._prefix[offset : offset + length])
        first, last = offset // BLOCK, (offset + length - 1) // BLOCK
        missing = [n for n in range(first, last + 1) if n not in self._blocks]
        if missing:
            start, end = missing[0], missing[-1]
            if offset == self._next:  # straight on: ask for a little more at once
                end = max(end, start + AHEAD - 1)
            await self._fetch(start, min(end, (self.size - 1) // BLOCK))
        parts = []
        for n in range(first, last + 1):
            self._blocks.move_to_end(n)
            parts.append(self._blocks[n])
        data = b"".join(parts)
        skip = offset - first * BLOCK
        self._next = offset + length
        return data[skip : skip + length]

    async def _fetch(self, first: int, last: int) -> None:
        begin, end = first * BLOCK, min((last + 1) * BLOCK, self.size) - 1
        self.requests += 1
        headers = {"Range": f"bytes={begin}-{end}"}
        async with self.client.stream("GET", self.url, headers=headers) as response:
            status = response.status_code
            if status in EXPIRED:
                raise Expired(status)
            if status != 206:
                raise ReadFailed(f"the video host answered a range with HTTP {status}")
            start, total = range_start_total(response.headers.get("content-range"))
            if start != begin or total != self.size:
                raise ReadFailed("the video host sent another part, or another video")
            self._keep(first, await self._body(response, end - begin + 1))

    async def _pull(self, until: int) -> None:
        """A host without ranges: read on from the whole answer up to ``until``."""
        assert self._whole is not None
        chunks = self._chunks
        assert chunks is not None
        while len(self._prefix) < until:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                raise ReadFailed("the video host sent less than it announced") from None
            self._count(len(chunk))
            self._prefix += chunk

    async def aclose(self) -> None:
        whole, self._whole = self._whole, None
        if whole is not None:
            with contextlib.suppress(Exception):
                await whole.aclose()


async def fetch_thumbnail(client: httpx.AsyncClient, url: str) -> bytes:
    """The server's still (a JPEG or PNG), at most :data:`MAX_THUMBNAIL`. Raises ReadFailed."""
    problem = url_problem(url)
    if problem is not None:
        raise ReadFailed(f"the thumbnail URL is refused: {problem}")
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise ReadFailed(f"the thumbnail's host answered HTTP {response.status_code}")
        kind = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
        if kind and not kind.startswith("image/") and kind not in ("application/octet-stream",):
            raise ReadFailed(f"the thumbnail's host sent {kind[:60]}, not an image")
        try:
            data = await read_capped(response, MAX_THUMBNAIL)
        except BodyTooLarge:
            raise ReadFailed(f"the thumbnail is over {mb_text(MAX_THUMBNAIL)}") from None
    if not data.startswith(_IMAGES) and not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        raise ReadFailed("the thumbnail is not a JPEG, PNG or WebP image")
    return data
