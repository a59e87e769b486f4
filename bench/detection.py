"""Detection latency at a fixed request budget: a discrete-event run on a simulated clock.

The real :class:`~vidwatch.core.polling.scheduler.Scheduler` decides what to poll; the real
simulator's job model says what each poll sees, through the real
:func:`~vidwatch.core.gateway.parsing.parse_response`. No sleeping and no sockets: a 25-minute
run takes a few seconds. Latency is the time from the simulator finishing a job
to vidwatch holding the answer that says so.

Anchors in the same run, on the same jobs and budget:
- plain round-robin: every watched task in turn, one request per budget slot;
- round-robin that skips the tasks it already knows are finished (a stronger anchor);
- for jobs of the same age, the limit nothing beats: ``N / 4R``;
- with an ample budget, the floor: a check every ``min_interval`` plus one request.
"""

from __future__ import annotations

import bisect
import heapq
import json
import random
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from vidwatch.core.gateway.outcomes import Ok, Outcome
from vidwatch.core.gateway.parsing import parse_response
from vidwatch.core.polling.budget import BURST_SECONDS, Policy
from vidwatch.core.polling.scheduler import Scheduler
from vidwatch.simulator.jobs import Job
from vidwatch.simulator.server import Simulator

RTT = 0.15  # seconds per request on the simulated clock
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)

# (queue time, running time) of a job, from the world's random generator
Durations = Callable[[random.Random], tuple[float, float]]


@dataclass(frozen=True)
class Result:
    name: str
    median: float
    mean: float
    p95: float
    requests: int
    end: float  # when the last job was known to be done
    busiest: int  # most requests sent in any one-second window
    cpu_per_decision: float = 0.0  # seconds of scheduler CPU per request handed out


@dataclass
class World:
    sim: Simulator
    jobs: list[Job]  # in order of creation
    clock: list[float]  # the simulator's clock reads clock[0]
    sends: list[float] = field(default_factory=list)

    def ask(self, task_id: str) -> Outcome:
        """What a poll of ``task_id`` returns right now."""
        self.sends.append(self.clock[0])
        job = self.sim.jobs[task_id]
        body = json.dumps(self.sim._body(job)).encode()
        return parse_response(200, {}, body, now=self.sim.wall_time(self.clock[0]))


def make_world(jobs: int, spread: float, seed: int, durations: Durations | None = None) -> World:
    clock = [0.0]
    sim = Simulator(jobs=0, seed=seed, clock=lambda: clock[0])
    sim._wall0 = EPOCH  # a fixed calendar, so every run is the same run
    sim.base_url = "http://127.0.0.1:9"  # never served: the video URLs only need to parse
    rng = random.Random(seed)
    created = sorted(rng.uniform(0.0, spread) for _ in range(jobs))
    ids = []
    for when in created:
        if durations is None:
            ids.append(sim.add_job(created=when))
        else:
            queue, running = durations(rng)
            ids.append(sim.add_job(created=when, queue_time=queue, duration=running))
    return World(sim, [sim.jobs[i] for i in ids], clock)


def busiest_second(times: list[float]) -> int:
    """The most requests in any window of one second."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, bisect.bisect_left(ordered, start + 1.0 - 1e-9) - i)
    return best


def _summary(
    name: str, world: World, known: dict[str, float], requests: int, cpu: float = 0.0
) -> Result:
    latencies = sorted(known[j.id] - j.finishes_at for j in world.jobs)
    p95 = latencies[min(int(0.95 * len(latencies)), len(latencies) - 1)]
    return Result(
        name,
        statistics.median(latencies),
        statistics.fmean(latencies),
        p95,
        requests,
        max(known.values()),
        busiest_second(world.sends),
        cpu / requests if requests else 0.0,
    )


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


def vidwatch(
    world: World, policy: Policy, seed: int, known: dict[str, float] | None = None
) -> Result:
    """The real scheduler: arrivals are tracked as they are created, answers arrive RTT
    later. Every call into the scheduler is timed (thread CPU time). ``known`` receives
    when each job was known to be done."""
    sched = Scheduler(
        policy, now=0.0, rng=random.Random(seed), wall_offset=world.sim.wall_time(0).timestamp()
    )
    cpu = time.thread_time
    spent = 0.0
    known = {} if known is None else known
    arrivals = deque(world.jobs)
    answers: list[tuple[float, int, str, Outcome]] = []  # (arrives at, n, task, outcome)
    t = 0.0
    n = 0
    requests = 0
    while len(known) < len(world.jobs):
        candidates = [arrivals[0].created] if arrivals else []
        if answers:
            candidates.append(answers[0][0])
        started = cpu()
        wake = sched.next_wakeup(t)
        spent += cpu() - started
        if wake is not None:
            candidates.append(wake)
        t = max(t, min(candidates))
        started = cpu()
        while arrivals and arrivals[0].created <= t:
            sched.track(arrivals.popleft().id, None, t)
        spent += cpu() - started
        while answers and answers[0][0] <= t:
            _, _, task_id, outcome = heapq.heappop(answers)
            started = cpu()
            sched.complete(task_id, outcome, t)
            spent += cpu() - started
            if isinstance(outcome, Ok) and outcome.result.final and task_id not in known:
                known[task_id] = t
        world.clock[0] = t
        while True:
            started = cpu()
            asked = sched.next_task(t)
            spent += cpu() - started
            if asked is None:
                break
            requests += 1
            n += 1
            heapq.heappush(answers, (t + RTT, n, asked, world.ask(asked)))
    return _summary("vidwatch scheduler", world, known, requests, spent)


def run(
    jobs: int = 1000,
    spread: float = 1200.0,
    budget: float = 20.0,
    seed: int = 7,
    *,
    policy: Policy | None = None,
    durations: Durations | None = None,
    anchors: tuple[str, ...] = ("plain", "skip"),
) -> dict[str, Result]:
    """vidwatch and the named anchors ("plain", "skip": the two round-robins), each on a
    fresh copy of the same jobs."""
    policy = policy or Policy(max_requests_per_second=budget)
    runners: dict[str, Callable[[World], Result]] = {
        "vidwatch": lambda w: vidwatch(w, policy, seed),
        "plain": lambda w: round_robin(w, budget, skip_finished=False),
        "skip": lambda w: round_robin(w, budget, skip_finished=True),
    }
    return {
        key: runners[key](make_world(jobs, spread, seed, durations))
        for key in ("vidwatch", *anchors)
    }


def short_jobs(rng: random.Random) -> tuple[float, float]:
    """Jobs of 5–60 s from creation to the end: a few seconds queued, the rest running."""
    total = rng.uniform(5.0, 60.0)
    queue = rng.uniform(0.0, min(3.0, total / 2))
    return queue, total - queue


@dataclass(frozen=True)
class Pooled:
    """Detection latencies of several runs of the same scenario, pooled."""

    median: float
    p95: float
    busiest: int
    runs: int


def cold_start(jobs: int, spread: float, runs: int) -> Pooled:
    """Nothing learned, the default budget (10 req/s, checks at most every 3 s), jobs of
    5–60 s; ``runs`` seeds pooled (one job is one latency per run)."""
    policy = Policy(min_interval=3.0, max_requests_per_second=10.0)
    latencies: list[float] = []
    busiest = 0
    for seed in range(runs):
        world = make_world(jobs, spread, seed, short_jobs)
        known: dict[str, float] = {}
        result = vidwatch(world, policy, seed, known)
        latencies += sorted(known[j.id] - j.finishes_at for j in world.jobs)
        busiest = max(busiest, result.busiest)
    latencies.sort()
    p95 = latencies[min(int(0.95 * len(latencies)), len(latencies) - 1)]
    return Pooled(statistics.median(latencies), p95, busiest, runs)


# (jobs, created within seconds, runs pooled): the budget affords the floor in each
COLD_STARTS = ((1, 0.0, 50), (10, 10.0, 20), (100, 300.0, 5))


def burst_allowance(budget: float) -> float:
    """What the budget allows in one second: its rate plus the burst it may send at once."""
    return budget + max(1.0, budget * BURST_SECONDS)


if __name__ == "__main__":
    for spread in (60.0, 600.0, 1200.0):
        out = run(spread=spread)
        plain = out["plain"]
        for r in out.values():
            print(
                f"spread {spread:5.0f} {r.name:32} median {r.median:6.1f} s  p95 {r.p95:6.1f} s  "
                f"requests {r.requests:6d}  ratio {r.median / plain.median:.2f} "
                f"{r.p95 / plain.p95:.2f}  mean {r.mean:6.2f}  busiest {r.busiest}"
            )
    for count, spread, runs in COLD_STARTS:
        c = cold_start(count, spread, runs)
        print(f"cold {count:4d} jobs: median {c.median:.2f} s  p95 {c.p95:.2f} s  ({runs} runs)")
