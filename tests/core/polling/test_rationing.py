"""The rate plan: weight classes, the scale that fills the budget, the queue of checks."""

from __future__ import annotations

import math
import random

import pytest
from vidwatch.core.polling.rationing import CLASS_MAX, CLASS_MIN, PollPlan, weight_class


def planned_rate(plan: PollPlan, classes: list[int]) -> float:
    return sum(1 / plan.interval(cls) for cls in classes)


def test_weight_classes_fall_as_the_hazard_rises() -> None:
    hazards = [1e-9, 1e-4, 0.01, 0.1, 1.0, 10.0]
    classes = [weight_class(h) for h in hazards]
    assert classes == sorted(classes, reverse=True)
    assert len(set(classes)) == len(classes)
    assert weight_class(0.0) == CLASS_MAX
    assert weight_class(1e300) == CLASS_MIN
    # a class is 1/sqrt(hazard) to within half a step (2 ** (1/16))
    assert 2 ** (weight_class(0.01) / 8) == pytest.approx(10.0, rel=0.05)


def test_an_ample_budget_plans_every_task_at_min_interval() -> None:
    plan = PollPlan(min_interval=3.0, max_interval=60.0, rate=10.0)
    classes = [0, 40, 80, 120] * 6  # 24 tasks: 8 requests/s at 3 s is within 90 % of 10
    for cls in classes:
        plan.join(cls)
    plan.solve(0.0)
    assert plan.ample
    assert plan.scale == 0.0
    assert all(plan.interval(cls) == 3.0 for cls in classes)
    plan.join(0)  # 25 tasks: 8.33/s, still within the headroom
    plan.join(0)
    plan.join(0)  # 27 tasks: 9/s — the limit
    assert plan.ample
    plan.join(0)
    assert not plan.ample
    assert plan.pending_solve() == -math.inf  # the budget is exhausted: re-plan now
    plan.solve(0.0)
    assert plan.scale > 0.0
    # 9.33 requests/s: over the headroom, within the budget: still every 3 s
    assert planned_rate(plan, [0] * 28) == pytest.approx(28 / 3.0)


@pytest.mark.parametrize("seed", range(20))
def test_the_scale_makes_the_planned_rate_fill_the_budget(seed: int) -> None:
    rng = random.Random(seed)
    rate = rng.choice([1.0, 5.0, 20.0])
    plan = PollPlan(
        min_interval=rng.choice([1.0, 3.0]), max_interval=rng.choice([20.0, 60.0]), rate=rate
    )
    classes = [rng.randint(-8, 120) for _ in range(rng.randint(100, 900))]
    for cls in classes:
        plan.join(cls)
    plan.solve(0.0)
    if len(classes) / plan.max_interval >= rate:
        assert plan.scale == math.inf  # even every max_interval is more than the budget
        assert all(plan.interval(cls) == plan.max_interval for cls in classes)
    else:
        assert planned_rate(plan, classes) == pytest.approx(rate, rel=1e-9)
        # the square-root rule: between the bounds, interval = scale * weight
        free = [c for c in classes if plan.min_interval < plan.interval(c) < plan.max_interval]
        for cls in free:
            assert plan.interval(cls) == pytest.approx(plan.scale * 2 ** (cls / 8))


def test_checks_come_in_order_of_when_they_are_due() -> None:
    plan = PollPlan(min_interval=1.0, max_interval=100.0, rate=1.0)
    for cls in (0, 8, 16, 0):
        plan.join(cls)
    plan.scale = 10.0  # intervals: class 0 -> 10 s, 8 -> 20 s, 16 -> 40 s
    plan.put("c", 16, sent=0.0)  # due 40
    plan.put("b", 8, sent=5.0)  # due 25
    plan.put("a", 0, sent=3.0)  # due 13
    plan.put("d", 0, sent=1.0)  # answered out of order: due 11, before a
    order = []
    while (first := plan.first()) is not None:
        order.append(first)
        plan.drop(first[1])
    assert order == [(11.0, "d"), (13.0, "a"), (25.0, "b"), (40.0, "c")]


def test_a_new_scale_moves_every_planned_check_at_once() -> None:
    plan = PollPlan(min_interval=3.0, max_interval=60.0, rate=1.0)
    for i in range(100):
        plan.join(40)
        plan.put(f"t{i}", 40, sent=float(i))
    plan.solve(100.0)
    assert plan.first() == (0.0 + 60.0, "t0")  # 100 tasks at 1/s: every max_interval
    for _ in range(98):
        plan.leave(40)
    assert plan.pending_solve() == -math.inf  # freed: at once
    assert plan.maybe_solve(100.0)
    assert plan.first() == (3.0, "t0")  # two tasks: every min_interval
    plan.drop("t0")
    assert plan.first() == (4.0, "t1")


def test_dropped_tasks_leave_no_trace() -> None:
    plan = PollPlan(min_interval=3.0, max_interval=60.0, rate=10.0)
    plan.join(0)
    plan.put("a", 0, sent=0.0)
    plan.put("a", 0, sent=5.0)  # planned again: the first item is stale
    assert plan.first() == (8.0, "a")
    plan.drop("a")
    assert plan.first() is None
    assert not plan.planned("a")
