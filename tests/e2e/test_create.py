"""End to end: ``vidwatch create`` and ``vidwatch submit`` as real processes against the
simulator over loopback, its create counter the proof that nothing is paid twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from vidwatch.core.config import default_sent_dir
from vidwatch.core.create.journal import RowState
from vidwatch.core.create.ledger import Ledger
from vidwatch.simulator.serve import SimulatorThread
from vidwatch.simulator.server import Simulator

pytestmark = pytest.mark.e2e


@dataclass
class World:
    sim: Simulator
    thread: SimulatorThread
    env: dict[str, str]
    tasks: Path
    tmp: Path

    def argv(self, *argv: str) -> list[str]:
        return [sys.executable, "-m", "vidwatch", "--tasks-file", str(self.tasks), *argv]

    def run(self, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*argv),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=90,
            check=False,
        )

    def call(self, fn: Any) -> Any:
        return self.thread.call(fn)

    @property
    def sent(self) -> int:
        """Creates the simulator received, answered or not."""
        return int(self.call(lambda: sum(self.sim.create.answers.values())))

    def listed(self) -> dict[str, dict[str, Any]]:
        shown = self.run("list", "--json")
        assert shown.returncode == 0, shown.stderr
        return {task["id"]: task for task in json.loads(shown.stdout)}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # Jobs finish in about a second; none fails by itself.
    sim = Simulator(jobs=0, seed=11, speed=20.0, median=10.0, fail_rate=0.0)
    config = tmp_path / "config.toml"
    config.write_text(
        "[polling]\nmin_interval = 0.1\nmax_interval = 0.3\nmax_requests_per_second = 100\n"
        "[create]\nconcurrency = 1\n",
        encoding="utf-8",
    )
    with SimulatorThread(sim) as thread:
        env = {
            **os.environ,
            "QUICKROUTER_BASE_URL": thread.base_url,
            "QUICKROUTER_API_KEY": sim.api_key,
            "VIDWATCH_CONFIG": str(config),
        }
        yield World(sim, thread, env, tmp_path / "tasks.toml", tmp_path)


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def lines_by_row(stdout: str) -> dict[int, list[str]]:
    rows = [line.split("\t") for line in stdout.splitlines() if line and line[0].isdigit()]
    return {int(cells[0]): cells for cells in rows}


# --------------------------------------------------------------------------- create


def test_create_prints_an_id_that_wait_resolves_to_a_url(world: World) -> None:
    made = world.run("create", "--yes", "--model", "grok-video-3", "--label", "cat", "a cat")
    assert made.returncode == 0, made.stderr
    task_id = made.stdout.strip()
    assert task_id.startswith("grok:")
    assert "\n" not in task_id
    assert world.sent == 1
    task = world.listed()[task_id]
    assert task["label"] == "cat"
    assert task["request"] == {
        "model": "grok-video-3",
        "prompt": "a cat",
        "fields": {},
        "images": [],
    }
    waited = world.run("wait", task_id, "--timeout", "60")
    assert waited.returncode == 0, waited.stderr
    listed_id, url = waited.stdout.strip().split("\t")
    assert listed_id == task_id
    assert url.startswith(world.thread.base_url + "/videos/")


def test_create_without_yes_and_without_a_terminal_sends_nothing(world: World) -> None:
    refused = world.run("create", "a cat")
    assert refused.returncode == 64
    assert "--yes" in refused.stderr
    assert refused.stdout == ""
    from_stdin = world.run("create", "-", stdin="a dog on the moon")
    assert from_stdin.returncode == 64
    assert world.sent == 0
    assert not world.tasks.exists() or world.listed() == {}


# --------------------------------------------------------------------------- submit

ROWS = [
    {"prompt": "a red fox", "label": "fox", "aspect_ratio": "3:2"},
    {"prompt": "a blue whale", "label": "whale", "aspect_ratio": "1:1"},
    {"prompt": "a green frog", "label": "frog", "size": "1080P"},
    {"prompt": "a grey owl", "label": "owl", "aspect_ratio": "2:3"},
    {"prompt": "a pink flamingo", "label": "flamingo", "aspect_ratio": "3:2"},
]


def test_submit_never_sends_a_row_twice(world: World) -> None:
    batch = write_rows(world.tmp / "animals.jsonl", ROWS)
    # The 2nd create is taken but its answer is lost; the 4th is refused (400).
    world.call(lambda: world.sim.create.inject("lose-answer", 1, after=1))
    world.call(lambda: world.sim.create.inject("400", 1, after=1))

    dry = world.run("submit", "--dry-run", str(batch))
    assert dry.returncode == 0, dry.stderr
    assert world.sent == 0
    assert dry.stdout.count("would send") == 5
    assert '"aspect_ratio":"3:2"' in dry.stdout

    first = world.run("submit", "--yes", str(batch))
    assert first.returncode == 1
    assert world.sent == 5
    rows = lines_by_row(first.stdout)
    assert sorted(rows) == [1, 2, 3, 4, 5]
    assert rows[2][1:3] == ["whale", "-"]
    assert rows[2][3].startswith("uncertain")
    assert rows[4][1:3] == ["owl", "-"]
    assert rows[4][3].startswith("refused: 400")
    assert "uncertain rows: 2 (whale)" in first.stderr
    assert "refused rows: 4 (owl)" in first.stderr
    assert "--mark-done 2=ID" in first.stderr
    good = {n: rows[n][2] for n in (1, 3, 5)}
    listed = world.listed()
    for n, task_id in good.items():
        assert listed[task_id]["label"] == ROWS[n - 1]["label"]
        extra = {k: v for k, v in ROWS[n - 1].items() if k not in ("prompt", "label")}
        assert listed[task_id]["request"]["fields"] == extra
    bodies = world.call(lambda: list(world.sim.create.bodies))
    assert {
        "model": "grok-video-3",
        "prompt": "a red fox",
        "aspect_ratio": "3:2",
        "images": [],
    } in bodies
    assert len(listed) == 3  # the lost answer's job is not known to vidwatch

    second = world.run("submit", "--yes", str(batch))
    assert second.returncode == 1
    assert world.sent == 5  # no row with a job, and not the uncertain one
    again = lines_by_row(second.stdout)
    assert [again[n][2] for n in (1, 3, 5)] == list(good.values())
    assert "has a job" in again[1][3]
    assert again[2][3].startswith("uncertain")

    # The user found row 2's job in the console and gives up on row 4.
    lost_job = world.call(lambda: world.sim.create.job_ids[1])
    resolved = world.run("submit", "--yes", str(batch), "--mark-done", f"2={lost_job}", "4")
    assert resolved.returncode == 0, resolved.stderr
    assert world.sent == 5
    assert world.listed()[lost_job]["label"] == "whale"
    assert world.run("submit", "--dry-run", str(batch)).stdout.count("would send") == 0


def test_submit_without_yes_and_without_a_terminal_sends_nothing(world: World) -> None:
    batch = write_rows(world.tmp / "b.jsonl", ROWS[:2])
    refused = world.run("submit", str(batch))
    assert refused.returncode == 64
    assert "--yes" in refused.stderr
    assert world.sent == 0


def test_kill_9_at_any_moment_never_pays_twice_nor_loses_a_job(world: World) -> None:
    rows = [{"prompt": f"clip number {n}", "label": f"c{n}"} for n in range(1, 25)]
    batch = write_rows(world.tmp / "many.jsonl", rows)
    folder = Ledger(default_sent_dir(), world.tasks).journals
    journal = folder.path_for(str(batch.resolve()))

    def records() -> list[bytes]:
        return journal.read_bytes().splitlines() if journal.exists() else []

    killed = 0
    # Each run is killed as soon as it wrote a few more records and the last one is of
    # this kind: an intent (the request about to go out, or out), a job's ID (the task
    # list not yet written), the note that it is listed.
    for more, kind in [(1, b"intent"), (2, b"created"), (1, b"listed"), (3, b"intent")] * 2:
        start = len(records())
        proc = subprocess.Popen(
            world.argv("submit", "--yes", str(batch)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=world.env,
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            seen = records()
            if len(seen) >= start + more and b'"kind":"%s"' % kind in seen[-1]:
                proc.send_signal(signal.SIGKILL)
                killed += 1
                break
            time.sleep(0.001)
        proc.wait(30)
    assert killed >= 4
    final = world.run("submit", "--yes", str(batch))
    assert final.returncode in (0, 1), final.stderr
    bodies = world.call(lambda: list(world.sim.create.bodies))
    prompts = [body["prompt"] for body in bodies]
    assert len(prompts) == len(set(prompts)), "a row was paid twice"
    manifest = folder.read(str(batch.resolve()))
    entries = list(manifest.entries.values())
    created = {e.task_id for e in entries if e.state is RowState.CREATED}
    uncertain = [e for e in entries if e.state in (RowState.UNCERTAIN, RowState.SENDING)]
    listed = world.listed()
    assert created <= set(listed)  # every job vidwatch heard of is in the list
    made = set(world.call(lambda: list(world.sim.create.job_ids)))
    assert set(listed) <= made
    assert len(made - set(listed)) <= len(uncertain)  # the rest are rows it calls uncertain
    assert len(created) + len(uncertain) == len(rows)
    assert sorted(lines_by_row(final.stdout)) == list(range(1, len(rows) + 1))


class HangingGateway:
    """A loopback gateway whose first create is answered and whose second never is."""

    def __init__(self) -> None:
        self.second = threading.Event()  # the second create has arrived
        self.release = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with gateway.lock:
                    gateway.creates += 1
                    n = gateway.creates
                if n >= 2:
                    gateway.second.set()
                    gateway.release.wait(60)
                    return
                body = json.dumps({"id": "grok:first", "status": "pending"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")  # each create on a new connection
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.creates = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HangingGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_ctrl_c_during_submit_prints_the_summary_and_names_the_uncertain_row(
    world: World,
) -> None:
    batch = write_rows(world.tmp / "b.jsonl", [{"prompt": p, "label": p} for p in "abc"])
    with HangingGateway() as gateway:
        env = {**world.env, "QUICKROUTER_BASE_URL": gateway.base_url}
        proc = subprocess.Popen(
            world.argv("submit", "--yes", str(batch)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert gateway.second.wait(60), "the second create never came"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert lines_by_row(out)[1][2:] == ["grok:first", "created"]
    assert "3 rows: 1 with a job, 1 uncertain, 1 not sent; 2 requests sent now" in err
    assert "uncertain rows: 2 (b): its request may have made a job" in err
    assert "rows not sent: 3 (c): submit again to send them" in err
    assert "interrupted" in err
    assert "Traceback" not in err
