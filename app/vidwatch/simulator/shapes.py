"""What the simulated gateway answers about a job: the bodies of the real gateways, per
model family, modelled on ``shared/captures/query-answers.json`` and ``shared/api.md``.

- **grok** — times in *seconds*; while it runs, only ``id``, ``status`` and
  ``status_update_time`` (as captured); once done, the captured set: ``error: ""``,
  ``prompt`` (the prompt sent; no ``enhanced_prompt``), ``progress``, ``ratio``,
  ``video_id``, ``completed_at``, ``thumbnail_url`` (a JPEG still) and the rest.
- **veo** — times in ms; a ``detail`` object beside the top-level fields; from
  ``video_generation_completed`` on, ``detail.video_url`` is the video *before*
  upscaling while the top-level ``video_url`` stays null until ``completed``; the
  prompt (rewritten) on top while running, only in ``detail`` once done; a success
  often carries stale error text from retried attempts in ``detail``; failures say why
  in ``detail.video_generation_error`` or ``detail.error_message``.
- **sora** — ``in_progress`` with a ``progress`` percentage; times in ms; a failure
  carries an ``error`` object.
- **doc** — any other model: the shape of QuickRouter's doc page (ms, a fenced
  ``enhanced_prompt``, ``error_message`` on failure).

The answer's ``id`` follows the simulator's ``id_style``: ``asked`` (the ID asked
for, prefix included: what live answers do), ``bare`` (without the model prefix, as
some gateways answer) or ``upstream`` (an unrelated upstream id, as in the doc page's
own example).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:  # the parser reads ID_STYLES: no jobs (uuid, hashlib) loaded for it
    from vidwatch.simulator.jobs import Job

__all__ = ["ID_STYLES", "SHAPES_HELP", "IdStyle", "Links", "create_body", "query_body"]

IdStyle = Literal["asked", "bare", "upstream"]
ID_STYLES: Final[tuple[IdStyle, ...]] = ("asked", "bare", "upstream")

Wall = Callable[[float], datetime]  # simulated seconds -> the wall-clock moment

SHAPES_HELP: Final = """\
Its answers to GET /v1/video/query are the real gateways' (shared/api.md), per model:

  grok-…     pending → processing → completed | failed; times in seconds; a finished
             job has error "", prompt, progress, ratio, video_id, completed_at and a
             thumbnail_url (a JPEG it serves)
  veo…       pending → image_downloading → video_generating →
             video_generation_completed → video_upsampling →
             video_upsampling_completed → completed, or video_generation_failed /
             video_upsampling_failed with the reason in detail; a detail object;
             detail.video_url is the video before upscaling (served too) from
             video_generation_completed on; the top-level video_url only once
             completed, and the prompt then only in detail (often beside stale
             error text from retried attempts)
  sora-…     pending → in_progress (with progress) → completed | failed
  any other  the doc page's shape: pending → processing → completed | failed, ms

  --id-style asked     the answer's id is the ID asked for (what live answers do)
  --id-style bare      ... without the model prefix (some gateways)
  --id-style upstream  ... an unrelated upstream id (the doc page's own example)

Errors are new-api's: 401 {"error": {"message": "无效的令牌 (request id: …)",
"type": "new_api_error"}} for a wrong key, 400 task_not_exist for an unknown task,
404 "Invalid URL (GET /v1/v1/video/query)" for any other route, answered before the
key is looked at (a base URL that ends in /v1).
"""

SUCCESSFUL: Final = "MEDIA_GENERATION_STATUS_SUCCESSFUL"
STALE_ERROR: Final = (
    "[403] Request failed with status code 403 | Message: reCAPTCHA evaluation failed"
)
STALE_GENERATION_ERROR: Final = (
    "your request contains unsafe prompt or images, please check your request and try again"
)


@dataclass(frozen=True, slots=True)
class Links:
    """Where a job's files are served: the final video, the video before upscaling
    (veo) and the still (grok)."""

    video: str
    draft: str
    thumbnail: str


def answer_id(job: Job, asked: str, style: IdStyle) -> str:
    if style == "bare":
        return job.server_id
    if style == "upstream":
        return job.upstream_id()
    return asked


def create_body(job: Job, now: float, wall: Wall) -> dict[str, object]:
    """The answer to the create that made ``job``: ``{id, status, status_update_time}``."""
    word, changed = job.status_at(now)
    return {"id": job.id, "status": word, "status_update_time": _time(job, changed, wall)}


def query_body(
    job: Job, now: float, *, asked: str, style: IdStyle, links: Links, wall: Wall
) -> dict[str, object]:
    """The answer to ``GET /v1/video/query`` about ``job`` at simulated time ``now``."""
    word, changed = job.status_at(now)
    shape = _SHAPES[job.family]
    return shape(job, word, now, answer_id(job, asked, style), links, _time(job, changed, wall))


def _time(job: Job, sim_seconds: float, wall: Wall) -> int:
    stamp = wall(sim_seconds).timestamp()
    return int(stamp) if job.family == "grok" else int(stamp * 1000)


def _grok(
    job: Job, word: str, now: float, body_id: str, links: Links, time: int
) -> dict[str, object]:
    if word not in ("completed", "failed"):
        return {"id": body_id, "status": word, "status_update_time": time}
    done = word == "completed"
    body: dict[str, object] = {
        "id": body_id,
        "mode": "custom",
        "type": "create",
        "error": "" if done else job.fail_reason,
        "model": "grok-3",
        "ratio": job.ratio or "1:1",
        "prompt": job.prompt,
        "status": word,
    }
    if done:
        body.update(
            {
                "post_id": job.upstream_id("post"),
                "asset_id": job.upstream_id("asset"),
                "progress": 100,
                "trace_id": job.upstream_id("trace").replace("-", ""),
                "upscaled": True,
                "video_id": job.upstream_id("asset"),
                "video_url": links.video,
                "completed_at": time,
                "thumbnail_url": links.thumbnail,
                "video_file_id": job.upstream_id("video-file"),
                "thumbnail_file_id": job.upstream_id("thumbnail-file"),
            }
        )
    else:
        body["progress"] = job.trait("progress") % 90
    body["status_update_time"] = time
    if done:
        body["upscale_on_complete"] = True
    return body


def _veo(
    job: Job, word: str, now: float, body_id: str, links: Links, time: int
) -> dict[str, object]:
    final = word in ("completed", "video_generation_failed", "video_upsampling_failed")
    detail: dict[str, object] = {"id": job.id, "status": word, "running": not final}
    generated = job.reached(now, "video_generation_completed")
    if generated:
        detail["video_url"] = links.draft
        detail["video_generation_status"] = SUCCESSFUL
    if word == "video_upsampling":
        detail["upsample_status"] = "MEDIA_GENERATION_STATUS_ACTIVE"
    if word in ("video_upsampling_completed", "completed"):
        detail["upsample_status"] = SUCCESSFUL
        detail["upsample_video_url"] = links.video
    if word == "completed":
        detail["enhanced_prompt"] = job.prompt
        if job.retried:  # left over from the attempts before the one that worked
            detail["error_message"] = STALE_ERROR
            detail["video_generation_error"] = STALE_GENERATION_ERROR
    elif word == "video_generation_failed":
        detail["error_message"] = "upstream 400"
        detail["video_generation_error"] = job.fail_reason
        detail["video_generation_status"] = "MEDIA_GENERATION_STATUS_FAILED"
    elif word == "video_upsampling_failed":
        detail["error_message"] = job.fail_reason
        detail["upsample_status"] = "MEDIA_GENERATION_STATUS_FAILED"
    body: dict[str, object] = {
        "id": body_id,
        "status": word,
        "video_url": links.video if word == "completed" else None,
    }
    if not final:
        body["enhanced_prompt"] = job.prompt
    body["detail"] = detail
    body["status_update_time"] = time
    return body


def _plain(job: Job, word: str, body_id: str, links: Links, time: int) -> dict[str, object]:
    """The fields every gateway sends (the doc page's five, less the prompt)."""
    return {
        "id": body_id,
        "status": word,
        "video_url": links.video if word == "completed" else None,
        "status_update_time": time,
    }


def _sora(
    job: Job, word: str, now: float, body_id: str, links: Links, time: int
) -> dict[str, object]:
    body = _plain(job, word, body_id, links, time)
    if word == "in_progress":
        share = (now - job.started_at) / job.duration if job.duration > 0 else 0.0
        body["progress"] = min(int(share * 100), 99)
    elif word == "completed":
        body["progress"] = 100
    elif word == "failed":
        body["error"] = {"code": "generation_failed", "message": job.fail_reason}
    return body


def _doc(
    job: Job, word: str, now: float, body_id: str, links: Links, time: int
) -> dict[str, object]:
    body = _plain(job, word, body_id, links, time)
    body["enhanced_prompt"] = f"```\n{job.prompt}\n```"
    if word == "failed":
        body["error_message"] = job.fail_reason
    return body


_SHAPES: Final = {"grok": _grok, "veo": _veo, "sora": _sora, "doc": _doc}
