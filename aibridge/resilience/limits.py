"""The per-process limits on intercepted requests: how many at once, and how many per second.

``--aibridge-max-concurrency`` counts intercepted requests from their start to
their end (a stream ends when its last byte went out); above it, 503.
``--aibridge-rate-limit`` is a token bucket refilled at that many requests per
second, holding at most one second's worth; when empty, 429 with the seconds
until the next token as Retry-After. 0 turns either off, and then it costs nothing.
"""

from __future__ import annotations

import threading
from typing import Callable

from .refusals import Refusal, over_concurrency, rate_limited


class Limits:
    """Both limits of one gateway process; ``configure`` applies new values (a reload) to requests to come."""

    def __init__(self, max_concurrency: int = 0, rate_limit: int = 0):
        self._lock = threading.Lock()
        self.in_flight = 0  # counted only while a concurrency limit is set
        self.max_concurrency = 0
        self.rate_limit = 0
        self._tokens = 0.0
        self._refilled_at: float | None = None
        self.configure(max_concurrency, rate_limit)

    def configure(self, max_concurrency: int, rate_limit: int) -> None:
        with self._lock:
            self.max_concurrency = max_concurrency
            if rate_limit != self.rate_limit:
                self.rate_limit = rate_limit
                self._tokens = float(rate_limit)
                self._refilled_at = None

    def admit(self, now: float) -> tuple[Refusal | None, Callable[[], None] | None]:
        """(a refusal, or None) and what to call when the admitted request ends (None: nothing)."""
        if not self.max_concurrency and not self.rate_limit:
            return None, None
        with self._lock:
            limit = self.max_concurrency
            if limit and self.in_flight >= limit:
                return over_concurrency(limit), None
            if self.rate_limit:
                wait = self._take_token(now)
                if wait:
                    return rate_limited(self.rate_limit, wait), None
            if not limit:
                return None, None
            self.in_flight += 1
        return None, self._release

    def _release(self) -> None:
        with self._lock:
            self.in_flight = max(0, self.in_flight - 1)

    def _take_token(self, now: float) -> float:
        """Take a token: 0 when one was there, else the seconds until the next one."""
        rate = self.rate_limit
        if self._refilled_at is not None:
            self._tokens = min(float(rate), self._tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / rate
