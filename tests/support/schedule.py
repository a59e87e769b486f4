"""Driving the real scheduler on a simulated clock, and what a fair start-up looks like.

No sleeps: the scheduler is pure (time is an argument), so a test runs minutes of polling
in milliseconds. Shared by the scheduler's unit tests and the CLI's (``wait`` builds its
scheduler through a Session, like the dashboard).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vidwatch.core.gateway.outcomes import Outcome
from vidwatch.core.polling.scheduler import Scheduler

SLACK = 2.0  # seconds beyond N / rate: the budget's burst, float dust, one request


def drive(
    sched: Scheduler, until: float, answer: Callable[[str, float], Outcome], start: float = 0.0
) -> dict[str, list[float]]:
    """Run the scheduler from ``start`` to ``until``, answering instantly; when each task
    was asked."""
    asked: dict[str, list[float]] = {}
    now = start
    while now < until:
        while (task := sched.next_task(now)) is not None:
            asked.setdefault(task, []).append(now)
            sched.complete(task, answer(task, now), now)
        wake = sched.next_wakeup(now)
        if wake is None:
            break
        now = max(wake, now + 1e-6)
    return asked


def assert_first_round_fair(
    asked: dict[str, list[float]], ids: Iterable[str], start: float, rate: float
) -> None:
    """Tasks never asked, all there at ``start``: each is asked once within N / rate (plus
    :data:`SLACK`), in the order they came, and none twice before the last is asked once."""
    ids = list(ids)
    missing = [task for task in ids if task not in asked]
    assert not missing, f"{len(missing)} of {len(ids)} tasks never asked, e.g. {missing[:3]}"
    firsts = [asked[task][0] - start for task in ids]
    bound = len(ids) / rate + SLACK
    assert max(firsts) <= bound, f"last first check at +{max(firsts):.1f} s, bound {bound:.1f} s"
    assert firsts == sorted(firsts), "first checks out of the order the tasks came in"
    last_first = max(firsts) + start
    twice = [task for task in ids if len([t for t in asked[task] if t < last_first]) > 1]
    assert not twice, f"{len(twice)} tasks asked twice before every task was asked once"


def assert_even_intervals(
    asked: dict[str, list[float]], ids: Iterable[str], rounds: int = 2, spread: float = 1.1
) -> None:
    """Tasks in identical states: in each of the first ``rounds`` rounds, the gaps
    between two checks are the same for all of them (within ``spread``, max / min)."""
    ids = list(ids)
    for k in range(rounds):
        gaps = [asked[task][k + 1] - asked[task][k] for task in ids if len(asked[task]) > k + 1]
        assert len(gaps) == len(ids), f"round {k + 1}: {len(ids) - len(gaps)} tasks not re-asked"
        assert max(gaps) <= spread * min(gaps), (
            f"round {k + 1}: identical tasks re-asked after {min(gaps):.1f} s to {max(gaps):.1f} s"
        )
