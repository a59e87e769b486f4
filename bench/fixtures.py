"""Realistic task lists for the benchmarks: IDs, labels, prompts and results like real ones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MODELS = ("grok", "sora-2", "veo3.1-fast", "kling-v2")
PROMPT = (
    "```\nA surreal and whimsical digital painting of a majestic brown cow grazing on the moon, "
    "soft rim light, slow dolly-in, film grain, 24 fps. The Earth rises behind the hills while "
    "the cow chews thoughtfully; dust drifts in low gravity; a faint reflection of the Sun on "
    "its bell. Cinematic, warm palette, shallow depth of field, 4k. Second shot: a close-up of "
    "the cow's eye reflecting the blue planet; the camera pulls back slowly to reveal a lunar "
    "farmhouse with a red barn, a windmill turning without wind, and a tiny astronaut farmer "
    "waving. Ambient synth score, gentle crackle of an old radio, no dialogue.\n```"
)


def records(count: int, seed: int = 1) -> list[TaskRecord]:
    """``count`` tasks in a realistic mix of states, about 1 KB each in the task file."""
    rng = random.Random(seed)
    out: list[TaskRecord] = []
    for n in range(count):
        model = MODELS[n % len(MODELS)]
        server_id = f"{rng.getrandbits(32):08x}-9dee-455c-aa82-{rng.getrandbits(48):012x}"
        added = T0 + timedelta(seconds=n)
        roll = rng.random()
        if roll < 0.6:
            result = TaskResult(
                State.SUCCEEDED,
                "completed",
                f"https://cdn.example/v/{server_id}.mp4?sig={rng.getrandbits(64):016x}",
                PROMPT,
                server_id,
                added + timedelta(seconds=90),
                added + timedelta(seconds=95),
            )
        elif roll < 0.7:
            result = TaskResult(
                State.FAILED,
                "failed",
                None,
                PROMPT,
                server_id,
                added + timedelta(seconds=60),
                added + timedelta(seconds=61),
                fail_reason="content policy violation",
            )
        elif roll < 0.9:
            checked = added + timedelta(seconds=5)
            result = TaskResult(
                State.RUNNING, "processing", None, PROMPT, server_id, added, checked
            )
        else:
            result = TaskResult(State.QUEUED, "pending", None, None, server_id, added, added)
        out.append(TaskRecord(Task(f"{model}:{server_id}", added, f"batch {n // 100}"), result))
    return out
