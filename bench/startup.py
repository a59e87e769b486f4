"""How long a command takes to start: scripts call ``vidwatch add``, ``list`` and ``urls``
in loops, one process each.

Every command runs as a script runs it, a new process through the installed ``vidwatch``
entry point, beside its anchor measured in the same run: ``python -c pass`` on the same
interpreter, the floor of any Python command. The runs are interleaved (anchor, then each
command, round after round) so that a busy machine slows them alike; each figure is the
fastest of its rounds (as timeit reports: the rest is other processes' time). Every process
gets its own HOME (no config, no key, no log of the user's), and the bytecode is written by
a first round that is not counted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vidwatch.core.store.task_file import TaskStore

from bench.fixtures import records

ROUNDS = 15
TASKS = 1000


@dataclass(frozen=True)
class Figures:
    anchor: float  # seconds, the fastest round: python -c pass
    empty_list: float  # vidwatch list, nothing watched
    list_tasks: float  # vidwatch list, TASKS watched
    urls_tasks: float  # vidwatch urls, TASKS watched
    version: float  # vidwatch --version


def _vidwatch() -> list[str]:
    """The installed command, as a shell finds it; ``python -m vidwatch`` without one."""
    script = Path(sys.executable).with_name("vidwatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vidwatch"]


def _environment(home: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("XDG_", "QUICKROUTER_", "VIDWATCH_"))
        and name != "PYTHONDONTWRITEBYTECODE"  # a user's install has its bytecode
    }
    env["HOME"] = str(home)
    return env


def _run(argv: Sequence[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr}")
    return elapsed, done.stdout


def measure(rounds: int = ROUNDS) -> Figures:
    with tempfile.TemporaryDirectory(prefix="vidwatch-bench-") as folder:
        home = Path(folder) / "home"
        home.mkdir()
        tasks = Path(folder) / "tasks.toml"
        TaskStore(tasks).replace_all(records(TASKS))
        env = _environment(home)
        vidwatch = _vidwatch()
        many = ["--tasks-file", str(tasks)]
        commands = {
            "anchor": [sys.executable, "-c", "pass"],
            "empty_list": [*vidwatch, "list"],
            "list_tasks": [*vidwatch, "list", *many],
            "urls_tasks": [*vidwatch, "urls", *many],
            "version": [*vidwatch, "--version"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(rounds + 1):
            for name, argv in commands.items():
                elapsed, out = _run(argv, env)
                if round_ == 0:  # writes the bytecode; checks the commands do the work
                    _check(name, out)
                    continue
                times[name].append(elapsed)
    return Figures(**{name: min(values) for name, values in times.items()})


def _check(name: str, out: str) -> None:
    lines = out.splitlines()
    if name == "list_tasks":
        assert len(lines) == TASKS + 1, f"list printed {len(lines)} lines"
    elif name == "urls_tasks":
        assert all(line.startswith("https://") for line in lines), out[:200]
        assert lines, "urls printed nothing"
    elif name == "empty_list":
        assert out.startswith("No tasks"), out[:200]


if __name__ == "__main__":
    print(measure())
