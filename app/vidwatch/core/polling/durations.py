"""How long jobs run, learned as they finish: the scheduler polls by it, the screen shows it.

Running times of video jobs are roughly log-normal (most take a minute or two, a
few take many). :class:`DurationModel` keeps a window of recent running times —
overall and per model (the ``grok`` of ``grok:…``) — fits a log-normal to them,
blended with a prior until enough have been seen, and answers:

* ``delay_for(key, age, p)``: how long to wait before polling a job that has been
  running for ``age`` seconds so that the poll finds it finished with probability
  ``p``. Polling at a fixed hit probability puts polls where jobs actually finish
  (none in the first half minute of a 90 s job, many around its usual end).
* ``hazard(key, age, span)``: the chance per second that a job running for ``age``
  seconds finishes within the next ``span`` seconds: the scheduler checks jobs
  more often the higher it is (see :mod:`vidwatch.core.polling.rationing`).
* ``quantile(q)``: the median and p90 the header shows; ``remaining(key, age)``:
  the ETA of a running job.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Final

from vidwatch.core.model.records import model_key

__all__ = ["DurationModel", "model_key"]

_NORMAL: Final = NormalDist()
_SQRT2: Final = math.sqrt(2.0)
_LOG_SQRT_2PI: Final = 0.5 * math.log(2.0 * math.pi)
MIN_SAMPLES_PER_KEY: Final = 8  # below this a model's own jobs borrow from all jobs
SHORTEST: Final = 0.5  # seconds; shorter running times are clock noise
LONGEST: Final = 86_400.0
CENSUS_GROUPS: Final = 12  # jobs still running are fitted in this many groups of similar age
EM_STEPS: Final = 8


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


def _pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _grouped(logs: list[float], weight: float) -> list[tuple[float, float]]:
    """Sorted values in at most :data:`CENSUS_GROUPS` groups of neighbours: (mean, weight)."""
    size = max(1, -(-len(logs) // CENSUS_GROUPS))
    return [
        (sum(chunk) / len(chunk), weight * len(chunk))
        for chunk in (logs[i : i + size] for i in range(0, len(logs), size))
    ]


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
        self._params_cache: dict[str, tuple[float, float]] = {}  # cleared on observe
        self._base: tuple[float, float] | None = None  # (mu, var) of all jobs, cached
        # Jobs still running: lower bounds on their running times, as (log age, weight)
        # groups, overall ("") and per key. Without them the first jobs to finish, the
        # short ones, would teach that jobs are short (survivorship bias).
        self._censored: dict[str, list[tuple[float, float]]] = {}
        self._fits: dict[str, tuple[float, float]] = {}  # EM results: the next fit starts there

    # ------------------------------------------------------------------ learning

    def observe(self, key: str, seconds: float) -> None:
        """A job of model ``key`` ran for ``seconds`` (from running to finished)."""
        if not (SHORTEST <= seconds <= LONGEST):
            return
        value = math.log(seconds)
        self._all.add(value)
        self._by_key.setdefault(key, _Window(self.window)).add(value)
        if not self._censored:  # else the fit (a few EM steps) is redone at the next census
            self._clear()

    def running(self, ages: Mapping[str, Sequence[float]], weight: float = 1.0) -> None:
        """The jobs still running now, by key, with how long each has run (seconds) —
        a sample is fine: each age then counts ``weight`` times. Replaces the last census."""
        groups: dict[str, list[tuple[float, float]]] = {}
        every: list[float] = []
        for key, seconds in ages.items():
            logs = sorted(math.log(a) for a in seconds if SHORTEST <= a <= LONGEST)
            every += logs
            if logs:
                groups[key] = _grouped(logs, weight)
        if every:
            every.sort()
            groups[""] = _grouped(every, weight)
        self._censored = groups
        self._clear()

    def _clear(self) -> None:
        self._params_cache.clear()
        self._base = None

    @property
    def samples(self) -> int:
        return len(self._all)

    def params(self, key: str = "") -> tuple[float, float]:
        """(mu, sigma) of the fitted log-normal for ``key`` (falls back to all jobs)."""
        cached = self._params_cache.get(key)
        if cached is not None:
            return cached
        censored = self._censored
        base = self._base
        if base is None:
            base = self._base = self._blend(
                "", self._all, self.prior_mu, self.prior_sigma**2, censored.get("", ())
            )
        base_mu, base_var = base
        own = self._by_key.get(key) if key else None
        if own is not None and len(own) >= MIN_SAMPLES_PER_KEY:
            mu, var = self._blend(key, own, base_mu, base_var, censored.get(key, ()))
        else:
            mu, var = base_mu, base_var
        result = (mu, max(math.sqrt(var), 0.15))
        self._params_cache[key] = result
        return result

    def _blend(
        self,
        key: str,
        window: _Window,
        mu0: float,
        var0: float,
        censored: Sequence[tuple[float, float]] = (),
    ) -> tuple[float, float]:
        """The log-normal's (mu, variance): the prior as ``prior_weight`` jobs, the
        window's running times and (by a few EM steps) the jobs still running."""
        n = len(window)
        w = self.prior_weight
        total = w + n
        first = w * mu0 + window.total  # sums of values and of squares
        second = w * (var0 + mu0 * mu0) + window.squares
        mu = first / total
        var = max(second / total - mu * mu, 1e-6)
        if not censored:
            return mu, var
        mu, var = self._fits.get(key, (mu, var))  # EM converges over successive fits
        total += sum(weight for _, weight in censored)
        for _ in range(EM_STEPS):
            sigma = math.sqrt(var)
            more, more_squares = first, second
            for value, weight in censored:  # E[X], E[X²] of a normal known to be > value
                z = (value - mu) / sigma
                tail = 0.5 * math.erfc(z / _SQRT2)
                ratio = _pdf(z) / tail if tail > 1e-300 else z
                more += weight * (mu + sigma * ratio)
                more_squares += weight * (mu * mu + var + sigma * (value + mu) * ratio)
            mu = more / total
            var = max(more_squares / total - mu * mu, 1e-6)
        self._fits[key] = (mu, var)
        return mu, var

    # ------------------------------------------------------------------ questions

    def survival(self, key: str, age: float) -> float:
        """P(still running at ``age``)."""
        if age <= 0:
            return 1.0
        mu, sigma = self.params(key)
        return 1.0 - _NORMAL.cdf((math.log(age) - mu) / sigma)

    def log_survival(self, key: str, age: float) -> float:
        """ln P(still running at ``age``), accurate far into the tail."""
        if age <= 0:
            return 0.0
        mu, sigma = self.params(key)
        z = (math.log(age) - mu) / sigma
        if z < 30.0:
            return math.log(max(0.5 * math.erfc(z / _SQRT2), 1e-300))
        return -0.5 * z * z - math.log(z) - _LOG_SQRT_2PI  # Mills' ratio

    def hazard(self, key: str, age: float, span: float) -> float:
        """The chance per second that a job running for ``age`` s finishes within the next
        ``span`` s (the hazard rate averaged over that window)."""
        span = max(span, 1e-6)
        age = max(age, 0.0)
        drop = self.log_survival(key, age) - self.log_survival(key, age + span)
        return max(drop, 0.0) / span

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
