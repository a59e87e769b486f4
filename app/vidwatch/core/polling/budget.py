"""The request budget: the polling settings and the token bucket that keeps to them.

:class:`Policy` is the ``[polling]`` table of the config file: how often one task may be
checked, how many requests may be out at once and how many may start each second.
:class:`RateLimiter` is the token bucket the scheduler takes a request from before each
poll. Both are pure: time is an argument, nothing sleeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from vidwatch.core.runtime.settings import Number, setting

__all__ = ["BURST_SECONDS", "Policy", "RateLimiter"]

BURST_SECONDS: Final = 0.05  # the budget may send this much of a second's worth at once


@dataclass(frozen=True, slots=True)
class Policy:
    """Polling settings (``[polling]`` in the config file, declared here once)."""

    min_interval: float = setting(
        3.0, Number(0.01, 3600.0, "seconds"), "seconds between two polls of one task, at least"
    )
    max_interval: float = setting(
        60.0, Number(0.01, 86400.0, "seconds"), "seconds between two polls of one task, at most"
    )
    concurrency: int = setting(8, Number(1, 64), "requests in flight at once")
    max_requests_per_second: float = setting(
        10.0, Number(0.01, 1000.0), "the whole budget, all tasks together"
    )

    def __post_init__(self) -> None:
        if not (self.min_interval > 0 and math.isfinite(self.min_interval)):
            raise ValueError("min_interval must be a positive number of seconds")
        if not (self.max_interval >= self.min_interval and math.isfinite(self.max_interval)):
            raise ValueError("max_interval must be at least min_interval")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not (self.max_requests_per_second > 0 and math.isfinite(self.max_requests_per_second)):
            raise ValueError("max_requests_per_second must be a positive number")


_EPSILON: Final = 1e-9  # float dust: 0.9999999999 tokens is a token


class RateLimiter:
    """A token bucket: at most ``burst + rate * T`` requests in any window ``T``."""

    def __init__(self, rate: float, burst: float = 1.0, now: float = 0.0) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._tokens = self.burst
        self._stamp = now

    def _fill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def try_acquire(self, now: float) -> bool:
        self._fill(now)
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens = max(self._tokens - 1.0, 0.0)
            return True
        return False

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when one is)."""
        self._fill(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= _EPSILON else missing / self.rate
