"""The decoder: a process of its own that reads one video and answers with what it is and
what it looks like (``python -m vidwatch.core.media.child MEMORY CPU``).

Video files come from hosts nobody here controls, and FFmpeg parses them: a crafted file
may crash the parser, spin it forever or make it allocate without end. So it runs here,
never in vidwatch's own process, under limits set before PyAV is even imported:

* address space ``MEMORY`` bytes (``RLIMIT_AS``): an allocation past it fails;
* ``CPU`` seconds of processor time (``RLIMIT_CPU``): the kernel ends a loop;
* no file may be written (``RLIMIT_FSIZE`` 0) and no core dumped (``RLIMIT_CORE`` 0);
* the container is opened with the demuxer vidwatch named from the first bytes (MP4/MOV,
  Matroska/WebM, AVI) and never probed for another (a playlist demuxer would open other
  files or URLs), from a file object, never a path FFmpeg could take for a URL, and
  with external data references off.

vidwatch gives it a wall-clock limit, reads its answers capped
(:mod:`vidwatch.core.media.protocol`), and kills it when a preview is no longer wanted.
It reads a remote video through vidwatch (each read is a message): it opens no socket
of its own, and its environment holds no key.

One job per process: ``{"job": …}`` in (with a thumbnail's bytes, when the job is to
re-encode one), then, in any order, ``{"read": [offset, length]}`` out and the bytes in,
and at last ``{"done": …}`` (the facts, the still's and the strip's JPEG bytes) or
``{"failed": reason}``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import resource
import sys
from fractions import Fraction
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from vidwatch.core.media.protocol import ProtocolError, encode, read_frame

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream
    from PIL.Image import Image

__all__ = ["FORMATS", "MAX_JOB", "STRIP_FRAMES", "main"]

FORMATS: Final = ("mov", "matroska", "avi")  # the demuxers a video may be opened with
STRIP_FRAMES: Final = 6
MAX_JOB: Final = 16 * 1024 * 1024  # a thumbnail to re-encode, at most
MAX_READ: Final = 4 * 1024 * 1024  # one read of a remote video, at most
MAX_SIDE: Final = 16_384  # a picture wider or taller than this is not a real video
MAX_PACKETS: Final = 2_000  # packets read for one picture before giving up
QUALITY: Final = 82


class Failed(Exception):
    """A job that cannot be done, in words for the user."""


def limit(memory: int, cpu: int) -> None:
    """The limits of this process, before anything parses the video."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class RemoteFile(io.RawIOBase):
    """A video on a host, read through vidwatch: each read asks it for a range."""

    def __init__(self, size: int, ask: BinaryIO, answers: BinaryIO) -> None:
        super().__init__()
        self.size = size
        self.position = 0
        self._ask = ask
        self._answers = answers

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self.position + offset
        elif whence == io.SEEK_END:
            position = self.size + offset
        else:
            raise OSError(f"cannot seek with whence={whence}")
        if position < 0:
            raise OSError("cannot seek before the start")
        self.position = position
        return position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        length = min(len(view), self.size - self.position, MAX_READ)
        if length <= 0:
            return 0
        self._ask.write(encode({"read": [self.position, length]}))
        self._ask.flush()
        header, data = read_frame(self._answers, MAX_READ)
        if "error" in header or len(data) > length:
            raise OSError(str(header.get("error", "a read failed")))
        view[: len(data)] = data
        self.position += len(data)
        return len(data)


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _facts(container: InputContainer, stream: VideoStream, size: int) -> dict[str, Any]:
    context = stream.codec_context
    if context is None:  # a track whose description was cut off or is unknown
        raise Failed("the video is damaged (its picture track cannot be decoded)")
    width, height = int(context.width or 0), int(context.height or 0)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise Failed(f"the video claims a picture of {width}×{height}, which no video has")
    duration = _number(container.duration / 1_000_000) if container.duration else None
    if duration is None and stream.duration and stream.time_base:
        duration = _number(stream.duration * stream.time_base)
    fps = _number(stream.average_rate) or _number(stream.guessed_rate)
    audio = [s.codec_context.name for s in container.streams.audio if s.codec_context]
    return {
        "width": width,
        "height": height,
        "duration": round(duration, 3) if duration is not None and duration < 1e7 else None,
        "fps": round(fps, 3) if fps is not None and fps < 1000 else None,
        "codec": str(context.name or "")[:40],
        "audio": str(audio[0])[:40] if audio else "",
        "size": size,
    }


def _fit(width: int, height: int, box: int, aspect: Fraction | None) -> tuple[int, int]:
    """The picture's size on screen, inside ``box``×``box`` pixels (its pixels' shape
    counted), each side even and at least 2."""
    shown = width * float(aspect) if aspect else float(width)
    scale = min(box / shown, box / height, 1.0)
    return max(2, int(shown * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _picture(frame: VideoFrame, box: int, aspect: Fraction | None) -> Image:
    width, height = _fit(frame.width, frame.height, box, aspect)
    picture: Image = frame.reformat(width=width, height=height, format="rgb24").to_image()  # type: ignore[no-untyped-call]
    return picture


def _jpeg(image: Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=QUALITY)
    return out.getvalue()


def _frame_at(
    container: InputContainer, stream: VideoStream, seconds: float, exact: bool, seek: bool = True
) -> VideoFrame:
    """The key frame at or before ``seconds`` (the still: cheap), or the first frame at
    ``seconds`` (the filmstrip, decoding on from that key frame, or from where the last
    picture was taken when ``seek`` is false)."""
    if seek and seconds > 0 and stream.time_base:
        # an unseekable file: decoded from where it is
        with contextlib.suppress(Exception):
            container.seek(int(seconds / stream.time_base), stream=stream, backward=True)
    last: VideoFrame | None = None
    for packets, packet in enumerate(container.demux(stream), 1):
        if packets > MAX_PACKETS:
            break
        for frame in packet.decode():
            last = frame
            if not exact or frame.time is None or frame.time >= seconds - 0.02:
                return frame
    if last is not None:
        return last
    raise Failed("no picture could be decoded from the video")


def _strip(
    container: InputContainer, stream: VideoStream, duration: float | None, box: int
) -> bytes:
    """``STRIP_FRAMES`` frames spread over the video, side by side in one JPEG."""
    from PIL import Image

    aspect = stream.sample_aspect_ratio
    length = duration or 0.0
    pictures = []
    reached: float | None = None  # the time of the last frame taken
    for n in range(STRIP_FRAMES):
        at = length * (n + 0.5) / STRIP_FRAMES
        # Close ahead: decoding on is cheaper than seeking back to a key frame (a video
        # of one key frame would be decoded from its start again for every picture).
        seek = reached is None or not 0 <= at - reached <= 4.0
        try:
            frame = _frame_at(container, stream, at, exact=True, seek=seek)
            reached = frame.time
            pictures.append(_picture(frame, box, aspect))
        except Failed:
            if not pictures:
                raise
            pictures.append(pictures[-1])
    width, height = pictures[0].size
    sprite = Image.new("RGB", (width * STRIP_FRAMES, height))
    for n, picture in enumerate(pictures):
        sprite.paste(picture.resize((width, height)), (n * width, 0))
    return _jpeg(sprite)


def _thumbnail(data: bytes, box: int) -> bytes:
    """The server's own still, re-encoded small (it is never shown as it came)."""
    import warnings

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 64_000_000
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        opened = Image.open(io.BytesIO(data), formats=("JPEG", "PNG", "WEBP"))
        opened.draft("RGB", (box, box))
        image = opened.convert("RGB")
    except Exception as exc:
        raise Failed(f"the thumbnail is not a usable image ({type(exc).__name__})") from None
    image.thumbnail((box, box))
    return _jpeg(image)


def run(job: dict[str, Any], payload: bytes, ask: BinaryIO, answers: BinaryIO) -> Any:
    """Do one job; returns the ``done`` header and its payload."""
    import av

    av.logging.set_level(None)
    box = int(job.get("box", 640))
    strip_box = int(job.get("strip_box", 256))
    still = _thumbnail(payload, box) if job.get("thumbnail") else b""
    strip = b""
    facts = None
    source = job.get("source")
    if source in ("file", "remote"):
        fmt = job.get("format")
        if fmt not in FORMATS:
            raise Failed("the file is in no video format vidwatch reads")
        video: BinaryIO
        if source == "file":
            video = open(str(job["path"]), "rb")  # noqa: SIM115 (closed below)
            size = os.fstat(video.fileno()).st_size
        else:
            size = int(job["size"])
            video = RemoteFile(size, ask, answers)  # type: ignore[assignment]
        try:
            container = av.open(
                video, mode="r", format=fmt, options={"enable_drefs": "0"}, buffer_size=65536
            )
        except av.error.FFmpegError as exc:
            raise Failed(f"the file is damaged or not a video ({_ffmpeg(exc)})") from None
        try:
            if not container.streams.video:
                raise Failed("the file holds no picture (no video track)")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO" if job.get("strip") else "NONE"
            stream.thread_count = 2 if job.get("strip") else 1
            facts = _facts(container, stream, size)
            if job.get("still") and not still:
                at = min((facts["duration"] or 0.0) * 0.1, 2.0)
                frame = _frame_at(container, stream, at, exact=False)
                still = _jpeg(_picture(frame, box, stream.sample_aspect_ratio))
            if job.get("strip"):
                strip = _strip(container, stream, facts["duration"], strip_box)
        except av.error.FFmpegError as exc:
            raise Failed(f"the video is damaged ({_ffmpeg(exc)})") from None
        finally:
            container.close()
            video.close()
    return {"done": {"facts": facts, "still": len(still), "strip": len(strip)}}, still + strip


def _ffmpeg(exc: Exception) -> str:
    text = " ".join(str(getattr(exc, "strerror", None) or exc).split())
    printable = "".join(ch for ch in text if ch.isprintable())
    return printable[:120] or type(exc).__name__


def main(argv: list[str]) -> int:
    memory, cpu = (int(value) for value in argv[:2])
    limit(memory, cpu)
    # The answers go out on a copy of stdout; anything else written there (a library's
    # print) lands on stderr, which vidwatch discards.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    answers = sys.stdin.buffer
    # Loaded before the job comes (under the limits): a decoder started ahead is ready.
    with contextlib.suppress(Exception):
        import av  # noqa: F401
        from PIL import Image  # noqa: F401
    try:
        header, payload = read_frame(answers, MAX_JOB)
    except ProtocolError:
        return 2
    try:
        reply, data = run(dict(header.get("job") or {}), payload, out, answers)
    except Failed as exc:
        reply, data = {"failed": str(exc)}, b""
    except MemoryError:
        reply, data = {"failed": "the video needs more memory than a preview may take"}, b""
    except ProtocolError:
        return 2
    except Exception as exc:  # a decoder's error we did not foresee: one sentence
        reply, data = {"failed": f"the video could not be read ({type(exc).__name__})"}, b""
    out.write(encode(reply, data))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
