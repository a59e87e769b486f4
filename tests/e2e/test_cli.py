"""End to end: the real ``vidwatch`` process against the simulator over loopback HTTP."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from vidwatch.simulator.serve import SimulatorThread
from vidwatch.simulator.server import Simulator

pytestmark = pytest.mark.e2e


@dataclass
class World:
    sim: Simulator
    thread: SimulatorThread
    env: dict[str, str]
    tasks: Path

    def run(
        self, *argv: str, stdin: str = "", timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vidwatch", "--tasks-file", str(self.tasks), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def world(tmp_path: Path, isolated_home: Path) -> Iterator[World]:
    sim = Simulator(jobs=0, seed=5, speed=1.0)
    config = tmp_path / "config.toml"
    config.write_text(
        "[polling]\nmin_interval = 0.2\nmax_interval = 0.5\n"
        "concurrency = 4\nmax_requests_per_second = 50\n",
        encoding="utf-8",
    )
    with SimulatorThread(sim) as thread:
        env = {
            **os.environ,
            "QUICKROUTER_BASE_URL": thread.base_url,
            "QUICKROUTER_API_KEY": sim.api_key,
            "VIDWATCH_CONFIG": str(config),
        }
        yield World(sim, thread, env, tmp_path / "tasks.toml")


def new_job(world: World, **kw: object) -> str:
    job_id = world.thread.call(lambda: world.sim.add_job(**kw))  # type: ignore[arg-type]
    assert isinstance(job_id, str)
    return job_id


def test_add_wait_urls(world: World) -> None:
    ok1 = new_job(world, queue_time=0.2, duration=0.8, fails=False)
    ok2 = new_job(world, queue_time=0.1, duration=1.2, fails=False)
    added = world.run("add", "-", "--label", "batch", stdin=f"{ok1}\n{ok2}\n")
    assert added.returncode == 0, added.stderr
    assert "Added 2 tasks" in added.stdout

    waited = world.run("wait", ok1, ok2, "--timeout", "30")
    assert waited.returncode == 0, waited.stderr
    lines = sorted(waited.stdout.splitlines())
    assert lines == sorted(
        f"{i}\t{world.thread.base_url}/videos/{i.split(':', 1)[1]}.mp4" for i in (ok1, ok2)
    )
    assert "succeeded" in waited.stderr  # progress lines go to stderr

    urls = world.run("urls")
    assert sorted(urls.stdout.split()) == sorted(line.split("\t")[1] for line in lines)
    listed = json.loads(world.run("list", "--json").stdout)
    assert {d["state"] for d in listed} == {"succeeded"}
    assert {d["label"] for d in listed} == {"batch"}
    assert world.sim.api_key not in world.tasks.read_text(encoding="utf-8")


def test_wait_on_jobs_of_seconds_returns_in_seconds_with_the_default_config(
    world: World, tmp_path: Path
) -> None:
    """Issue 11: default polling (every 3 s at most, 10 req/s), two 4-second jobs.
    `wait --timeout 40` sees them finish and prints both URLs (main asked again only
    ~46 s later, and timed out)."""
    defaults = tmp_path / "defaults.toml"
    defaults.write_text("", encoding="utf-8")
    jobs = [new_job(world, queue_time=0.5, duration=4.0, fails=False) for _ in range(2)]
    env = {**world.env, "VIDWATCH_CONFIG": str(defaults)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vidwatch", "--tasks-file", str(world.tasks), *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    assert run("add", *jobs).returncode == 0
    waited = run("wait", *jobs, "--timeout", "40")
    assert waited.returncode == 0, waited.stderr
    assert sorted(waited.stdout.splitlines()) == sorted(
        f"{i}\t{world.thread.base_url}/videos/{i.split(':', 1)[1]}.mp4" for i in jobs
    )


def test_wait_reports_a_failed_job_with_exit_1(world: World) -> None:
    good = new_job(world, queue_time=0, duration=0.3, fails=False)
    bad = new_job(world, queue_time=0, duration=0.3, fails=True)
    waited = world.run("wait", good, bad, "--timeout", "30")
    assert waited.returncode == 1
    assert waited.stdout.startswith(good + "\t")
    assert f"{bad} failed" in waited.stderr


def test_wait_times_out_with_exit_2(world: World) -> None:
    slow = new_job(world, queue_time=0, duration=600)
    waited = world.run("wait", slow, "--timeout", "1")
    assert waited.returncode == 2
    assert "timed out" in waited.stderr


def test_wait_on_an_id_the_server_does_not_know_says_so(world: World) -> None:
    """Given up after a few answers at the polling floor: exit 1, long before the timeout."""
    waited = world.run("wait", "grok:00000000-never-created", "--timeout", "600")
    assert waited.returncode == 1
    said = "grok:00000000-never-created: The server does not know this task (HTTP 400)"
    assert said in waited.stderr
    assert "given up (not found 3 times) — check the ID and base_url" in waited.stderr
    assert "()" not in waited.stderr


def test_rejected_key_is_exit_3_and_never_printed(world: World) -> None:
    job = new_job(world, queue_time=0, duration=0.3)
    env = {**world.env, "QUICKROUTER_API_KEY": "sk-wrong-key-0123456789"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidwatch",
            "--tasks-file",
            str(world.tasks),
            "wait",
            job,
            "--timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "key" in result.stderr.lower()
    assert "sk-wrong-key-0123456789" not in result.stdout + result.stderr
    assert "sk-wrong-key-0123456789" not in world.tasks.read_text(encoding="utf-8")


def test_poll_json_once(world: World) -> None:
    job = new_job(world, queue_time=100, duration=10)
    world.run("add", job)
    polled = world.run("poll", "--json")
    assert polled.returncode == 0, polled.stderr
    data = json.loads(polled.stdout)
    assert [(d["id"], d["status"], d["state"]) for d in data] == [(job, "pending", "queued")]


def test_simulate_command_prints_url_key_and_ids(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidwatch", "simulate", "--jobs", "3", "--seed", "9"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    expected = Simulator(jobs=3, seed=9).job_ids
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if all(i in "".join(lines) for i in expected):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        reader.join(30)
    finally:
        proc.terminate()
        proc.wait(10)
    text = "".join(lines)
    assert "http://127.0.0.1:" in text
    assert "api key" in text
    assert all(i in text for i in expected)


def test_poll_of_named_ids_asks_only_for_those(world: World) -> None:
    jobs = [new_job(world, queue_time=100, duration=10) for _ in range(5)]
    world.run("add", *jobs)
    before = world.sim.stats.requests
    polled = world.run("poll", "--json", jobs[3])
    assert polled.returncode == 0, polled.stderr
    assert [d["id"] for d in json.loads(polled.stdout)] == [jobs[3]]
    assert world.sim.stats.requests - before == 1


def test_poll_says_so_when_the_server_does_not_know_a_task(world: World) -> None:
    world.run("add", "grok:00000000-0000-4000-8000-000000000000")
    polled = world.run("poll")
    assert polled.returncode == 1
    assert "does not know this task" in polled.stdout


def test_wait_with_timeout_zero_does_not_wait(world: World) -> None:
    job = new_job(world, queue_time=100, duration=10)
    waited = world.run("wait", job, "--timeout", "0")
    assert waited.returncode == 2
    assert "timed out" in waited.stderr


def test_download_saves_finished_videos_and_remembers_them(world: World, tmp_path: Path) -> None:
    done = new_job(world, queue_time=0, duration=0, fails=False)
    running = new_job(world, queue_time=0, duration=3600, fails=False)
    world.run("add", done, running, "--label", "clip")
    assert world.run("poll").returncode == 0
    folder = tmp_path / "videos"
    got = world.run("download", "--dir", str(folder))
    assert got.returncode == 0, got.stderr
    task_id, path = got.stdout.strip().split("\t")
    assert task_id == done
    assert Path(path).read_bytes() == world.sim.jobs[done].video()
    assert Path(path).parent == folder
    listed = {d["id"]: d for d in json.loads(world.run("list", "--json").stdout)}
    assert listed[done]["saved_to"] == path
    assert listed[running]["saved_to"] is None
    again = world.run("download", "--dir", str(folder))  # nothing left to fetch
    assert again.returncode == 0
    assert "Nothing to download" in again.stderr
    named = world.run("download", running, "--dir", str(folder))
    assert named.returncode == 1
    assert "no video URL yet (the job is " in named.stderr  # as the dashboard says it
    elsewhere = world.run("download", done, "--dir", str(tmp_path / "other"))
    assert elsewhere.returncode == 0
    assert f"already saved at {path}; not downloaded again into" in elsewhere.stderr
    Path(path).unlink()  # the user deleted the file: it is fetched again
    back = world.run("download", "--dir", str(folder))
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip() == f"{done}\t{path}"
    assert Path(path).read_bytes() == world.sim.jobs[done].video()
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    refused = world.run("download", done, "--dir", str(a_file))
    assert refused.returncode == 64
    assert "is a file, not a folder" in refused.stderr
    assert world.sim.stats.key_sent_to_video_host == 0


def test_export_and_list_take_the_filter_language(world: World, tmp_path: Path) -> None:
    ok = new_job(world, queue_time=0, duration=0, fails=False)
    bad = new_job(world, queue_time=0, duration=0, fails=True)
    world.run("add", ok, bad)
    world.run("poll")
    out = tmp_path / "failed.csv"
    exported = world.run("export", "--filter", "state:failed", "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == [bad]
    assert rows[0]["state"] == "failed"
    md = world.run("export", "--format", "md")
    assert md.stdout.count("\n") == 4  # header, rule, two rows
    listed = json.loads(world.run("list", "--json", "--filter=-state:failed").stdout)
    assert [d["id"] for d in listed] == [ok]
    wrong = world.run("list", "--filter", "age:soon")
    assert wrong.returncode == 64
    assert "age:<1h" in wrong.stderr
    none = world.run("list", "--filter", "label:nothing-like-this")
    assert none.stdout.strip() == "No task matches 'label:nothing-like-this'."
    for where in ("", ".", str(tmp_path)):
        refused = world.run("export", "-o", where)
        assert refused.returncode == 4, where
        assert "folder" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_web_refuses_a_port_it_cannot_listen_on(world: World) -> None:
    # Hosts and ports refused before anything starts: tests/cli/test_cli.py.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = world.run("web", "--port", str(busy.getsockname()[1]), timeout=20)
    assert taken.returncode == 64
    assert "cannot listen" in taken.stderr
    assert "open http" not in taken.stderr  # no address printed for a server that never ran


def test_wait_hands_each_line_to_a_pipe_as_its_job_finishes(world: World) -> None:
    """Issue 21 item 1: ``vidwatch wait A B | …`` gets A's line while B still runs."""
    quick = new_job(world, queue_time=0, duration=0.2, fails=False)
    slow = new_job(world, queue_time=0, duration=3600, fails=False)
    argv = ["--tasks-file", str(world.tasks), "wait", slow, quick, "--timeout", "60", "-q"]
    with subprocess.Popen(
        [sys.executable, "-m", "vidwatch", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=world.env,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # blocks until a line is written and flushed
            assert first.split("\t")[0] == quick
            assert proc.poll() is None  # the slow job is still awaited
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_thumb_writes_stills_and_keeps_the_videos_facts(world: World, tmp_path: Path) -> None:
    done = new_job(world, queue_time=0, duration=0, fails=False)
    other = new_job(world, queue_time=0, duration=0, fails=False)
    running = new_job(world, queue_time=0, duration=3600, fails=False)
    world.run("add", done, other, running)
    assert world.run("poll").returncode == 0
    still = tmp_path / "one.jpg"
    got = world.run("thumb", done, "-o", str(still))
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == f"{done}\t{still}"
    assert still.read_bytes().startswith(b"\xff\xd8\xff")
    listed = {d["id"]: d for d in json.loads(world.run("list", "--json").stdout)}
    facts = listed[done]["video"]
    assert (facts["codec"], facts["fps"]) == ("h264", 8.0)
    assert facts["size"] == len(world.sim.jobs[done].video())
    refused = world.run("thumb", running, "nope", "--dir", str(tmp_path))
    assert refused.returncode == 1
    assert "has not finished yet" in refused.stderr
    assert "not watched: nope" in refused.stderr
    folder = tmp_path / "videos"
    saved = world.run("download", other, "--dir", str(folder))  # a still beside the video
    assert saved.returncode == 0, saved.stderr
    video = Path(saved.stdout.strip().split("\t")[1])
    assert video.with_suffix(".jpg").read_bytes().startswith(b"\xff\xd8\xff")
    sidecar = json.loads(video.with_suffix(".json").read_text())
    assert sidecar["video"]["codec"] == "h264"  # the facts, in the sidecar too
