"""Time for the resilience decisions, behind one object so tests move it instead of waiting."""

from __future__ import annotations

import time


class SystemClock:
    """Real time. ``sleep`` is looked up at call time: under gevent's patching it yields to other greenlets."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        """Wall-clock seconds since the epoch (for Retry-After given as an HTTP date)."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
