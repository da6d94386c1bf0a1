"""Which interceptions a question is about: the ``q`` filters, time bounds, and who may see what."""

from __future__ import annotations

import datetime as dt
import shlex

from ..storage import InterceptionFilter

FILTER_KEYS = ("initiator", "provider", "model", "client", "status", "started_after", "started_before")
TIME_KEYS = ("started_after", "started_before")
ME = "me"

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
RFC3339_EXAMPLE = "2025-01-02T15:04:05Z"


class BadParameter(ValueError):
    """A parameter the caller got wrong; ``field`` names it (``q``, ``limit``, ``started_after`` ...)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_q(q: str) -> dict[str, str]:
    """Split ``initiator:alice model:"gpt 4o"`` into filter values; BadParameter names the problem."""
    try:
        terms = shlex.split(q or "")
    except ValueError as error:
        raise BadParameter("q", f"cannot split into filters ({error}); quote values with spaces") from None
    values: dict[str, str] = {}
    for term in terms:
        key, colon, value = term.partition(":")
        if not colon:
            raise BadParameter("q", f"{term!r} is not a filter: write key:value, keys: {', '.join(FILTER_KEYS)}")
        if key not in FILTER_KEYS:
            raise BadParameter("q", f"unknown filter {key!r}; known: {', '.join(FILTER_KEYS)}")
        if key in values:
            raise BadParameter("q", f"filter {key!r} is given twice")
        values[key] = value
    return values


def build_filter(values: dict[str, str | None], actor_id: str | None = None,
                 sees_everyone: bool = True) -> InterceptionFilter:
    """An InterceptionFilter from raw filter values; ``initiator: me`` needs ``actor_id``."""
    fields: dict = {}
    for key, value in values.items():
        if value is None:
            continue
        value = value.strip()
        if not value:
            raise BadParameter(key, "is empty")
        if key in TIME_KEYS:
            fields[key] = _parse_time(key, value)
        elif key == "initiator" and value == ME:
            if actor_id is None:
                raise BadParameter(key, "'me' only means something to the API, where you are signed in")
            fields[key] = actor_id
        else:
            fields[key] = value
    result = InterceptionFilter(**fields, visible_to=None if sees_everyone else actor_id)
    if result.started_after and result.started_before and result.started_after >= result.started_before:
        raise BadParameter("started_before", "must be later than started_after")
    return result


def parse_limit(value: str | int | None) -> int:
    """A page size between 1 and 1000 (default 100)."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise BadParameter("limit", f"{value!r} is not a whole number between 1 and {MAX_LIMIT}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadParameter("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def _parse_time(key: str, value: str) -> dt.datetime:
    """An RFC 3339 time with a time zone; BadParameter says what is expected."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().upper())
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadParameter(key, f"{value!r} is not an RFC 3339 timestamp with a time zone, e.g. {RFC3339_EXAMPLE}")
    return parsed
