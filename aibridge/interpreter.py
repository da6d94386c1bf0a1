"""The interpreter settled for serving, once the app is built and before the first request."""

from __future__ import annotations

import gc


def settle_for_serving() -> None:
    """Freeze what start-up (or a reload) made out of the garbage collector's way.

    A full collection walked every object made at start-up (about 100,000: modules, the app, the price
    book) and paused the relay 50-70 ms every few seconds; frozen, they are not walked again. Unfrozen
    first, so that after a reload what the old configuration held can be collected (what requests still
    in flight hold of it is frozen again, until the next reload). Measured: docs/benchmarks.md, "Latency
    tail". Lives outside ``aibridge.server``: gunicorn workers call it too (``aibridge.gunicorn_conf``).
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
