"""Which interceptions a question is about: the ``q`` filters, time bounds, and who may see what."""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass

from ..recorder.timestamps import parse_rfc3339, to_db

FILTER_KEYS = ("initiator", "provider", "model", "client", "started_after", "started_before")
TIME_KEYS = ("started_after", "started_before")
ME = "me"

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class BadParameter(ValueError):
    """A parameter the caller got wrong; ``field`` names it (``q``, ``limit``, ``started_after`` ...)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class InterceptionFilter:
    """Conditions on interceptions; ``visible_to`` limits a member to their own (None: everyone's)."""

    initiator: str | None = None  # a user id or username
    provider: str | None = None  # a provider type or instance name
    model: str | None = None
    client: str | None = None
    started_after: dt.datetime | None = None  # inclusive
    started_before: dt.datetime | None = None  # exclusive
    visible_to: str | None = None

    def where(self, alias: str = "i") -> tuple[str, dict]:
        """A SQL condition on the interceptions table (aliased ``alias``) and its parameters."""
        conditions, params = ["1 = 1"], {}
        if self.visible_to is not None:
            conditions.append(f"{alias}.initiator_id = :visible_to")
            params["visible_to"] = self.visible_to
        if self.initiator is not None:
            conditions.append(f"({alias}.initiator_id = :initiator OR {alias}.initiator_username = :initiator)")
            params["initiator"] = self.initiator
        if self.provider is not None:
            conditions.append(f"({alias}.provider = :provider OR {alias}.provider_name = :provider)")
            params["provider"] = self.provider
        for name in ("model", "client"):
            if getattr(self, name) is not None:
                conditions.append(f"{alias}.{name} = :{name}")
                params[name] = getattr(self, name)
        if self.started_after is not None:
            conditions.append(f"{alias}.started_at >= :started_after")
            params["started_after"] = to_db(self.started_after)
        if self.started_before is not None:
            conditions.append(f"{alias}.started_at < :started_before")
            params["started_before"] = to_db(self.started_before)
        return " AND ".join(conditions), params


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
    try:
        return parse_rfc3339(value)
    except ValueError as error:
        raise BadParameter(key, str(error)) from None
