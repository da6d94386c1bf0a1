"""The times a ``--started-after`` option or a ``started_after:`` filter may name.

``7d``, ``24h``, ``90m``, ``1h30m``: that long before now. ``2026-12-01``: the
start of that UTC day. ``2025-01-02T15:04:05Z``: an RFC 3339 time, with its
time zone.
"""

from __future__ import annotations

import datetime as dt
import re

from ..config.durations import parse_duration

RFC3339_EXAMPLE = "2025-01-02T15:04:05Z"
TIME_HINT = f"use a duration before now (7d, 24h, 90m), a UTC day (2026-12-01) or an RFC 3339 time ({RFC3339_EXAMPLE})"

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$")


def parse_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """The UTC-aware time ``text`` names (relative ones against ``now``, default the current time); ValueError says why not."""
    value = text.strip()
    if _DURATION.match(value):
        return (now or dt.datetime.now(dt.timezone.utc)) - parse_duration(value)
    if _DAY.match(value):
        try:
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise ValueError(f"{text!r} is not a day of the calendar ({TIME_HINT})") from None
    try:
        parsed = dt.datetime.fromisoformat(value.upper())
    except ValueError:
        parsed = None
    if parsed is None or "T" not in value.upper() and " " not in value:
        raise ValueError(f"{text!r} is not a time: {TIME_HINT}")
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z for UTC or an offset, e.g. {RFC3339_EXAMPLE}")
    return parsed
