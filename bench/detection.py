"""Detection latency at a fixed request budget: a discrete-event run on a simulated clock.

The real :class:`~vidwatch.core.scheduler.Scheduler` decides what to poll; the real
simulator's job model says what each poll sees, through the real
:func:`~vidwatch.core.parsing.parse_response`. No sleeping and no sockets: a 25-minute
run takes a few seconds. Latency is the time from the simulator finishing a job
to vidwatch holding the answer that says so.

Anchors in the same run, on the same jobs and budget:
- plain round-robin: every watched task in turn, one request per budget slot;
- round-robin that skips the tasks it already knows are finished (a stronger anchor).
"""

from __future__ import annotations

import heapq
import json
import random
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from vidwatch.core.outcomes import Ok, Outcome
from vidwatch.core.parsing import parse_response
from vidwatch.core.scheduler import Policy, Scheduler
from vidwatch.core.simulator import Job, Simulator

RTT = 0.15  # seconds per request on the simulated clock
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Result:
    name: str
    median: float
    p95: float
    requests: int
    end: float  # when the last job was known to be done


@dataclass
class World:
    sim: Simulator
    jobs: list[Job]  # in order of creation
    clock: list[float]  # the simulator's clock reads clock[0]

    def ask(self, task_id: str) -> Outcome:
        """What a poll of ``task_id`` returns right now."""
        job = self.sim.jobs[task_id]
        body = json.dumps(self.sim._body(job)).encode()
        return parse_response(200, {}, body, now=self.sim.wall_time(self.clock[0]))


def make_world(jobs: int, spread: float, seed: int) -> World:
    clock = [0.0]
    sim = Simulator(jobs=0, seed=seed, clock=lambda: clock[0])
    sim._wall0 = EPOCH  # a fixed calendar, so every run is the same run
    sim.base_url = "http://127.0.0.1:9"  # never served: the video URLs only need to parse
    rng = random.Random(seed)
    created = sorted(rng.uniform(0.0, spread) for _ in range(jobs))
    ids = [sim.add_job(created=when) for when in created]
    return World(sim, [sim.jobs[i] for i in ids], clock)


def _summary(name: str, world: World, known: dict[str, float], requests: int) -> Result:
    latencies = sorted(known[j.id] - j.finishes_at for j in world.jobs)
    p95 = latencies[min(int(0.95 * len(latencies)), len(latencies) - 1)]
    return Result(name, statistics.median(latencies), p95, requests, max(known.values()))


def round_robin(world: World, budget: float, *, skip_finished: bool) -> Result:
    """One request every 1/budget s to the task at the head of the queue, which then goes
    to the back (finished tasks leave the queue only with ``skip_finished``)."""
    queue: deque[Job] = deque()
    known: dict[str, float] = {}
    arrivals = deque(world.jobs)
    t = 0.0
    requests = 0
    while len(known) < len(world.jobs):
        while arrivals and arrivals[0].created <= t:
            queue.append(arrivals.popleft())
        if not queue:
            t = arrivals[0].created
            continue
        job = queue.popleft()
        world.clock[0] = t
        outcome = world.ask(job.id)
        requests += 1
        done = isinstance(outcome, Ok) and outcome.result.final
        if done and job.id not in known:
            known[job.id] = t + RTT
        if not (done and skip_finished):
            queue.append(job)
        t += 1.0 / budget
    name = "round-robin, skipping finished" if skip_finished else "round-robin (plain)"
    return _summary(name, world, known, requests)


def vidwatch(world: World, policy: Policy, seed: int) -> Result:
    """The real scheduler: arrivals are tracked as they are created, answers arrive RTT later."""
    sched = Scheduler(
        policy, now=0.0, rng=random.Random(seed), wall_offset=world.sim.wall_time(0).timestamp()
    )
    known: dict[str, float] = {}
    arrivals = list(world.jobs)
    answers: list[tuple[float, int, str, Outcome]] = []  # (arrives at, n, task, outcome)
    t = 0.0
    n = 0
    requests = 0
    while len(known) < len(world.jobs):
        candidates = [arrivals[0].created] if arrivals else []
        if answers:
            candidates.append(answers[0][0])
        wake = sched.next_wakeup(t)
        if wake is not None:
            candidates.append(wake)
        t = max(t, min(candidates))
        while arrivals and arrivals[0].created <= t:
            sched.track(arrivals.pop(0).id, None, t)
        while answers and answers[0][0] <= t:
            _, _, task_id, outcome = heapq.heappop(answers)
            sched.complete(task_id, outcome, t)
            if isinstance(outcome, Ok) and outcome.result.final and task_id not in known:
                known[task_id] = t
        world.clock[0] = t
        while (asked := sched.next_task(t)) is not None:
            requests += 1
            n += 1
            heapq.heappush(answers, (t + RTT, n, asked, world.ask(asked)))
    return _summary("vidwatch scheduler", world, known, requests)


def run(
    jobs: int = 1000, spread: float = 1200.0, budget: float = 20.0, seed: int = 7
) -> dict[str, Result]:
    policy = Policy(max_requests_per_second=budget)
    results: dict[str, Result] = {}
    runs: list[tuple[str, Callable[[World], Result]]] = [
        ("plain", lambda w: round_robin(w, budget, skip_finished=False)),
        ("skip", lambda w: round_robin(w, budget, skip_finished=True)),
        ("vidwatch", lambda w: vidwatch(w, policy, seed)),
    ]
    for key, fn in runs:
        results[key] = fn(make_world(jobs, spread, seed))  # the same jobs for each
    return results


if __name__ == "__main__":
    for spread in (60.0, 600.0, 1200.0):
        out = run(spread=spread)
        plain = out["plain"]
        for r in out.values():
            print(
                f"spread {spread:5.0f} {r.name:32} median {r.median:6.1f} s  p95 {r.p95:6.1f} s  "
                f"requests {r.requests:6d}  ratio {r.median / plain.median:.2f} "
                f"{r.p95 / plain.p95:.2f}"
            )
