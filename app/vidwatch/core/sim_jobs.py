"""The simulated provider's jobs: what each one is, how it unfolds, what it serves.

A :class:`Job` goes ``pending → processing → completed`` (or ``failed``) on times fixed
when it is made; :func:`video_bytes` is the small, deterministic file a finished job
serves; :class:`Stats` counts what the :class:`~vidwatch.core.simulator.Simulator` was
asked and answered (the tests read it).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["FAIL_REASONS", "MODELS", "PROMPTS", "VIDEO_SIZE", "Job", "Stats", "video_bytes"]

MODELS = ("grok", "sora-2", "veo3.1-fast", "kling-v2")
PROMPTS = (
    "A surreal and whimsical digital painting of a majestic brown cow grazing on the moon",
    "一只橘猫在雨夜的东京街头散步，霓虹灯倒映在积水中，电影感镜头缓慢推进",
    "Drone shot over a fjord at sunrise, mist rolling over the water, 4k, cinematic",
    "A robot chef flipping pancakes in a tiny kitchen, stop-motion style",
    "Time-lapse of a city skyline from day to night, clouds racing overhead",
)
FAIL_REASONS = (
    "content policy violation",
    "upstream model timeout",
    "image download failed",
)

VIDEO_SIZE = 64 * 1024


@dataclass
class Job:
    """One simulated video job. Times are in simulated seconds since the start."""

    id: str
    server_id: str
    model: str
    prompt: str
    created: float
    queue_time: float
    duration: float
    fails: bool
    fail_reason: str = ""

    @property
    def finishes_at(self) -> float:
        return self.created + self.queue_time + self.duration

    def status_at(self, now: float) -> tuple[str, float]:
        """(raw status, simulated time of its last change) at simulated time ``now``."""
        if now < self.created + self.queue_time:
            return "pending", self.created
        if now < self.finishes_at:
            return "processing", self.created + self.queue_time
        return ("failed" if self.fails else "completed"), self.finishes_at


@dataclass
class Stats:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    videos: int = 0
    key_sent_to_video_host: int = 0
    expired_links: int = 0
    query_times: list[float] = field(default_factory=list)  # arrival, on the simulator's clock
    retry_afters: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)


def video_bytes(server_id: str, size: int = VIDEO_SIZE) -> bytes:
    """A small, deterministic file that starts like an MP4."""
    seed = hashlib.sha256(server_id.encode()).digest()
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    body = (seed * (size // len(seed) + 1))[: size - len(head)]
    return head + body
