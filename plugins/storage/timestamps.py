"""How record times are stored: UTC ISO 8601 text with microseconds, so text order is time order."""

from __future__ import annotations

import datetime as dt


def to_db(value: dt.datetime) -> str:
    """The stored form of a time; naive times are taken as UTC."""
    if value.tzinfo is dt.timezone.utc:  # what the gateway's records carry: no conversion needed
        return value.isoformat(timespec="microseconds")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")

