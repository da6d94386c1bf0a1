"""Failed authentications per client address: a few a minute are fine, past that the address gets 429.

Each address has a bucket of ``per_minute`` failures that refills at that
rate; a successful request takes nothing from it. While the bucket is empty,
requests from the address are refused with 429 before their token is looked
up, except those with a valid token the gateway has seen before (checked in
memory): behind a NAT or a reverse proxy many people share one address, and
one of them guessing must not lock the others out.
"""

from __future__ import annotations

import logging
import threading
import time

from ..reports import Measurement

log = logging.getLogger("aibridge.auth")

REPORT_INTERVAL = 60.0  # seconds between two log lines about the same limited address
_PRUNE_AT = 10_000  # addresses tracked before the full buckets are forgotten


class FailedAuthLimit:
    """Buckets of failed authentications by client address, and the counts the metrics show."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self.failures: dict[str, int] = {}  # by reason
        self.limited = 0  # requests answered 429
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (failures left, when)
        self._reported: dict[str, tuple[float, int]] = {}  # address -> (when last logged, 429s since)
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> float:
        """0 while the address may try; else the seconds until it may fail once more."""
        if not self.per_minute:
            return 0.0
        with self._lock:
            left = self._left(address)
        return 0.0 if left >= 1 else (1 - left) * 60.0 / self.per_minute

    def failed(self, address: str, reason: str) -> None:
        """Count one failed authentication from ``address``."""
        with self._lock:
            self.failures[reason] = self.failures.get(reason, 0) + 1
            if not self.per_minute:
                return
            if len(self._buckets) >= _PRUNE_AT:
                self._prune()
            self._buckets[address] = (self._left(address) - 1, self.clock())

    def refused(self, address: str, retry_after: float) -> None:
        """Count a 429 for ``address``; one log line per address a minute."""
        now = self.clock()
        with self._lock:
            self.limited += 1
            last, since = self._reported.get(address, (-REPORT_INTERVAL, 0))
            if now - last < REPORT_INTERVAL:
                self._reported[address] = (last, since + 1)
                return
            self._reported[address] = (now, 0)
        log.warning("client %s is over the limit of %d failed authentications a minute: answering 429 for %ds "
                    "(%d more 429s since the last line)", address, self.per_minute, retry_after, since)

    def measurements(self) -> list[Measurement]:
        with self._lock:
            failures, limited = dict(self.failures), self.limited
        help_failed = "Requests refused with 401, by why (unknown token, wrong secret, expired, ...)."
        return [
            *(Measurement("auth_failures_total", count, help_failed, "counter", {"reason": reason})
              for reason, count in sorted(failures.items())),
            Measurement("auth_limited_total", limited, "Requests answered 429: their address is over "
                        "--aibridge-auth-failure-limit.", "counter"),
        ]

    def _left(self, address: str) -> float:
        left, when = self._buckets.get(address, (self.per_minute, self.clock()))
        return min(float(self.per_minute), left + (self.clock() - when) * self.per_minute / 60.0)

    def _prune(self) -> None:
        """Forget the addresses whose bucket is full again (they would start full anyway)."""
        for address in [a for a in self._buckets if self._left(a) >= self.per_minute]:
            del self._buckets[address]
            self._reported.pop(address, None)
