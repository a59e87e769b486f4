"""A video host for tests, as an httpx transport: it serves one video by ranges (or not),
counts what it sent, and remembers every request's headers (the key must never reach it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

__all__ = ["Body", "VideoHost"]


class Body(httpx.AsyncByteStream):
    """A body sent in pieces, as a network sends it."""

    def __init__(self, data: bytes, piece: int = 64 * 1024) -> None:
        self.data = data
        self.piece = piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.piece):
            yield self.data[start : start + self.piece]


@dataclass
class VideoHost:
    """Serves ``video`` at any path (``thumbnail`` at paths ending ``.jpg``)."""

    video: bytes
    thumbnail: bytes = b""
    ranges: bool = True
    content_type: str = "video/mp4"
    declared_size: int | None = None  # a total to claim in Content-Range instead of the real one
    status: int = 0  # answer every video request with this status instead (e.g. 403)
    sent: int = 0
    headers: list[httpx.Headers] = field(default_factory=list)
    ranges_asked: list[str] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        if request.url.path.endswith(".jpg"):
            if not self.thumbnail:
                return httpx.Response(404)
            self.sent += len(self.thumbnail)
            return httpx.Response(
                200, stream=Body(self.thumbnail), headers={"content-type": "image/jpeg"}
            )
        if self.status:
            return httpx.Response(self.status, stream=Body(b"<Error>no</Error>"))
        total = self.declared_size or len(self.video)
        asked = request.headers.get("range")
        kind = {"content-type": self.content_type}
        if asked is None or not self.ranges:
            self.sent += len(self.video)
            headers = {**kind, "content-length": str(total)}
            return httpx.Response(200, stream=Body(self.video), headers=headers)
        self.ranges_asked.append(asked)
        first_text, _, last_text = asked.removeprefix("bytes=").partition("-")
        first = int(first_text)
        last = min(int(last_text), total - 1)
        part = self.video[first : last + 1]
        self.sent += len(part)
        headers = {**kind, "content-range": f"bytes {first}-{last}/{total}"}
        return httpx.Response(206, stream=Body(part), headers=headers)
