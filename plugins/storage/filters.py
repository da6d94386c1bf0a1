"""Which interceptions a question is about: the ``q`` filters, time bounds, and who may see what.

Shared by the audit API and CLI and the dashboard (its pages and its sessions API).
"""

from __future__ import annotations

import shlex

import aibridge

from .interception_filter import InterceptionFilter
from .interceptions import is_known_initiator

# key -> the InterceptionFilter field it sets
FILTER_FIELDS = {"initiator": "initiator", "provider": "provider", "model": "model", "client": "client",
                 "status": "status", "session": "client_session_id", "started_after": "started_after",
                 "started_before": "started_before", "text": "prompt_text"}  # fmt: skip
FILTER_KEYS = tuple(FILTER_FIELDS)
TIME_KEYS = ("started_after", "started_before")
STATUSES = ("completed", "failed", "client_disconnected", "interrupted")
ME = "me"

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class BadParameter(ValueError):
    """A parameter the caller got wrong; ``field`` names it (``q``, ``limit``, ``started_after`` ...)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def body(self) -> dict:
        """The API's 400 answer: the message, and the field it is about (as the coder API reports validations)."""
        return {"message": f"invalid {self.field}: {self.message}",
                "validations": [{"field": self.field, "detail": self.message}]}


class UnknownInitiator(BadParameter):
    """``initiator`` names nobody: no such user, and nobody of that name or id was ever recorded."""


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


def filter_from_q(q: str | None, actor_id: str, sees_everyone: bool) -> InterceptionFilter:
    """The filter of an API request's ``q``; every problem is reported on ``q``, saying which filter."""
    try:
        return build_filter(parse_q(q or ""), actor_id, sees_everyone)
    except BadParameter as error:
        if error.field == "q":
            raise
        raise BadParameter("q", str(error)) from None


def api_query(args, actor_id: str, sees_everyone: bool) -> tuple[InterceptionFilter, int]:
    """The filter (``q``) and page size (``limit``) of a listing API's parameters (a mapping of strings)."""
    return filter_from_q(args.get("q"), actor_id, sees_everyone), parse_limit(args.get("limit"))


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
        elif key == "status" and value not in STATUSES:
            raise BadParameter(key, f"unknown status {value!r}; known: {', '.join(STATUSES)}")
        else:
            fields[FILTER_FIELDS[key]] = value
    result = InterceptionFilter(**fields, visible_to=None if sees_everyone else actor_id)
    if result.started_after and result.started_before and result.started_after >= result.started_before:
        raise BadParameter("started_before", "must be later than started_after")
    return result


def check_initiator(db, where: InterceptionFilter) -> None:
    """An initiator that names nobody is an error, not an empty answer (a misspelt name would look like no use)."""
    if where.initiator is not None and not is_known_initiator(db, where.initiator):
        raise UnknownInitiator("initiator", f"no user {where.initiator!r} (by username or id)")


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


def _parse_time(key: str, value: str):
    try:
        return aibridge.parse_time(value)
    except ValueError as error:
        raise BadParameter(key, str(error)) from None
