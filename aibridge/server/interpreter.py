"""The interpreter settled for serving, once the app is built and before the first request."""

from __future__ import annotations

import gc
import sys

# Seconds a thread waiting for the GIL lets the holder run before asking for it (Python's default: 0.005).
SWITCH_INTERVAL = 0.001


def settle_for_serving() -> None:
    """Freeze what start-up (or a reload) made and shorten the GIL's switch interval.

    Why: docs/benchmarks.md, "Latency tail".
    """
    # A full collection walked every object made at start-up (about 100,000: modules, the app, the
    # price book) and paused the relay 50-70 ms every few seconds; frozen, they are not walked again.
    # Unfrozen first: after a reload, what the old configuration held can be collected.
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    # The recorder's writer and other plugin threads share the GIL with the request thread: a request
    # waiting for it waits at most 1 ms, not 5.
    sys.setswitchinterval(SWITCH_INTERVAL)
