"""Learned running times: the fit, the hit-probability delays, ETAs and quantiles."""

from __future__ import annotations

import math
import random

import pytest
from vidwatch.core.polling.durations import MIN_SAMPLES_PER_KEY, DurationModel, model_key

from bench.detection import run


def test_model_key_is_the_prefix_before_the_colon() -> None:
    assert model_key("grok:eee6faa8-9dee") == "grok"
    assert model_key("Sora-2:abc") == "sora-2"
    assert model_key("no-prefix-uuid") == ""
    assert model_key("x" * 60 + ":y") == ""  # not a model name


def test_without_data_the_prior_answers() -> None:
    model = DurationModel(prior_median=90, prior_sigma=0.8)
    mu, sigma = model.params()
    assert math.exp(mu) == pytest.approx(90)
    assert sigma == pytest.approx(0.8)
    assert model.quantile(0.5) is None
    assert model.survival("", 90) == pytest.approx(0.5)


def test_it_learns_from_what_it_observes() -> None:
    model = DurationModel(prior_median=90)
    rng = random.Random(1)
    for _ in range(300):
        model.observe("grok", rng.lognormvariate(math.log(30), 0.3))
    mu, sigma = model.params("grok")
    assert math.exp(mu) == pytest.approx(30, rel=0.1)
    assert sigma == pytest.approx(0.3, abs=0.08)
    assert model.quantile(0.5) == pytest.approx(30, rel=0.1)
    assert model.quantile(0.9) > model.quantile(0.5)  # type: ignore[operator]
    model.observe("grok", -5)  # nonsense is ignored
    model.observe("grok", 10**9)
    assert model.samples == 300


def test_a_model_with_few_jobs_borrows_from_all_jobs() -> None:
    model = DurationModel(prior_median=90)
    for _ in range(200):
        model.observe("grok", 30)
    for _ in range(MIN_SAMPLES_PER_KEY - 1):
        model.observe("veo", 300)
    assert model.params("veo") == model.params("")  # too few of its own yet
    model.observe("veo", 300)
    own, everyone = math.exp(model.params("veo")[0]), math.exp(model.params("")[0])
    assert own > 3 * everyone  # now its own, still tempered by all jobs
    for _ in range(100):
        model.observe("veo", 300)
    assert math.exp(model.params("veo")[0]) == pytest.approx(300, rel=0.1)
    assert model.params("kling") == model.params("")  # an unknown model: all jobs


def test_delays_aim_at_the_hit_probability() -> None:
    model = DurationModel(prior_median=90, prior_sigma=0.5)
    for age in (5.0, 60.0, 90.0, 200.0):
        delay = model.delay_for("", age, 0.2)
        alive = model.survival("", age)
        finished_by_then = 1 - model.survival("", age + delay) / alive
        assert finished_by_then == pytest.approx(0.2, abs=1e-6)
    assert model.delay_for("", 5, 0.2) > model.delay_for("", 85, 0.2)  # early: wait long
    assert model.delay_for("", 85, 0.1) < model.delay_for("", 85, 0.3)
    assert model.remaining("", 0) == pytest.approx(90, rel=1e-6)  # the median
    assert model.remaining("", 200) > 0


def test_the_scheduler_finds_finished_jobs_sooner_than_round_robin() -> None:
    """A small discrete-event run of the real scheduler (``make bench`` runs the big one)."""
    out = run(jobs=200, spread=400, budget=5)
    ours, plain = out["vidwatch"], out["plain"]
    assert ours.median <= plain.median * 0.5
    assert ours.p95 <= plain.p95 * 0.6
    assert ours.requests <= plain.requests


def test_the_hazard_is_the_chance_per_second_of_finishing_soon() -> None:
    model = DurationModel(prior_median=90, prior_sigma=0.5)
    early, usual = model.hazard("", 5, 3), model.hazard("", 85, 3)
    assert usual > 100 * early  # a job near its usual end finishes far more likely
    finished = 1 - model.survival("", 85 + 3) / model.survival("", 85)
    assert usual * 3 == pytest.approx(-math.log(1 - finished))
    far = model.hazard("", 1e5, 60)  # a job stuck far past any seen: finite, not NaN
    assert math.isfinite(far)
    assert far > 0
    assert math.isfinite(model.log_survival("", 1e5))


def test_jobs_still_running_correct_what_the_first_to_finish_teach() -> None:
    """Of 100 jobs started together, the 10 that finished first took 30–40 s; 90 are still
    running at 120 s. Without them the model would say jobs take 35 s."""
    model = DurationModel(prior_median=90)
    for seconds in (30, 31, 32, 33, 35, 36, 37, 38, 39, 40):
        model.observe("grok", seconds)
    naive = model.remaining("grok", 0)
    assert naive < 50
    model.running({"grok": [120.0] * 90})
    assert model.remaining("grok", 0) > 2 * naive
    assert model.survival("grok", 120) > 0.5  # most jobs like these run longer than 2 min
    model.running({})  # nothing running any more: back to the finished ones alone
    assert model.remaining("grok", 0) == pytest.approx(naive)
