"""``vidwatch download`` and the videos ``wait`` saves (issue 21 items 2 and 6), in-process
against the simulator over loopback."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from vidwatch.cli import EXIT_KEY, EXIT_OK, main
from vidwatch.simulator.serve import SimulatorThread
from vidwatch.simulator.server import Simulator


@dataclass
class World:
    sim: Simulator
    thread: SimulatorThread
    tmp: Path
    config: Path
    videos: Path

    def __call__(self, *argv: str, key: bool = True) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("QUICKROUTER_BASE_URL", self.thread.base_url)
            patch.setenv("VIDWATCH_CONFIG", str(self.config))
            if key:
                patch.setenv("QUICKROUTER_API_KEY", self.sim.api_key)
            else:
                patch.delenv("QUICKROUTER_API_KEY", raising=False)
            tasks = str(self.tmp / "tasks.toml")
            code = main(["--tasks-file", tasks, *argv], out=out, err=err, stdin=io.StringIO())
        return code, out.getvalue(), err.getvalue()

    def job(self, duration: float) -> str:
        made = self.thread.call(
            lambda: self.sim.add_job(queue_time=0, duration=duration, fails=False)
        )
        assert isinstance(made, str)
        return made

    def configure(self, extra: str = "") -> None:
        self.config.write_text(
            f"download_dir = {json.dumps(str(self.videos))}\n"
            "[polling]\nmin_interval = 0.05\nmax_interval = 0.2\nmax_requests_per_second = 100\n"
            '[preview]\nmode = "off"\n' + extra,  # no still beside the video: no decoder process
            encoding="utf-8",
        )

    def saved(self) -> dict[str, str | None]:
        listed = json.loads(self("list", "--json")[1])
        return {d["id"]: d["saved_to"] for d in listed}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    sim = Simulator(jobs=0, seed=5, speed=1.0)
    with SimulatorThread(sim) as thread:
        made = World(sim, thread, tmp_path, tmp_path / "config.toml", tmp_path / "videos")
        made.configure()
        yield made


def on_disk(world: World, path: str | None, job: str) -> bool:
    return path is not None and Path(path).read_bytes() == world.sim.jobs[job].video()


def test_download_right_after_submit_checks_the_unfinished_tasks_first(world: World) -> None:
    done, running = world.job(0), world.job(3600)
    world("add", done, running)  # "new" in the list: never asked about
    code, out, err = world("download", key=False)
    assert "2 unfinished tasks not checked (no API key)" in err
    assert "vidwatch wait --download" in err
    assert out == ""
    code, out, err = world("download")
    assert code == EXIT_OK, err
    assert "checking 2 unfinished tasks first" in err
    assert out.split("\t")[0] == done  # finished on the server: fetched
    assert "1 job not finished yet (not downloaded): vidwatch wait --download" in err
    saved = world.saved()
    assert on_disk(world, saved[done], done)
    assert saved[running] is None


def test_wait_download_saves_each_video_as_its_job_finishes(world: World) -> None:
    jobs = [world.job(0.2), world.job(0.5)]
    code, out, err = world("wait", *jobs, "--download", "--timeout", "30")
    assert code == EXIT_OK, err
    assert sorted(line.split("\t")[0] for line in out.splitlines()) == sorted(jobs)
    saved = world.saved()
    assert all(on_disk(world, saved[j], j) for j in jobs)
    assert all(Path(saved[j] or "").parent == world.videos for j in jobs)


def test_downloads_auto_makes_every_wait_save_the_videos(world: World) -> None:
    job = world.job(0.2)
    assert world("wait", job, "--timeout", "30")[0] == EXIT_OK
    assert world.saved()[job] is None  # not asked, not set: nothing saved
    world.configure("[downloads]\nauto = true\n")
    other = world.job(0.2)
    code, _, err = world("wait", other, "--timeout", "30")
    assert code == EXIT_OK, err
    assert on_disk(world, world.saved()[other], other)
    assert world("wait", "--download", world.job(0), key=False)[0] == EXIT_KEY
