"""How the pages write times, durations, counts and long texts (Jinja filters)."""

from __future__ import annotations

import datetime as dt
import re

from markupsafe import Markup, escape

from ..storage import TOKEN_COLUMNS

CLIP = 2000  # characters of a prompt, tool input, result or thought shown in the timeline; the rest via a link


def when(value) -> str:
    """``2026-12-01 07:30:12 UTC`` (times are stored in UTC)."""
    if not value:
        return ""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(ms) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def count(value) -> str:
    return f"{value or 0:,}"


def tokens(value) -> str:
    """``950``, ``12.3k``, ``4.56M``."""
    value = value or 0
    for limit, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if value >= limit:
            scaled = value / limit
            return f"{scaled:.3g}{suffix}" if scaled < 1000 else f"{scaled:,.0f}{suffix}"
    return str(value)


def total_tokens(usage: dict) -> int:
    return sum(usage.get(column) or 0 for column in TOKEN_COLUMNS)


def clip(text, limit: int = CLIP) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def is_clipped(text, limit: int = CLIP) -> bool:
    return len(text or "") > limit


def highlight(text, needle: str | None) -> Markup:
    """``text`` escaped, each occurrence of ``needle`` (any case) in <mark>."""
    text = str(text or "")
    if not needle:
        return escape(text)
    parts = re.split(f"({re.escape(needle)})", text, flags=re.IGNORECASE)
    return Markup("").join(Markup("<mark>{}</mark>").format(part) if index % 2 else escape(part)
                           for index, part in enumerate(parts))


# Registered on the app's Jinja environment under names no built-in filter has.
FILTERS = {"utc": when, "duration": duration, "thousands": count, "tokens": tokens, "total_tokens": total_tokens,
           "clip": clip, "is_clipped": is_clipped, "highlight": highlight}
