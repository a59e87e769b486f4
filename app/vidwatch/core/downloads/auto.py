"""Finished videos saved as soon as they are seen (``[downloads] auto``, ``wait --download``).

Links to finished videos may expire, and batch users want every result on disk. An
:class:`AutoSaver` is offered each task that finishes while vidwatch watches it (the
dashboard, ``vidwatch wait``, ``submit --wait``); it downloads each one once, through one
:class:`~vidwatch.core.downloads.fetch.Downloader`, so the rules of ``D`` and ``vidwatch
download`` hold as they are: at most ``max_downloads`` at once, nothing over
``max_download_mb``, nothing that would leave the disk without its margin, the same
file names, resumable parts and sidecars. A video already on disk is not fetched again.
Whoever made it is told of each result (``done``, awaited: it notes where the video
went), in the order they end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from vidwatch.core.downloads.fetch import Downloader, DownloadResult, Progress
from vidwatch.core.model.records import State, TaskRecord
from vidwatch.core.text.urls import url_problem

__all__ = ["AutoSaver", "on_disk"]


def on_disk(record: TaskRecord) -> bool:
    """Downloaded, and the file is still there (a deleted file is fetched again)."""
    saved = record.task.saved_to
    return saved is not None and Path(saved).is_file()


class AutoSaver:
    """Downloads each finished video it is offered, once, as soon as it is offered."""

    def __init__(
        self,
        downloader: Downloader,
        done: Callable[[DownloadResult], Awaitable[None]],
        progress: Progress | None = None,
    ) -> None:
        self.downloader = downloader
        self.done = done
        self.progress = progress
        self._offered: set[str] = set()
        self._running: set[asyncio.Task[DownloadResult]] = set()
        self.results: list[DownloadResult] = []

    @staticmethod
    def wants(record: TaskRecord) -> bool:
        """A finished video with a usable link that is not on disk."""
        result = record.result
        url = result.video_url
        return (
            result.state is State.SUCCEEDED
            and bool(url)
            and url_problem(url or "") is None
            and not on_disk(record)
        )

    @property
    def busy(self) -> int:
        """Downloads started and not ended."""
        return len(self._running)

    def offer(self, record: TaskRecord) -> bool:
        """Start saving ``record``'s video if it wants saving and was not offered before;
        whether it was started (call from the event loop)."""
        if record.id in self._offered or not self.wants(record):
            return False
        self._offered.add(record.id)
        job = asyncio.create_task(self._save(record), name=f"save {record.id}")
        self._running.add(job)
        job.add_done_callback(self._running.discard)
        return True

    async def _save(self, record: TaskRecord) -> DownloadResult:
        result = await self.downloader.download(record, self.progress)
        self.results.append(result)
        await self.done(result)
        return result

    async def drain(self) -> None:
        """Wait until every download started has ended."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop the downloads under way (their parts stay, to resume) and close."""
        for job in self._running:
            job.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self.downloader.aclose()
