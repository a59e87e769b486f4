"""How long jobs run, learned as they finish: the scheduler polls by it, the screen shows it.

Running times of video jobs are roughly log-normal (most take a minute or two, a
few take many). :class:`DurationModel` keeps a window of recent running times —
overall and per model (the ``grok`` of ``grok:…``) — fits a log-normal to them,
blended with a prior until enough have been seen, and answers:

* ``delay_for(key, age, p)``: how long to wait before polling a job that has been
  running for ``age`` seconds so that the poll finds it finished with probability
  ``p``. Polling at a fixed hit probability puts polls where jobs actually finish
  (none in the first half minute of a 90 s job, many around its usual end).
* ``quantile(q)``: the median and p90 the header shows; ``remaining(key, age)``:
  the ETA of a running job.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Final

from vidwatch.core.models import model_key

__all__ = ["DurationModel", "model_key"]

_NORMAL: Final = NormalDist()
MIN_SAMPLES_PER_KEY: Final = 8  # below this a model's own jobs borrow from all jobs
SHORTEST: Final = 0.5  # seconds; shorter running times are clock noise
LONGEST: Final = 86_400.0


@dataclass(slots=True)
class _Window:
    """Recent log-durations with a running sum and sum of squares."""

    size: int
    values: deque[float] = field(default_factory=deque)
    total: float = 0.0
    squares: float = 0.0

    def add(self, value: float) -> None:
        self.values.append(value)
        self.total += value
        self.squares += value * value
        if len(self.values) > self.size:
            old = self.values.popleft()
            self.total -= old
            self.squares -= old * old

    def __len__(self) -> int:
        return len(self.values)


class DurationModel:
    def __init__(
        self,
        *,
        prior_median: float = 90.0,
        prior_sigma: float = 0.8,
        prior_weight: float = 6.0,
        window: int = 400,
    ) -> None:
        self.prior_mu = math.log(prior_median)
        self.prior_sigma = prior_sigma
        self.prior_weight = prior_weight
        self.window = window
        self._all = _Window(window)
        self._by_key: dict[str, _Window] = {}
        self._params: dict[str, tuple[float, float]] = {}  # cache, cleared on observe

    # ------------------------------------------------------------------ learning

    def observe(self, key: str, seconds: float) -> None:
        """A job of model ``key`` ran for ``seconds`` (from running to finished)."""
        if not (SHORTEST <= seconds <= LONGEST):
            return
        value = math.log(seconds)
        self._all.add(value)
        self._by_key.setdefault(key, _Window(self.window)).add(value)
        self._params.clear()

    @property
    def samples(self) -> int:
        return len(self._all)

    def params(self, key: str = "") -> tuple[float, float]:
        """(mu, sigma) of the fitted log-normal for ``key`` (falls back to all jobs)."""
        cached = self._params.get(key)
        if cached is not None:
            return cached
        base_mu, base_var = self._blend(self._all, self.prior_mu, self.prior_sigma**2)
        own = self._by_key.get(key) if key else None
        if own is not None and len(own) >= MIN_SAMPLES_PER_KEY:
            mu, var = self._blend(own, base_mu, base_var)
        else:
            mu, var = base_mu, base_var
        result = (mu, max(math.sqrt(var), 0.15))
        self._params[key] = result
        return result

    def _blend(self, window: _Window, mu0: float, var0: float) -> tuple[float, float]:
        n = len(window)
        if n == 0:
            return mu0, var0
        mean = window.total / n
        var = max(window.squares / n - mean * mean, 0.0)
        w = self.prior_weight
        mu = (w * mu0 + n * mean) / (w + n)
        pooled = (w * (var0 + (mu0 - mu) ** 2) + n * (var + (mean - mu) ** 2)) / (w + n)
        return mu, pooled

    # ------------------------------------------------------------------ questions

    def survival(self, key: str, age: float) -> float:
        """P(still running at ``age``)."""
        if age <= 0:
            return 1.0
        mu, sigma = self.params(key)
        return 1.0 - _NORMAL.cdf((math.log(age) - mu) / sigma)

    def _age_at_survival(self, key: str, survival: float) -> float:
        mu, sigma = self.params(key)
        survival = min(max(survival, 1e-12), 1.0 - 1e-12)
        return math.exp(mu + sigma * _NORMAL.inv_cdf(1.0 - survival))

    def delay_for(self, key: str, age: float, p: float) -> float:
        """Seconds to wait so a job running for ``age`` s is done by then with probability ``p``."""
        now_alive = self.survival(key, age)
        return max(self._age_at_survival(key, now_alive * (1.0 - p)) - max(age, 0.0), 0.0)

    def remaining(self, key: str, age: float) -> float:
        """Median time left for a job that has been running ``age`` s (its ETA)."""
        return self.delay_for(key, age, 0.5)

    def quantile(self, q: float, key: str | None = None) -> float | None:
        """The ``q`` quantile of recent running times (``None`` before any was seen)."""
        window = self._all if key is None else self._by_key.get(key)
        if window is None or not window.values:
            return None
        ordered = sorted(window.values)
        index = min(int(q * len(ordered)), len(ordered) - 1)
        return math.exp(ordered[index])
