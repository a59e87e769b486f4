"""How often each open task is checked: the budget is spent, up to the politeness floor.

The rule (issue 11):

* When every open task can be checked every ``min_interval`` within
  ``HEADROOM`` of the request budget, every open task is checked every
  ``min_interval`` — whatever is known or learned.
* Otherwise the budget is rationed by the square-root rule: a task whose chance of
  finishing now (its *hazard*, per second) is ``h`` is checked every
  ``scale / sqrt(h)`` seconds, clamped to ``[min_interval, max_interval]``, with one
  ``scale`` for all tasks, solved so that the planned rate fills the budget. (Checking
  at rate ``r`` finds a finish ``1 / 2r`` late on average; minimising the sum of
  ``h / 2r`` under a fixed total rate gives ``r ∝ sqrt(h)``.)

A task's next check is ``sent + interval(its class)``: when its last request was
sent, plus the interval the *current* plan gives its weight class. Nothing is
fixed when a task is answered, so a re-plan (a new ``scale``: jobs added or
finished, the budget freed or exhausted) moves every planned check at once, and
the plan never depends on when a task happened to be scheduled.

Weights ``1 / sqrt(h)`` are rounded to classes an eighth of an octave apart (9 %).
Each class keeps its tasks in one queue ordered by ``sent``; within a class the
interval is the same, so its head is its earliest check, and a small heap over the
class heads finds the earliest check overall in ``O(log classes)``. A re-plan
rebuilds that heap only (one item per class), never touches the tasks.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Final

__all__ = [
    "CLASS_MAX",
    "CLASS_MIN",
    "FILL",
    "HEADROOM",
    "PollPlan",
    "weight_class",
]

HEADROOM: Final = 0.9  # checking everything every min_interval may use this share of the budget
FILL: Final = 1.0  # a rationed plan aims at this share of the budget
PER_OCTAVE: Final = 8  # weight classes per doubling of the weight
CLASS_MIN: Final = -6 * PER_OCTAVE  # weight 1/64: hazard 4096 per second
CLASS_MAX: Final = 26 * PER_OCTAVE  # weight 2**26: hazard 2e-16 per second (never, really)
REPLAN_GAP: Final = 0.1  # seconds: tasks added or gone are planned for within this
DRIFT_GAP: Final = 1.0  # seconds: tasks that moved between classes, within this


def weight_class(hazard: float) -> int:
    """The class of a task whose hazard (per second) is ``hazard``: weight 1/sqrt(hazard)."""
    if not hazard > 0.0:
        return CLASS_MAX
    cls = round(-0.5 * math.log2(hazard) * PER_OCTAVE)
    return min(max(cls, CLASS_MIN), CLASS_MAX)


def class_weight(cls: int) -> float:
    return float(2.0 ** (cls / PER_OCTAVE))


_WEIGHTS: Final = [class_weight(c) for c in range(CLASS_MIN, CLASS_MAX + 1)]


class PollPlan:
    """Weight classes of the open tasks, the scale that fills the budget, and the
    queue of planned checks.

    The owner (the scheduler) says which tasks are open and in which class
    (:meth:`join`, :meth:`leave`), which are waiting for a planned check
    (:meth:`put`, :meth:`drop`), and asks for the earliest one (:meth:`first`).
    """

    def __init__(self, min_interval: float, max_interval: float, rate: float) -> None:
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.rate = rate
        self.scale = 0.0  # 0: every open task every min_interval
        self._counts = [0] * len(_WEIGHTS)  # open tasks per class
        self._open = 0
        self._queues: dict[int, deque[tuple[float, int, str]]] = {}  # (sent, token, task)
        self._queued: dict[str, int] = {}  # task -> the token of its live queue item
        self._token = 0
        self._first: tuple[float, str] | None = None  # first()'s answer, until a change
        self._first_valid = False
        self._heap: list[tuple[float, int]] = []  # (check time of a class's head, class)
        self._keys: dict[int, float] = {}  # class -> the check time it has in the heap
        self._solved_at = -math.inf
        self._joined = False  # tasks joined or left since the last solve
        self._drifted = False  # tasks changed class since the last solve

    # ------------------------------------------------------------------ the open tasks

    @property
    def ample(self) -> bool:
        """The budget affords checking every open task every ``min_interval``."""
        return self._open <= HEADROOM * self.rate * self.min_interval

    def join(self, cls: int) -> None:
        self._counts[cls - CLASS_MIN] += 1
        self._open += 1
        self._joined = True

    def leave(self, cls: int) -> None:
        self._counts[cls - CLASS_MIN] -= 1
        self._open -= 1
        self._joined = True

    def move(self, old: int, new: int) -> None:
        if old != new:
            self._counts[old - CLASS_MIN] -= 1
            self._counts[new - CLASS_MIN] += 1
            self._drifted = True

    def interval(self, cls: int) -> float:
        """Seconds between checks of a task of class ``cls`` under the current plan."""
        wanted = self.scale * _WEIGHTS[cls - CLASS_MIN]
        return min(max(wanted, self.min_interval), self.max_interval)

    # ------------------------------------------------------------------ solving

    def pending_solve(self) -> float | None:
        """When :meth:`maybe_solve` will re-plan for changes not planned for yet (None: none)."""
        if self.ample:
            return None if self.scale == 0.0 else -math.inf  # the budget was freed: now
        if self.scale == 0.0:
            return -math.inf  # the budget no longer affords every task every min_interval
        if self._joined:
            return self._solved_at + REPLAN_GAP
        if self._drifted:
            return self._solved_at + DRIFT_GAP
        return None

    def maybe_solve(self, now: float) -> bool:
        """Re-plan if the open tasks changed (promptly) or moved between classes (within
        :data:`DRIFT_GAP`). True when the scale changed."""
        when = self.pending_solve()
        if when is None:
            self._joined = self._drifted = False
            return False
        if now < when:
            return False
        return self.solve(now)

    def solve(self, now: float) -> bool:
        self._solved_at = now
        self._joined = self._drifted = False
        scale = self._solve()
        if scale == self.scale:
            return False
        self.scale = scale
        self._rebuild()
        return True

    def _solve(self) -> float:
        """The scale at which the planned rate, ``sum(n / clamp(scale * w))``, meets the
        target. The rate falls as the scale grows, as ``A + S / scale`` between the scales
        where a class leaves ``min_interval`` (``lo / w``) or reaches ``max_interval``
        (``hi / w``): walk those in order and solve in the piece where it crosses."""
        if self.ample:
            return 0.0
        lo, hi = self.min_interval, self.max_interval
        target = FILL * self.rate
        if self._open / hi >= target:
            return math.inf  # every task every max_interval is already more than the budget
        counts = self._counts
        heaviest = [(_WEIGHTS[i], n) for i in range(len(counts) - 1, -1, -1) if (n := counts[i])]
        if self._open / lo <= target:
            return lo / heaviest[0][0]  # every class still at min_interval
        at_min, middle, at_max = float(self._open), 0.0, 0.0  # middle: sum of n / w
        leave = reach = 0  # the next class to leave min_interval, to reach max_interval
        while True:
            leave_at = lo / heaviest[leave][0] if leave < len(heaviest) else math.inf
            reach_at = hi / heaviest[reach][0]  # some class is below max_interval: finite
            edge = min(leave_at, reach_at)
            if at_min / lo + at_max / hi + middle / edge <= target:
                return middle / (target - at_min / lo - at_max / hi)
            if leave_at <= reach_at:
                weight, n = heaviest[leave]
                at_min -= n
                middle += n / weight
                leave += 1
            else:
                weight, n = heaviest[reach]
                middle -= n / weight
                at_max += n
                reach += 1

    # ------------------------------------------------------------------ the queue of checks

    def put(self, task_id: str, cls: int, sent: float) -> None:
        """PollPlan the next check of ``task_id``: ``sent + interval(cls)``."""
        self._token += 1
        self._first_valid = False
        token = self._token
        self._queued[task_id] = token
        item = (sent, token, task_id)
        queue = self._queues.get(cls)
        if queue is None:
            queue = self._queues[cls] = deque()
        if not queue or queue[-1][0] <= sent:
            queue.append(item)
            if len(queue) > 1:
                return
        else:  # answers may come back out of order: keep the queue sorted by `sent`
            index = len(queue) - 1
            while index > 0 and queue[index - 1][0] > sent:
                index -= 1
            queue.insert(index, item)
            if index > 0:
                return
        due = sent + self.interval(cls)
        key = self._keys.get(cls)
        if key is None or due < key:
            self._keys[cls] = due
            heapq.heappush(self._heap, (due, cls))

    def drop(self, task_id: str) -> None:
        """``task_id`` no longer waits for a planned check (its queue item goes stale)."""
        if self._queued.pop(task_id, None) is not None:
            self._first_valid = False

    def planned(self, task_id: str) -> bool:
        return task_id in self._queued

    def first(self) -> tuple[float, str] | None:
        """The earliest planned check: (when, task)."""
        if self._first_valid:
            return self._first
        self._first = first = self._find_first()
        self._first_valid = True
        return first

    def _find_first(self) -> tuple[float, str] | None:
        heap = self._heap
        while heap:
            due, cls = heap[0]
            if self._keys.get(cls) != due:  # stale: the class was re-keyed
                heapq.heappop(heap)
                continue
            queue = self._queues[cls]
            queued = self._queued
            while queue and queued.get(queue[0][2]) != queue[0][1]:
                queue.popleft()
            if not queue:
                heapq.heappop(heap)
                del self._keys[cls]
                continue
            actual = queue[0][0] + self.interval(cls)
            if actual != due:  # the head went: the next one is the class's earliest
                self._keys[cls] = actual
                heapq.heapreplace(heap, (actual, cls))
                continue
            return due, queue[0][2]
        return None

    def _rebuild(self) -> None:
        """A new scale: every class's head moves; the tasks stay where they are."""
        heap: list[tuple[float, int]] = []
        keys: dict[int, float] = {}
        queued = self._queued
        for cls, queue in list(self._queues.items()):
            while queue and queued.get(queue[0][2]) != queue[0][1]:
                queue.popleft()
            if not queue:
                del self._queues[cls]
                continue
            due = queue[0][0] + self.interval(cls)
            keys[cls] = due
            heap.append((due, cls))
        heapq.heapify(heap)
        self._heap = heap
        self._keys = keys
        self._first_valid = False
