"""How record times are stored: UTC ISO 8601 text with microseconds, so text order is time order."""

from __future__ import annotations

import datetime as dt

RFC3339_EXAMPLE = "2025-01-02T15:04:05Z"


def to_db(value: dt.datetime) -> str:
    """The stored form of a time; naive times are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def parse_rfc3339(text: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp (with a time zone); ValueError says what is expected."""
    try:
        value = dt.datetime.fromisoformat(text.strip().upper())
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp with a time zone, e.g. {RFC3339_EXAMPLE}")
    return value
