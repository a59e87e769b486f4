"""The messages between vidwatch and its decoder process (:mod:`vidwatch.core.media.child`).

Each message is a frame: two 4-byte big-endian lengths (the header's, the payload's), a
JSON object (the header), then the payload's bytes. Both sides refuse a frame over its
caps before reading it: the decoder's output is hostile too (a crafted video may make it
say anything), so what vidwatch reads from it is bounded by :data:`MAX_HEADER` and the
payload cap the reader gives.

Standard library only: the decoder imports this before it imports PyAV.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any, BinaryIO, Final

__all__ = [
    "MAX_HEADER",
    "Frame",
    "ProtocolError",
    "encode",
    "read_frame",
    "read_frame_async",
]

MAX_HEADER: Final = 64 * 1024
_LENGTHS: Final = struct.Struct(">II")

Frame = tuple[dict[str, Any], bytes]


class ProtocolError(Exception):
    """A frame that breaks the rules: too long, not JSON, not an object, cut short."""


def encode(header: dict[str, Any], payload: bytes = b"") -> bytes:
    """One frame: ``header`` as JSON, then ``payload``."""
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(text) > MAX_HEADER:
        raise ProtocolError("header too long")
    return _LENGTHS.pack(len(text), len(payload)) + text + payload


def _lengths(raw: bytes, max_payload: int) -> tuple[int, int]:
    if len(raw) != _LENGTHS.size:
        raise ProtocolError("the other side closed")
    header, payload = _LENGTHS.unpack(raw)
    if header > MAX_HEADER or payload > max_payload:
        raise ProtocolError(f"a message of {header + payload:,} bytes, over the cap")
    return header, payload


def _header(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("a header that is not JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError("a header that is not an object")
    return value


def read_frame(stream: BinaryIO, max_payload: int) -> Frame:
    """The next frame from a blocking stream (the decoder's side)."""
    header_size, payload_size = _lengths(_exactly(stream, _LENGTHS.size), max_payload)
    header = _header(_exactly(stream, header_size))
    payload = _exactly(stream, payload_size)
    if len(payload) != payload_size:
        raise ProtocolError("the other side closed")
    return header, payload


def _exactly(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    if len(data) != size:
        raise ProtocolError("the other side closed")
    return data


async def read_frame_async(reader: asyncio.StreamReader, max_payload: int) -> Frame:
    """The next frame from the decoder's output (vidwatch's side)."""
    try:
        header_size, payload_size = _lengths(await reader.readexactly(_LENGTHS.size), max_payload)
        header = _header(await reader.readexactly(header_size))
        payload = await reader.readexactly(payload_size) if payload_size else b""
    except asyncio.IncompleteReadError:
        raise ProtocolError("the other side closed") from None
    return header, payload
