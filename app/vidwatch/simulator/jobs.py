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
the same as before families existed. :meth:`Job.video` is the real MP4 a finished job
serves (:mod:`vidwatch.simulator.videos`: its aspect and length those asked for, or its
family's), :meth:`Job.still` the JPEG still of a grok video; :class:`Stats` counts what
the :class:`~vidwatch.simulator.server.Simulator` was asked and answered (the tests read
it).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "FAIL_REASONS",
    "MODELS",
    "PROMPTS",
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

# A family's video when the request said nothing: (aspect, seconds, sound). Grok's
# answers say "ratio": "1:1" unless another was asked.
_VIDEO_DEFAULTS: Final[dict[Family, tuple[str, float, bool]]] = {
    "grok": ("1:1", 6.0, False),
    "veo": ("16:9", 8.0, True),
    "sora": ("16:9", 10.0, True),
    "doc": ("16:9", 5.0, False),
}


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
    seconds: float = 0.0  # the length asked for, when one was
    orientation: str = ""  # portrait or landscape, when asked (sora)

    @property
    def family(self) -> Family:
        return family_of(self.model)

    def video(self, size: int = VIDEO_SIZE, *, draft: bool = False) -> bytes:
        """The job's video (before upscaling, for veo's ``draft``), at least ``size`` bytes."""
        aspect, seconds, sound = _VIDEO_DEFAULTS[self.family]
        if self.ratio:
            aspect = self.ratio
        elif self.orientation == "portrait":
            aspect = "9:16"
        elif self.family == "grok" and self.trait("wide") < 32:
            aspect = "16:9"  # says 1:1, is 16:9: a mismatch for the dashboard to tell
        name = self.server_id + ("-draft" if draft else "")
        return video_bytes(name, size, aspect=aspect, seconds=self.seconds or seconds, audio=sound)

    def still(self) -> bytes:
        """A JPEG still of the job's video (grok's ``thumbnail_url`` serves it)."""
        from vidwatch.simulator.videos import still_jpeg

        aspect = self.ratio or _VIDEO_DEFAULTS[self.family][0]
        if not self.ratio and self.family == "grok" and self.trait("wide") < 32:
            aspect = "16:9"
        return still_jpeg(self.server_id, aspect)

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


def video_bytes(
    name: str,
    size: int = VIDEO_SIZE,
    *,
    aspect: str = "16:9",
    seconds: float = 4.0,
    audio: bool = False,
) -> bytes:
    """A real MP4 called ``name`` (the same bytes every time), made up to ``size`` bytes
    with a ``free`` box at its end."""
    from vidwatch.simulator.videos import padded, video_file

    return padded(video_file(name, aspect, seconds, audio), size)


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
