"""``vidwatch --demo``: the dashboard on the built-in simulator, touching none of the
user's things.

Everything the demo writes lives in one temporary folder of its own, removed when the
demo ends: its task list, its record of sends, its downloads and exports (in
``files/``) and the stills of its fake videos (in ``stills/``), never the user's data,
videos or cache folder; the remembered view is left alone. The banner says where the
files are meanwhile, and that they go.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from vidwatch.core.config import ENV_API_KEY, Config
from vidwatch.core.model.records import Task, TaskRequest
from vidwatch.core.polling.durations import DurationModel
from vidwatch.core.store.task_file import TaskStore

if TYPE_CHECKING:
    from vidwatch.simulator.server import Simulator

__all__ = ["Demo", "home_relative"]

DEMO_MIN_INTERVAL, DEMO_MAX_INTERVAL = 1.0, 8.0  # the demo moves fast
DEMO_MEDIAN = 90.0  # the simulator's median job, in simulated seconds


def home_relative(path: Path) -> str:
    """``~/tmp/vidwatch-demo-…/files``: a path under the home folder, short."""
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


class Demo:
    """The simulator, its own task list and folder, and the settings that fit them."""

    def __init__(self, jobs: int, seed: int, speed: float) -> None:
        self.jobs, self.seed, self.speed = jobs, seed, speed
        self.folder = Path(tempfile.mkdtemp(prefix="vidwatch-demo-"))
        self.store = TaskStore(self.folder / "tasks.toml")
        self.files = self.folder / "files"  # downloads and exports: gone with the demo
        self.stills = self.folder / "stills"  # stills of its fake videos: not the user's cache
        self.simulator: Simulator | None = None

    def config(self, config: Config) -> Config:
        """Faster polling, and downloads and exports into the demo's own folder."""
        policy = replace(
            config.policy, min_interval=DEMO_MIN_INTERVAL, max_interval=DEMO_MAX_INTERVAL
        )
        return replace(config, policy=policy, download_dir=self.files)

    def durations(self) -> DurationModel:
        """The simulator runs faster than real jobs: so do their durations."""
        return DurationModel(prior_median=DEMO_MEDIAN / self.speed)

    async def start(self, config: Config, now: Callable[[], datetime]) -> tuple[Config, str]:
        """Start the simulator and fill the demo's list; returns the config that reaches
        it and the banner that says what is going on."""
        from vidwatch.simulator.jobs import MODELS
        from vidwatch.simulator.server import Simulator

        # Every family in turn (grok, sora, veo, and the doc page's shape): each answers
        # in its own way, as users' real jobs do.
        simulator = Simulator(jobs=self.jobs, seed=self.seed, speed=self.speed, models=MODELS)
        base_url = await simulator.start()
        self.simulator = simulator
        when = now()
        # Each with the request that made it, as if created here: the request log's
        # charges are matched to them (by model and time), so the demo shows costs.
        jobs = list(simulator.jobs.values())
        # The first row (where the cursor starts) is the job that succeeds first: the
        # detail pane shows a still and the video's facts at once, or within moments.
        done = [j for j in jobs if not j.fails]
        if done:
            first = min(done, key=lambda j: j.finishes_at)
            jobs.remove(first)
            jobs.insert(0, first)
        tasks = [
            Task(
                job.id,
                when,
                f"demo {n + 1:02d} {job.model}",
                request=TaskRequest(job.model, job.prompt),
            )
            for n, job in enumerate(jobs)
        ]
        await asyncio.to_thread(self.store.add, tasks)
        config = replace(config, base_url=base_url, api_key=simulator.api_key, key_source="demo")
        # Short enough for three lines at 80 columns (the banner keeps to four).
        banner = (
            f"DEMO: {len(tasks)} jobs on the built-in simulator (your list is untouched). "
            f"Downloads and exports go to {home_relative(self.files)}, deleted when the "
            f"demo ends. Set {ENV_API_KEY} to watch your real jobs."
        )
        return config, banner

    async def stop(self) -> None:
        if self.simulator is not None:
            await self.simulator.stop()
        self.discard()

    def discard(self) -> None:
        """Remove the demo's folder and all in it (blocking; also from the watchdog's
        thread when a signal ends the demo and the event loop does not answer)."""
        shutil.rmtree(self.folder, ignore_errors=True)
