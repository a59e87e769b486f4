"""The decoder process: whatever a video does to it costs one preview, in one sentence."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from vidwatch.core.media.decoder import MAX_OUTPUT, DecodeFailed, Decoders
from vidwatch.simulator.videos import video_file

pytestmark = pytest.mark.e2e


def fake(code: str, **kwargs: object) -> Decoders:
    """Decoders that run ``code`` (given MEMORY and CPU as arguments) instead of PyAV."""
    return Decoders([sys.executable, "-c", code], keep_spare=False, **kwargs)  # type: ignore[arg-type]


def file_job(path: Path, fmt: str = "mov") -> dict[str, object]:
    return {"source": "file", "path": str(path), "format": fmt, "still": True, "box": 320}


async def test_a_real_video_gives_its_facts_and_a_still(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(video_file("facts", "9:16", 3.0, True))
    decoders = Decoders(keep_spare=False)
    done = await decoders.run({**file_job(path), "strip": True})
    assert done.facts is not None
    assert (done.facts["width"], done.facts["height"]) == (144, 256)
    assert done.facts["duration"] == pytest.approx(3.0, abs=0.3)
    assert done.facts["fps"] == 8.0
    assert (done.facts["codec"], done.facts["audio"]) == ("h264", "aac")
    assert done.still.startswith(b"\xff\xd8\xff")
    assert done.strip.startswith(b"\xff\xd8\xff")


async def test_a_truncated_video_or_a_file_that_is_not_one_is_a_reason(tmp_path: Path) -> None:
    whole = video_file("cut", "16:9", 3.0, False)
    decoders = Decoders(keep_spare=False)
    part = tmp_path / "part.mp4"
    part.write_bytes(whole[: len(whole) // 3])  # its index and first frames: still a still
    assert (await decoders.run(file_job(part))).still.startswith(b"\xff\xd8\xff")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[:400])  # cut inside its index
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(whole[:32] + bytes(range(256)) * 200)
    for path in (cut, junk):
        with pytest.raises(DecodeFailed) as caught:
            await decoders.run(file_job(path))
        assert "damaged" in str(caught.value) or "no picture" in str(caught.value)


async def test_a_decoder_that_hangs_is_stopped_at_its_wall_clock() -> None:
    with pytest.raises(DecodeFailed, match=r"longer than 0\.5 s"):
        await fake("import time; time.sleep(60)").run({}, timeout=0.5)


async def test_a_decoder_that_crashes_is_named_so() -> None:
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    with pytest.raises(DecodeFailed, match="crashed on it \\(SIGSEGV\\)"):
        await fake(crash).run({})


async def test_a_decoder_spinning_past_its_processor_time_is_ended_by_the_kernel() -> None:
    spin = (
        "import sys; from vidwatch.core.media.child import limit\n"
        "limit(int(sys.argv[1]), int(sys.argv[2]))\n"
        "while True: pass\n"
    )
    with pytest.raises(DecodeFailed, match="more than 1 s of processor time"):
        await fake(spin, cpu=1).run({}, timeout=30)


async def test_a_decoder_over_its_memory_fails_alone() -> None:
    hog = (
        "import sys; from vidwatch.core.media.child import limit\n"
        "limit(int(sys.argv[1]), int(sys.argv[2]))\n"
        "x = bytearray(2 * 1024 ** 3)\n"
    )
    with pytest.raises(DecodeFailed, match="stopped unexpectedly"):
        await fake(hog, memory=256 * 1024 * 1024).run({})


async def test_an_answer_over_the_output_cap_is_refused_unread() -> None:
    liar = (
        "import struct, sys, time\n"
        f"sys.stdout.buffer.write(struct.pack('>II', 2, {MAX_OUTPUT + 1}) + b'{{}}')\n"
        "sys.stdout.buffer.flush(); time.sleep(30)\n"
    )
    with pytest.raises(DecodeFailed, match="over the cap"):
        await fake(liar).run({}, timeout=20)


async def test_cancelling_a_job_kills_its_decoder() -> None:
    decoders = fake("import time; time.sleep(60)")
    job = asyncio.ensure_future(decoders.run({}, timeout=60))
    await asyncio.sleep(0)
    while decoders.started == 0:
        await asyncio.sleep(0.01)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job


async def test_the_decoder_inherits_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUICKROUTER_API_KEY", "sk-secret-1234567890")
    echo = (
        "import os, sys, json, struct\n"
        "sys.stdin.buffer.read(8)\n"
        "body = json.dumps({'failed': ' '.join(sorted(os.environ))}).encode()\n"
        "sys.stdout.buffer.write(struct.pack('>II', len(body), 0) + body)\n"
    )
    with pytest.raises(DecodeFailed) as caught:
        await fake(echo).run({})
    assert "QUICKROUTER_API_KEY" not in str(caught.value)
    assert "PATH" in str(caught.value)
