"""How the pages write times, durations, counts and long texts (Jinja filters)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal

from markupsafe import Markup, escape

import aibridge

from ..storage import TOKEN_COLUMNS

CENT, SMALLEST = Decimal("0.01"), Decimal("0.0001")
CLIP = 2000  # characters of a prompt, tool input, result or thought shown in the timeline; the rest via a link


def when(value) -> str:
    """``2026-12-01 07:30:12 UTC`` (times are stored in UTC)."""
    if not value:
        return ""
    if isinstance(value, str) and value.endswith("+00:00"):  # as stored: no parsing needed
        return f"{value[:10]} {value[11:19]} UTC"
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


def usd(nanos) -> str:
    """``$12.35``, ``$0.0042`` (small amounts keep two significant digits), ``unpriced`` when unknown.

    From the integer nano-dollars with Decimal: no float ever carries money.
    """
    if nanos is None:
        return "unpriced"
    dollars = aibridge.nanos_to_usd(nanos)
    if dollars == 0 or dollars >= CENT:
        return f"${dollars.quantize(CENT):,}"
    if dollars < SMALLEST:
        return f"<${SMALLEST}"
    return f"${Decimal(f'{dollars:.2g}').normalize():f}"  # two significant digits, no trailing zero ($0.0001)


def usd_exact(nanos) -> str:
    """An amount someone set (a budget) as they typed it: ``$12.50``, ``$12.345``: cents always, and the digits
    below a cent only when there are some; ``none`` when there is no amount."""
    if nanos is None:
        return "none"
    amount = aibridge.nanos_to_usd(nanos).normalize()
    cents = amount.quantize(CENT)
    return f"${cents if cents == amount else amount:,f}"


def cost(figures: dict) -> Markup:
    """What a record, a request or a sum of them cost, by docs/cost.md's rule for sums: the priced part, and how
    many token records had no price ("unpriced", never $0, when none had one)."""
    nanos, unpriced = figures.get("cost_usd_nanos"), figures.get("unpriced_records") or 0
    if nanos is None and unpriced:
        return Markup('<span class="unpriced" title="{} token record{} without a price">unpriced</span>').format(
            count(unpriced), "" if unpriced == 1 else "s")
    shown = escape(usd(nanos or 0))
    if unpriced:
        shown += Markup(' <small class="muted" title="{n} token record{s} no price: the cost shown leaves {them} '
                        'out">+{n} unpriced</small>').format(n=count(unpriced), s=" has" if unpriced == 1 else "s have",
                                                             them="it" if unpriced == 1 else "them")
    return shown


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
    parts = _splitter(needle).split(text)
    return Markup("".join(f"<mark>{escape(part)}</mark>" if index % 2 else str(escape(part))
                          for index, part in enumerate(parts)))


@functools.lru_cache(maxsize=64)
def _splitter(needle: str) -> re.Pattern:
    return re.compile(f"({re.escape(needle)})", re.IGNORECASE)


def text_block(text, table: str, record_id: int, search: str | None = None) -> Markup:
    """A long text as the timeline shows it: cut at CLIP characters, with a link to the whole of it.

    Built here rather than in a template macro: a long session has thousands of them.
    """
    from flask import request

    text = text or ""
    shown = str(highlight(clip(text), search) if search else escape(clip(text)))  # escaped, as plain str
    block = '<pre class="text">' + shown + "</pre>"  # plain concatenation: Markup.format is slow at this count
    if len(text) > CLIP:
        link = escape(f"{request.script_root}/records/{table}/{int(record_id)}")
        block += f'<p class="more"><a href="{link}">Full text ({count(len(text))} characters)</a></p>'
    return Markup(block)


def status_badge(status: str | None) -> Markup:
    if status == "completed":
        return Markup('<span class="badge ok">completed</span>')
    if status:
        return Markup('<span class="badge bad">{}</span>').format(status)
    return Markup('<span class="badge">in flight</span>')


def error_reason(error: dict | None) -> Markup:
    """Why a request failed: the error's kind, the provider's status if any, and its message."""
    if not error:
        return Markup("")
    upstream = f" ({error['upstream_status']})" if error.get("upstream_status") else ""
    return Markup('<p class="reason"><strong>{}</strong>{}: {}</p>').format(error.get("kind"), upstream,
                                                                          error.get("message"))


# Called from the templates, on every page.
GLOBALS = {"cost": cost, "text_block": text_block, "status_badge": status_badge, "error_reason": error_reason}

# Registered on the app's Jinja environment under names no built-in filter has.
FILTERS = {"utc": when, "duration": duration, "thousands": count, "tokens": tokens, "total_tokens": total_tokens,
           "usd": usd, "usd_exact": usd_exact,
           "clip": clip, "is_clipped": is_clipped, "highlight": highlight}
