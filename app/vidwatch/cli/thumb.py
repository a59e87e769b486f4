"""``vidwatch thumb``: a still of each finished video, as a JPEG file.

Made as the dashboard makes them (the cache, the server's still, the downloaded file, the
video's link read by ranges: :mod:`vidwatch.core.media`); the video's facts are kept with
its task (``list --json``, exports). Without ``-o`` or ``--dir``, a downloaded video's
still goes beside it (``NAME.jpg``), any other into ``download_dir``.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from pathlib import Path

from vidwatch.cli.offline import load
from vidwatch.cli.output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, Context, safe
from vidwatch.core.downloads.diskspace import MB
from vidwatch.core.downloads.filenames import safe_filename
from vidwatch.core.downloads.sidecar import sidecar_note
from vidwatch.core.media.cache import StillCache
from vidwatch.core.media.previews import Previews, usable_file
from vidwatch.core.media.stills import beside, write_still
from vidwatch.core.model.records import TaskRecord, VideoFacts


def cmd_thumb(ctx: Context, ns: argparse.Namespace) -> int:
    config = ctx.config()
    records = load(ctx)
    wanted = list(dict.fromkeys(ns.ids))
    if ns.output and len(wanted) > 1:
        raise CliError("-o names one file: give one ID, or use --dir.", EXIT_USAGE)
    folder = Path(ns.dir).expanduser() if ns.dir else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise CliError(f"--dir {folder} is a file, not a folder.", EXIT_USAGE)
    failed = 0
    for task_id in wanted:
        if task_id not in records:
            ctx.warn(f"not watched: {safe(task_id, 80)} (add it first)")
            failed += 1
    chosen = [records[i] for i in wanted if i in records]

    def target(record: TaskRecord) -> Path:
        if ns.output:
            return Path(ns.output).expanduser()
        video = usable_file(record)
        if folder is None and video is not None:
            return beside(video)
        return (folder or config.download_dir) / f"{Path(safe_filename(record)).stem}.jpg"

    results = asyncio.run(_write_all(ctx, [(r, target(r)) for r in chosen]))
    for record, path, why in results:
        if why is None:
            ctx.row(record.id, str(path))
        else:
            failed += 1
            ctx.warn(f"{record.id}: {why}")
    return EXIT_FAILED if failed else EXIT_OK


# the task (with its video's facts, when read), where, why not (None: written)
Written = list[tuple[TaskRecord, Path, str | None]]


async def _write_all(ctx: Context, wanted: list[tuple[TaskRecord, Path]]) -> Written:
    """Write each task's still where asked, and keep the videos' facts with their tasks."""
    config = ctx.config()
    cache = StillCache(ctx.paths.cache_dir, config.preview.cache_mb * MB)
    previews = Previews(cache, max_bytes=config.max_download_mb * MB)
    done: Written = []
    facts: dict[str, VideoFacts] = {}
    try:
        for record, path in wanted:
            preview, why = await write_still(previews, record, path)
            if preview.facts is not None and preview.facts != record.task.video:
                facts[record.id] = preview.facts
                record = replace(record, task=record.task.with_video(preview.facts))
            done.append((record, path, why))
    finally:
        await previews.aclose()
    if facts:
        await asyncio.to_thread(ctx.store().set_video, facts)
    return done


def stills_beside(ctx: Context, videos: list[tuple[TaskRecord, Path]]) -> None:
    """``NAME.jpg`` beside each video just downloaded, and its facts in the sidecar (a
    still that cannot be made is told, and costs nothing else)."""
    for record, _, why in asyncio.run(_write_all(ctx, [(r, beside(v)) for r, v in videos])):
        if why is not None:
            ctx.warn(f"{record.id}: no still beside the video: {why}")
        video = Path(record.task.saved_to or "")
        if record.task.video is not None and video.is_file():
            note = sidecar_note(record, video, video.stat().st_size)
            if note:
                ctx.warn(f"{record.id}: {note.removeprefix('; ')}")
