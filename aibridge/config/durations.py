"""Go-style durations (``1h30m``, ``720h``) plus days and weeks (``90d``, ``2w``)."""

from __future__ import annotations

import datetime as dt
import re

_UNITS = {
    "ms": dt.timedelta(milliseconds=1),
    "s": dt.timedelta(seconds=1),
    "m": dt.timedelta(minutes=1),
    "h": dt.timedelta(hours=1),
    "d": dt.timedelta(days=1),
    "w": dt.timedelta(weeks=1),
}

# "ms" must be tried before "m" so that "500ms" is not read as 500 minutes + "s".
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d|w)")

HINT = "use a number with a unit: 90d, 2w, 720h, 1h30m, 45s (0 for none)"


def parse_duration(text: str | int) -> dt.timedelta:
    """Parse ``90d``, ``2w``, ``1h30m``, ``0`` ... into a timedelta; ValueError when malformed."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"invalid duration {text!r}: {HINT}")
    if isinstance(text, int):
        if text == 0:
            return dt.timedelta(0)
        raise ValueError(f"invalid duration {text!r}: a unit is required ({HINT})")
    stripped = text.strip()
    if stripped == "0":
        return dt.timedelta(0)
    if not stripped:
        raise ValueError(f"empty duration: {HINT}")
    total = dt.timedelta(0)
    position = 0
    for match in _PART.finditer(stripped):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(stripped):
        raise ValueError(f"invalid duration {text!r}: {HINT}")
    return total


def format_duration(value: dt.timedelta) -> str:
    """Render a timedelta in the same notation (``2w3d``, ``1h30m``, ``0``)."""
    remaining = int(value.total_seconds())
    if remaining == 0:
        return "0"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = int(_UNITS[unit].total_seconds())
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
