"""The simulated provider's jobs: what each one is, how it unfolds, what it serves.

A :class:`Job` unfolds on times fixed when it is made, through the steps its model
family goes through on the real gateways (``shared/api.md``):

========  ======================================================================
family    steps (raw status words)
========  ======================================================================
grok      pending → processing → completed | failed
veo       pending → image_downloading → video_generating →
          video_generation_completed → video_upsampling →
          video_upsampling_completed → completed (or video_generation_failed,
          video_upsampling_failed)
sora      pending → in_progress → completed | failed
doc       pending → processing → completed | failed (any other model: the
          shape of QuickRouter's doc page)
========  ======================================================================

A job ends at :attr:`Job.finishes_at` in every family. What varies per job beyond the
seeded draws (which failure a veo job has, whether its success carries stale error
text, its upstream ids) comes from a hash of its id, so the seeded sequence of jobs is
the same as before families existed. :func:`video_bytes` is the small, deterministic
file a finished job serves, :data:`THUMBNAIL` the JPEG still of a grok video;
:class:`Stats` counts what the :class:`~vidwatch.simulator.server.Simulator` was asked
and answered (the tests read it).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "FAIL_REASONS",
    "MODELS",
    "PROMPTS",
    "THUMBNAIL",
    "VEO_STEPS",
    "VIDEO_SIZE",
    "Family",
    "Job",
    "Stats",
    "byte_range",
    "family_of",
    "video_bytes",
]

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

Family = Literal["grok", "veo", "sora", "doc"]

# A veo job's running time, split into its steps: (raw word, share of the running time).
VEO_STEPS: Final = (
    ("image_downloading", 0.10),
    ("video_generating", 0.45),
    ("video_generation_completed", 0.05),
    ("video_upsampling", 0.35),
    ("video_upsampling_completed", 0.05),
)
_RUNNING_WORD: Final[dict[Family, str]] = {
    "grok": "processing",
    "veo": "video_generating",
    "sora": "in_progress",
    "doc": "processing",
}

# A 64×36 JPEG (a play sign on a gradient): what a grok job's thumbnail_url serves.
THUMBNAIL: Final = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAoHBwgHBgoICAgLCgoLDhgQDg0NDh0VFhEYIx8lJCIfIiEmKzcvJik0"
    "KSEiMEExNDk7Pj4+JS5ESUM8SDc9Pjv/2wBDAQoLCw4NDhwQEBw7KCIoOzs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7"
    "Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozv/wAARCAAkAEADASIAAhEBAxEB/8QAGQAAAwEBAQAAAAAAAAAAAAAA"
    "AAMEBgUH/8QAJBAAAQQCAQMFAQAAAAAAAAAAAgABA2EEESEFBhIiMTJBUYH/xAAWAQEBAQAAAAAAAAAAAAAAAAAF"
    "BAf/xAAZEQEBAQEBAQAAAAAAAAAAAAADAAIBEUH/2gAMAwEAAhEDEQA/AMoMNJow0qhhpNGGkrtKEmpRhpNGGlUM"
    "NLUYXZU3Ueg4/UcKYXmNi8oZON6Im9L/AMbh75UW0lCayQw0mjDSvnwJsPIPHyInjljfRC/0gYaUW0lSalGGk0Ya"
    "VQw0mjDSi2koTXLGGk0YaVQw0mjDSW2llpNSjDS9L7VcYe1sYjJhEWNyJ30zN5lysGMNKp5MiTHjxjlJ4Y/hHv0t"
    "y771+8vypOt52VFufbvdwde6flMWLHhx5jg+mlk+I8tvxduX9tcO3t9ssuMNKoYaTRhpQq3smK+Uow0mjDSqGGk0"
    "YaUO0lCa5IiyaIshCb3ZoU0RZNEWQhRblSmiLfiaIshCj3KFNEWTRBkIUW5Qr//Z"
)


def family_of(model: str) -> Family:
    """The family whose answers a model's jobs give (``doc`` for any other model)."""
    name = model.strip().lower()
    for family in ("grok", "veo", "sora"):
        if name.startswith(family):
            return family
    return "doc"


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
    ratio: str = ""  # the aspect ratio asked for, when one was

    @property
    def family(self) -> Family:
        return family_of(self.model)

    @property
    def finishes_at(self) -> float:
        return self.created + self.queue_time + self.duration

    @property
    def started_at(self) -> float:
        return self.created + self.queue_time

    def trait(self, salt: str) -> int:
        """A number fixed for this job (0–255): its variations, without the seeded draws."""
        return hashlib.sha256(f"{salt}:{self.server_id}".encode()).digest()[0]

    def upstream_id(self, salt: str = "upstream") -> str:
        """An id the provider behind the gateway gave it (unrelated to :attr:`id`)."""
        digest = hashlib.sha256(f"{salt}:{self.server_id}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    @property
    def fails_upsampling(self) -> bool:
        """A failing veo job fails at upsampling (else at generation)."""
        return self.trait("upsampling") < 96

    @property
    def retried(self) -> bool:
        """Its provider retried it: a success then carries stale error text (veo)."""
        return self.trait("retried") < 160

    def status_at(self, now: float) -> tuple[str, float]:
        """(raw status, simulated time of its last change) at simulated time ``now``."""
        if now < self.started_at:
            return "pending", self.created
        family = self.family
        if now >= self.finishes_at:
            return self._final_word(family), self.finishes_at
        if family != "veo":
            return _RUNNING_WORD[family], self.started_at
        begin = self.started_at
        for word, share in VEO_STEPS:
            end = begin + share * self.duration
            if self.fails and not self.fails_upsampling and word != "image_downloading":
                return "video_generating", begin  # it fails before generating is done
            if now < end:
                return word, begin
            begin = end
        return VEO_STEPS[-1][0], begin

    def _final_word(self, family: Family) -> str:
        if not self.fails:
            return "completed"
        if family != "veo":
            return "failed"
        return "video_upsampling_failed" if self.fails_upsampling else "video_generation_failed"

    def reached(self, now: float, word: str) -> bool:
        """Whether a veo job has reached step ``word`` (or ended after it)."""
        order = [step for step, _ in VEO_STEPS]
        status, _ = self.status_at(now)
        if status == "completed" or status == "video_upsampling_failed":
            return True
        return status in order and order.index(status) >= order.index(word)


@dataclass
class Stats:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    videos: int = 0
    thumbnails: int = 0
    key_sent_to_video_host: int = 0
    expired_links: int = 0
    idle_closes: int = 0  # kept-alive connections closed for being idle (idle_close)
    query_times: list[float] = field(default_factory=list)  # arrival, on the simulator's clock
    retry_afters: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)


def video_bytes(server_id: str, size: int = VIDEO_SIZE) -> bytes:
    """A small, deterministic file that starts like an MP4."""
    seed = hashlib.sha256(server_id.encode()).digest()
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    body = (seed * (size // len(seed) + 1))[: size - len(head)]
    return head + body


def byte_range(size: int, header: str) -> tuple[int, int, int] | None:
    """(first byte, last byte, HTTP status) a ``Range`` header asks of ``size`` bytes:
    the whole (200) without one or when unreadable, a part (206), ``None`` when it asks
    for nothing there is (416)."""
    if not header.startswith("bytes="):
        return 0, size - 1, 200
    first, _, last = header[6:].partition("-")
    try:
        start = int(first) if first else size - int(last)
        end = min(int(last), size - 1) if (first and last) else size - 1
    except ValueError:
        return 0, size - 1, 200
    if start >= size or start > end or start < 0:
        return None
    return start, end, 206
