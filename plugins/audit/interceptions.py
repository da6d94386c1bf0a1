"""List recorded interceptions with their records, newest first, a page at a time, in the API's shape."""

from __future__ import annotations

from typing import Any

from ..storage import (
    CHILD_TABLES,
    InterceptionFilter,
    UnknownInterception,
    child_records,
    count_interceptions,
    interceptions_page,
)
from ..storage import BadParameter, check_initiator
from ..storage import records_cost
from .cost import with_usd


def list_interceptions(db, where: InterceptionFilter, limit: int,
                       after_id: str | None = None) -> dict[str, Any]:
    """``{"count": matching interceptions, "results": one page}``; the page starts after ``after_id``."""
    check_initiator(db, where)
    count = count_interceptions(db, where)
    try:
        rows = interceptions_page(db, where, limit, after_id)
    except UnknownInterception:
        raise BadParameter("after_id", f"no interception {after_id!r} matches these filters") from None
    children = child_records(db, [row["id"] for row in rows])
    return {"count": count, "results": [interception_json(row, children) for row in rows]}


def interception_json(fields: dict, children: dict[str, dict[str, list]]) -> dict[str, Any]:
    """The API shape of one interception and its records."""
    answer = {
        "id": fields["id"],
        "initiator": {"id": fields["initiator_id"], "username": fields["initiator_username"]},
    }
    for name in ("provider", "provider_name", "model", "client", "client_session_id", "user_agent", "api",
                 "streaming", "status", "error", "started_at", "ended_at", "credential_kind", "credential_hint",
                 "metadata"):
        answer[name] = fields[name]
    for table in CHILD_TABLES:
        answer[table] = children[table].get(fields["id"], [])
    answer["token_usages"] = [with_usd(usage) for usage in answer["token_usages"]]
    answer.update(records_cost(answer["token_usages"]))
    return answer
