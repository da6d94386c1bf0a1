"""When an attempt may be sent again, and how long to wait first.

Only what the upstream provably is not working on is sent again: a connection
that failed before any byte of the request was written, or an answer of 429
or 5xx (an answer, not a silence) read before anything was relayed. The wait
grows exponentially with jitter and is never shorter than the upstream's
Retry-After; an upstream asking for more than ``MAX_WAIT`` gets its answer
relayed instead of a gateway that holds the request that long.
"""

from __future__ import annotations

import email.utils
import random

BASE_DELAY = 0.5  # seconds before the first retry (halved at most by jitter)
MAX_DELAY = 8.0
MAX_WAIT = 15.0  # the longest Retry-After the gateway waits out itself


def retryable(status: int) -> bool:
    """An answer the upstream gave without working on the request: rate limited or failing."""
    return status == 429 or status >= 500


def backoff(retry: int, rand=random.random) -> float:
    """The wait before retry number ``retry`` (1, 2, ...): 0.25-0.5 s, 0.5-1 s, ... at most 8 s."""
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** (retry - 1))
    return delay / 2 + rand() * delay / 2


def delay_before(retry: int, asked: float | None) -> float | None:
    """The wait before retry ``retry`` honouring the upstream's ``asked`` seconds; None when that is too long."""
    if asked is not None and asked > MAX_WAIT:
        return None
    return max(asked or 0.0, backoff(retry))


def retry_after(headers, wall_now: float) -> float | None:
    """The seconds the upstream asked to wait: ``retry-after-ms``, or ``Retry-After`` in seconds or as an HTTP date."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - wall_now)
