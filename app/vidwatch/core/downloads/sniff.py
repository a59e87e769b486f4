"""Is what a video host sent really a video? The declared type and the first bytes.

A CDN that refuses a signed link often answers ``200`` with a web page ("Access
denied"), a JSON error or an XML one; saved under the video's name it would pass for a
finished download. Two checks decide, and both must pass before a file is committed:

* :func:`type_problem`: the ``Content-Type``. ``video/*``, ``application/octet-stream``,
  ``binary/octet-stream`` or none at all may be a video; web pages, text, JSON, XML,
  images (but a GIF saved as ``.gif``) and multipart answers are not. Other types are
  left to the bytes.
* :func:`head_problem`: the first bytes. MP4 and MOV have a box type at offset 4
  (``ftyp``, ``moov``, ``mdat``, ``free``, ``wide``, ``skip``, ``pnot``), WebM and
  Matroska start with the EBML magic ``1A 45 DF A3``, AVI is ``RIFF….AVI ``, and a GIF
  (only when the file is to be a ``.gif``) starts with ``GIF87a``/``GIF89a``.

Each problem is one sentence saying what came back instead, with a short excerpt of a
textual answer, cleaned of escapes and control characters.
"""

from __future__ import annotations

import contextlib
import html
import re
import zlib
from collections.abc import AsyncIterator
from typing import Final

from vidwatch.core.text.sanitize import clean_line

__all__ = ["EXCERPT_BYTES", "HEAD_BYTES", "excerpt", "head_problem", "refusal", "type_problem"]

HEAD_BYTES: Final = 16  # enough for every signature below
EXCERPT_BYTES: Final = 4096  # read of a refused answer, for the excerpt
EXCERPT_CHARS: Final = 80

_MP4_BOXES: Final = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_EBML: Final = b"\x1a\x45\xdf\xa3"
_GIF: Final = (b"GIF87a", b"GIF89a")
_MAYBE_VIDEO: Final = frozenset({"application/octet-stream", "binary/octet-stream"})
_PAGE_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _what_type(mime: str) -> str:
    """``a web page (text/html)``: what an answer of type ``mime`` is, in words."""
    shown = clean_line(mime, 60)
    if mime in _PAGE_TYPES:
        return f"a web page ({shown})"
    if mime.endswith(("/json", "+json")):
        return f"JSON ({shown})"
    if mime.endswith(("/xml", "+xml")):
        return f"XML ({shown})"
    if mime.startswith("text/"):
        return f"text ({shown})"
    if mime.startswith("image/"):
        return f"an image ({shown})"
    return f"{shown}"


def type_problem(content_type: str | None, suffix: str) -> str | None:
    """``None`` when an answer declared as ``content_type`` may be a video saved as
    ``suffix`` (``.mp4``); else what it is instead (``a web page (text/html)``)."""
    mime = _mime(content_type)
    if not mime or mime.startswith("video/") or mime in _MAYBE_VIDEO:
        return None
    if mime == "image/gif" and suffix == ".gif":
        return None
    refused = (
        mime.startswith(("text/", "image/", "multipart/"))
        or mime in _PAGE_TYPES
        or mime.endswith(("/json", "+json", "/xml", "+xml", "/javascript"))
    )
    return _what_type(mime) if refused else None


def is_video_head(head: bytes, suffix: str) -> bool:
    """Whether ``head`` (the first bytes of a file) starts a video container."""
    if len(head) >= 8 and head[4:8] in _MP4_BOXES:
        return True
    if head.startswith(_EBML):
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return True
    return suffix == ".gif" and head.startswith(_GIF)


def head_problem(head: bytes, suffix: str) -> str | None:
    """``None`` when ``head`` starts a video; else what the bytes are instead."""
    if is_video_head(head, suffix):
        return None
    return _what_head(head)


def _what_head(head: bytes) -> str:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--")):
        return "a web page"
    if start.startswith(b"<?xml") or start.startswith(b"<"):
        return "XML or HTML"
    if start.startswith((b"{", b"[")):
        return "JSON"
    if start.startswith(b"#extm3u"):
        return "a playlist (M3U), not a video file"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head.startswith(b"\x89PNG"):
        return "an image (PNG)"
    if head.startswith(b"\xff\xd8\xff"):
        return "an image (JPEG)"
    if head.startswith(_GIF):
        return "an image (GIF)"
    if not head:
        return "nothing"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "text"
    return "data in no video format (it starts " + " ".join(f"{b:02x}" for b in head[:8]) + ")"


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_HIDDEN_HTML = re.compile(rb"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(rb"<[^>]*>")


def excerpt(body: bytes, content_encoding: str | None = None) -> str:
    """A short, clean excerpt of a textual answer (the title or text of a web page, the
    start of a JSON or text body): at most 80 characters, quoted; ``""`` for binary data.
    A compressed body is inflated for this only, at most :data:`EXCERPT_BYTES`."""
    body = body[:EXCERPT_BYTES]
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            body = zlib.decompressobj(wbits=47).decompress(body, EXCERPT_BYTES)
        except zlib.error:
            return ""
    if not body or b"\x00" in body[:512]:
        return ""
    title = _TITLE.search(body)
    if title and title.group(1).strip():
        body = title.group(1)
    elif body.lstrip().startswith(b"<"):
        body = _TAG.sub(b" ", _HIDDEN_HTML.sub(b" ", body))
    text = clean_line(html.unescape(body.decode("utf-8", "replace")), 400)
    if not text:
        return ""
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1].rstrip() + "…"
    return f"'{text}'"


async def refusal(
    what: str, chunks: AsyncIterator[bytes], encoding: str | None, got: bytes = b""
) -> str:
    """``the server sent a web page (text/html), not a video: 'Access denied'``: the
    excerpt from the first bytes of the body (``got``, then more from ``chunks``, at most
    :data:`EXCERPT_BYTES`; a body that breaks off gives what came). A compressed body
    is named as such: its bytes were never decoded."""
    coded = (encoding or "identity").strip().lower()
    if coded != "identity" and what == "gzip-compressed data":
        what += f" (Content-Encoding: {clean_line(coded, 20)})"
    body = bytearray(got[:EXCERPT_BYTES])
    with contextlib.suppress(Exception):  # a broken body: the excerpt is what came
        while len(body) < EXCERPT_BYTES:
            chunk = await anext(chunks, None)
            if chunk is None:
                break
            body += chunk
    quoted = excerpt(bytes(body), encoding)
    return f"the server sent {what}, not a video" + (f": {quoted}" if quoted else "")
