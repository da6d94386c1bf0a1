"""Circuit breakers: one per provider instance, endpoint and model.

Closed, a breaker counts consecutive failures (upstream 429, 503, 504,
Anthropic's 529, and no answer at all); ``failure_threshold`` of them within
``interval`` of the first open it. Open, it refuses every request for
``timeout``; then it is half-open and lets ``max_requests`` probes through:
as many successes close it, one failure opens it again.

The closed state, where nearly every request finds it, takes no lock and
writes nothing on success unless failures were being counted.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

CLOSED = "closed"
HALF_OPEN = "half-open"
OPEN = "open"
GAUGE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}  # circuit_breaker_state

FAILURE_STATUSES = frozenset({429, 503, 504, 529})

# Breakers are made per (endpoint, model) as requests name them; past this many in one
# instance, the closed ones without failures are forgotten (clients choose the model names).
MAX_BREAKERS = 512


@dataclass(frozen=True)
class BreakerSettings:
    """The ``--aibridge-circuit-breaker-*`` options."""

    failure_threshold: int = 5
    interval: float = 10.0  # seconds; 0 never forgets failures while closed
    timeout: float = 30.0  # seconds open before half-open
    max_requests: int = 3  # probes while half-open

    @classmethod
    def from_config(cls, config) -> BreakerSettings | None:
        """The settings when breakers are enabled, else None."""
        if not config.circuit_breaker_enabled:
            return None
        return cls(config.circuit_breaker_failure_threshold, config.circuit_breaker_interval,
                   config.circuit_breaker_timeout, config.circuit_breaker_max_requests)


@dataclass(frozen=True)
class BreakerStatus:
    endpoint: str
    model: str
    state: str
    failures: int
    retry_after: float | None = None  # open: seconds until half-open


class CircuitBreaker:
    """One breaker; every method takes ``now`` (monotonic seconds) and returns at once."""

    __slots__ = ("settings", "on_change", "state", "failures", "window_end", "open_until", "probes", "successes",
                 "_lock")

    def __init__(self, settings: BreakerSettings, on_change=None):
        self.settings = settings
        self.on_change = on_change  # called with the new state, outside the lock
        self.state = CLOSED
        self.failures = 0  # closed: consecutive failures in the current window
        self.window_end = 0.0
        self.open_until = 0.0
        self.probes = 0  # half-open: requests let through
        self.successes = 0  # half-open: consecutive successes
        self._lock = threading.Lock()

    def allow(self, now: float) -> bool:
        """Whether a request may go upstream now (half-open: takes one of the probes)."""
        if self.state == CLOSED:
            return True
        changed = None
        with self._lock:
            if self.state == OPEN and now >= self.open_until:
                changed = self._become(HALF_OPEN, now)
            if self.state == OPEN:
                allowed = False
            elif self.state == HALF_OPEN:
                allowed = self.probes < self.settings.max_requests
                if allowed:
                    self.probes += 1
            else:
                allowed = True
        self._announce(changed)
        return allowed

    def success(self, now: float) -> None:
        """The upstream answered, and not with a failure."""
        if self.state == CLOSED:
            if self.failures:
                self.failures = 0
            return
        changed = None
        with self._lock:
            if self.state == HALF_OPEN:
                self.successes += 1
                if self.successes >= self.settings.max_requests:
                    changed = self._become(CLOSED, now)
        self._announce(changed)

    def failure(self, now: float) -> None:
        """The upstream answered 429, 503, 504 or 529, or did not answer."""
        changed = None
        with self._lock:
            if self.state == CLOSED:
                if self.failures == 0 or (self.settings.interval and now >= self.window_end):
                    self.failures = 0
                    self.window_end = now + self.settings.interval
                self.failures += 1
                if self.failures >= self.settings.failure_threshold:
                    changed = self._become(OPEN, now)
            elif self.state == HALF_OPEN:
                changed = self._become(OPEN, now)
        self._announce(changed)

    def no_verdict(self) -> None:
        """A request let through said nothing about the upstream (it was never sent): its probe is free again."""
        if self.state == HALF_OPEN:
            with self._lock:
                if self.state == HALF_OPEN and self.probes:
                    self.probes -= 1

    def retry_after(self, now: float) -> int:
        """Whole seconds a refused client should wait (at least 1)."""
        if self.state == OPEN:
            return max(1, math.ceil(self.open_until - now))
        return 1

    def effective_state(self, now: float) -> str:
        """The state a request arriving at ``now`` finds (an open breaker past its timeout is half-open)."""
        if self.state == OPEN and now >= self.open_until:
            return HALF_OPEN
        return self.state

    def _become(self, state: str, now: float) -> str:
        self.state = state
        self.failures = self.probes = self.successes = 0
        if state == OPEN:
            self.open_until = now + self.settings.timeout
        return state

    def _announce(self, changed: str | None) -> None:
        if changed is not None and self.on_change is not None:
            self.on_change(changed)


class BreakerBoard:
    """The breakers of one provider instance, made on first use per (endpoint, model)."""

    def __init__(self, provider_name: str, settings: BreakerSettings, listener=None):
        self.provider_name = provider_name
        self.settings = settings
        self._listener = listener
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, endpoint: str, model: str) -> CircuitBreaker:
        breaker = self._breakers.get((endpoint, model))
        if breaker is None:
            breaker = self._make(endpoint, model)
        return breaker

    def rejected(self, endpoint: str, model: str) -> None:
        """A request was refused because this breaker is open."""
        if self._listener is not None:
            self._listener.breaker_rejected(self.provider_name, endpoint=endpoint, model=model)

    def status(self, now: float) -> list[BreakerStatus]:
        found = []
        for (endpoint, model), breaker in sorted(list(self._breakers.items())):  # a copy: requests may add some
            state = breaker.effective_state(now)
            retry_after = breaker.retry_after(now) if state == OPEN else None
            found.append(BreakerStatus(endpoint, model, state, breaker.failures, retry_after))
        return found

    def _make(self, endpoint: str, model: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get((endpoint, model))
            if breaker is not None:
                return breaker
            if len(self._breakers) >= MAX_BREAKERS:
                self._forget_idle()

            def on_change(state: str) -> None:
                if self._listener is not None:
                    self._listener.breaker_changed(self.provider_name, endpoint=endpoint, model=model, state=state)

            breaker = self._breakers[(endpoint, model)] = CircuitBreaker(self.settings, on_change)
            return breaker

    def _forget_idle(self) -> None:
        idle = [name for name, b in self._breakers.items() if b.state == CLOSED and not b.failures]
        for name in idle:
            del self._breakers[name]
