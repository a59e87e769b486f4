"""``vidwatch download``: finished videos to disk, a progress bar each on a terminal."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from vidwatch.cli import network
from vidwatch.cli.offline import load
from vidwatch.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Context,
    key_hint,
    plural,
    safe,
)
from vidwatch.core.config import Config
from vidwatch.core.downloads.auto import on_disk
from vidwatch.core.downloads.fetch import MB, Downloader, DownloadResult
from vidwatch.core.gateway.outcomes import Ok
from vidwatch.core.model.records import State, TaskRecord
from vidwatch.core.model.wording import no_video_reason

if TYPE_CHECKING:
    from rich.progress import TaskID


def cmd_download(ctx: Context, ns: argparse.Namespace) -> int:
    config = ctx.config()
    records = load(ctx)
    if ns.ids:
        missing = [i for i in ns.ids if i not in records]
        for task_id in missing:
            ctx.warn(f"not watched: {safe(task_id, 80)} (add it first)")
        chosen = [records[i] for i in dict.fromkeys(ns.ids) if i in records]
    else:
        missing = []
        chosen = [r for r in records.values() if not on_disk(r)]
    chosen = _checked_first(ctx, config, chosen)
    ready = [r for r in chosen if r.result.state is State.SUCCEEDED and r.result.video_url]
    for record in chosen:
        if record not in ready and ns.ids:
            ctx.warn(f"{record.id}: {no_video_reason(record)}")
    unfinished = sum(1 for r in chosen if not r.result.final)
    if unfinished:  # a list written before they finished: say how to get them
        ctx.warn(
            f"{plural(unfinished, 'job')} not finished yet (not downloaded): "
            "vidwatch wait --download waits for them and saves each as it finishes"
        )
    if not ready:
        print("Nothing to download" + (" yet." if unfinished else "."), file=ctx.err)
        return EXIT_FAILED if missing or (ns.ids and chosen) else EXIT_OK
    folder = Path(ns.dir).expanduser() if ns.dir else config.download_dir
    if folder.exists() and not folder.is_dir():
        raise CliError(f"--dir {folder} is a file, not a folder.", EXIT_USAGE)
    progress = Progress(ctx.err, {r.id: r.task.label or r.id for r in ready})

    async def go() -> list[DownloadResult]:
        client = network.make_client(config) if config.api_key else None

        async def refresh(task_id: str) -> str | None:
            if client is None:
                return None
            outcome = await client.query(task_id)
            if isinstance(outcome, Ok):
                ctx.store().merge_results({task_id: outcome.result})
                return outcome.result.video_url
            return None

        try:
            async with Downloader(
                folder,
                parallel=ns.parallel or config.max_downloads,
                refresh=refresh,
                max_bytes=config.max_download_mb * MB,
            ) as downloader:
                return await downloader.download_all(ready, progress.update)
        finally:
            if client is not None:
                await client.aclose()

    try:
        results = asyncio.run(go())
    finally:
        progress.done()
    saved = {r.task_id: str(r.path) for r in results if r.ok and r.path is not None}
    if saved:
        ctx.store().set_saved(saved)
    if saved and ctx.config().preview.mode != "off":  # off: nothing read, nothing decoded
        from vidwatch.cli.thumb import stills_beside

        by_id = {r.id: r for r in ready}
        downloaded = [
            (replace(by_id[i], task=by_id[i].task.with_saved_to(p)), Path(p))
            for i, p in saved.items()
            if i in by_id
        ]
        stills_beside(ctx, downloaded)  # read from the file just saved
    failed = 0
    for result in results:
        if result.ok:
            ctx.row(result.task_id, str(result.path))
            if result.skipped:
                elsewhere = ns.dir and result.path and result.path.parent != folder
                note = f"; not downloaded again into {folder}" if elsewhere else ""
                ctx.warn(f"{result.task_id}: already saved at {result.path}{note}")
        else:
            failed += 1
            ctx.warn(f"{result.task_id}: {result.message}")
    return EXIT_FAILED if failed or missing else EXIT_OK


CHECK_FIRST: Final = 30.0  # seconds spent at most asking about unfinished tasks first


def _checked_first(ctx: Context, config: Config, chosen: list[TaskRecord]) -> list[TaskRecord]:
    """The unfinished tasks among ``chosen`` asked about once (within the budget, for at
    most :data:`CHECK_FIRST` seconds): right after ``submit`` the list still says "new"
    for jobs that may be done. Saying how many could not be asked."""
    unfinished = [r for r in chosen if not r.result.final]
    if not unfinished:
        return chosen
    how = "vidwatch wait --download waits for them and saves each as it finishes"
    if not config.api_key:
        count = plural(len(unfinished), "unfinished task")
        ctx.warn(f"{count} not checked (no API key): {key_hint(ctx.paths.config_file)}; {how}")
        return chosen
    print(f"checking {plural(len(unfinished), 'unfinished task')} first…", file=ctx.err)
    fresh, unchecked = network.check_first(ctx, config, unfinished, CHECK_FIRST)
    if unchecked:
        ctx.warn(f"{plural(unchecked, 'task')} could not be checked: {how}")
    return [fresh.get(r.id, r) for r in chosen]


class Progress:
    """A progress bar per download on a terminal (rich); nothing when piped."""

    def __init__(self, out: TextIO, names: dict[str, str]) -> None:
        # Imported here: every other command starts without rich's cost.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bars

        self.names = {task_id: safe(name, 40) for task_id, name in names.items()}
        self.enabled = out.isatty()
        self.bars = Bars(
            TextColumn("{task.description}", markup=False),  # labels are user/server text
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=out),
            transient=False,
        )
        self.rows: dict[str, TaskID] = {}
        if self.enabled:
            self.bars.start()

    def update(self, task_id: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        row = self.rows.get(task_id)
        if row is None:
            row = self.rows[task_id] = self.bars.add_task(
                self.names.get(task_id) or safe(task_id, 40)
            )
        self.bars.update(row, completed=done, total=total)

    def done(self) -> None:
        if self.enabled:
            self.bars.stop()
