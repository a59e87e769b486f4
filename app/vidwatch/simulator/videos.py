"""The simulator's videos: real, small MP4s made with PyAV, each job's looking different.

A job's video is made the first time it is asked for (a few tenths of a second) and kept
for the run: a sky in the job's own colours over a ground band, with a sun crossing it,
``seconds`` long at 8 frames a second, in the job's aspect (256 pixels on the long side),
H.264, with an AAC track of silence for the families that make sound (veo, sora), and its
index (``moov``) before its frames ("faststart"), as video hosts serve them. A size asked
for beyond the video's own is made up with a ``free`` box at the end (a valid MP4 still).
:func:`still_jpeg` is a frame of the same picture, as a JPEG: a grok job's thumbnail.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import struct
from functools import lru_cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["FPS", "LONG_SIDE", "dimensions", "faststart", "still_jpeg", "video_file"]

FPS: Final = 8
LONG_SIDE: Final = 256
AUDIO_RATE: Final = 22_050


def dimensions(aspect: str) -> tuple[int, int]:
    """``(256, 144)`` for ``16:9``: the long side 256, both even; 16:9 when unreadable."""
    try:
        w, h = (int(part) for part in aspect.split(":", 1))
    except ValueError:
        w, h = 16, 9
    if w <= 0 or h <= 0:
        w, h = 16, 9
    if w >= h:
        return LONG_SIDE, max(2, round(LONG_SIDE * h / w / 2) * 2)
    return max(2, round(LONG_SIDE * w / h / 2) * 2), LONG_SIDE


def _looks(name: str) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    """The sky, the ground and the sun's colours of a video named ``name``."""
    digest = hashlib.sha256(name.encode()).digest()
    hue = digest[0] / 255

    def rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
        return int(r * 255), int(g * 255), int(b * 255)

    sky = rgb(hue, 0.55 + digest[1] / 600, 0.75)
    ground = rgb(hue + 0.45, 0.6, 0.35 + digest[2] / 800)
    sun = rgb(hue + 0.15, 0.35, 1.0)
    return sky, ground, sun


def _picture(name: str, size: tuple[int, int], at: float) -> Image:
    """The frame of ``name``'s video at ``at`` (0 to 1 of its length)."""
    from PIL import Image, ImageDraw

    width, height = size
    sky, ground, sun = _looks(name)
    image = Image.new("RGB", size, sky)
    draw = ImageDraw.Draw(image)
    for y in range(height // 2):  # the sky lightens towards the horizon
        shade = tuple(min(255, c + y * 60 // max(height, 1)) for c in sky)
        draw.line((0, y, width, y), fill=shade)
    horizon = height * (55 + hashlib.sha256(name.encode()).digest()[3] % 20) // 100
    draw.rectangle((0, horizon, width, height), fill=ground)
    radius = max(4, min(width, height) // 8)
    x = int(-radius + (width + 2 * radius) * at)
    y = int(horizon - (horizon - radius) * 4 * at * (1 - at)) - radius // 2
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=sun)
    return image


@lru_cache(maxsize=64)
def video_file(name: str, aspect: str = "16:9", seconds: float = 4.0, audio: bool = False) -> bytes:
    """The MP4 of the video called ``name`` (made once a run)."""
    import av

    size = dimensions(aspect)
    frames = max(2, round(seconds * FPS))
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        video = out.add_stream("h264", rate=FPS, options={"preset": "ultrafast", "g": "16"})
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=AUDIO_RATE)
            sound.layout = "mono"
        for n in range(frames):
            frame = av.VideoFrame.from_image(_picture(name, size, n / (frames - 1)))  # type: ignore[no-untyped-call]
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            total, step, pts = int(AUDIO_RATE * frames / FPS), 1024, 0
            while pts < total:
                piece = av.AudioFrame(format="fltp", layout="mono", samples=step)
                piece.planes[0].update(bytes(step * 4))
                piece.sample_rate, piece.pts = AUDIO_RATE, pts
                out.mux(sound.encode(piece))
                pts += step
            out.mux(sound.encode())
    return faststart(buffer.getvalue())


@lru_cache(maxsize=64)
def still_jpeg(name: str, aspect: str = "16:9") -> bytes:
    """A frame from the middle of ``name``'s video, as a JPEG (a grok job's thumbnail)."""
    out = io.BytesIO()
    _picture(name, dimensions(aspect), 0.5).save(out, format="JPEG", quality=85)
    return out.getvalue()


def padded(data: bytes, size: int) -> bytes:
    """``data`` made up to ``size`` bytes with a ``free`` box (as it is when there is no
    room for one)."""
    missing = size - len(data)
    if missing < 8:
        return data
    return data + struct.pack(">I", missing) + b"free" + bytes(missing - 8)


_CONTAINERS: Final = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int, int]]:
    """(type, start, header size, end) of the boxes in ``data[start:end]``."""
    found = []
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise ValueError("a box that does not fit")
        found.append((kind, at, header, at + size))
        at += size
    return found


def faststart(data: bytes) -> bytes:
    """The MP4 with its ``moov`` box moved before its frames, the chunk offsets in it
    shifted to match (what ``ffmpeg -movflags faststart`` does)."""
    top = _boxes(data, 0, len(data))
    kinds = [kind for kind, *_ in top]
    if b"moov" not in kinds or b"mdat" not in kinds or kinds.index(b"moov") < kinds.index(b"mdat"):
        return data
    _, begin, _, end = top[kinds.index(b"moov")]
    moov = bytearray(data[begin:end])
    shift = len(moov)

    def adjust(start: int, stop: int) -> None:
        for kind, at, header, box_end in _boxes(bytes(moov), start, stop):
            if kind in _CONTAINERS:
                adjust(at + header, box_end)
            elif kind in (b"stco", b"co64"):
                count = struct.unpack_from(">I", moov, at + header + 4)[0]
                width = 4 if kind == b"stco" else 8
                code = ">I" if kind == b"stco" else ">Q"
                for n in range(count):
                    place = at + header + 8 + n * width
                    struct.pack_into(
                        code, moov, place, struct.unpack_from(code, moov, place)[0] + shift
                    )

    adjust(8, len(moov))
    first_media = kinds.index(b"mdat")
    head = b"".join(data[s:e] for k, s, _, e in top[:first_media] if k != b"moov")
    rest = b"".join(data[s:e] for k, s, _, e in top[first_media:] if k != b"moov")
    return head + bytes(moov) + rest
