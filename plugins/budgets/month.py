"""Budget months: calendar months in UTC."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def month_start(now: dt.datetime) -> dt.datetime:
    """Midnight UTC on the first day of ``now``'s month."""
    now = now.astimezone(dt.timezone.utc)
    return dt.datetime(now.year, now.month, 1, tzinfo=dt.timezone.utc)


def next_month_start(now: dt.datetime) -> dt.datetime:
    """When the month of ``now`` ends and every budget starts again."""
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def month_key(now: dt.datetime) -> str:
    """``2026-12``: how the store names a month (text order is time order)."""
    return month_start(now).strftime("%Y-%m")


def stored_time(value: dt.datetime) -> str:
    """A time as the records tables store it: UTC ISO 8601 with microseconds (text order is time order)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def reset_text(now: dt.datetime) -> str:
    """When the budgets of ``now``'s month reset, as people read it: ``2027-01-01 00:00 UTC``."""
    return next_month_start(now).strftime("%Y-%m-%d %H:%M UTC")
