"""Usage summaries: interceptions and token sums per user, model, provider, client or day."""

from __future__ import annotations

import sqlite3
from typing import Any

from .filters import BadParameter, InterceptionFilter

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens")

# group_by -> (SQL columns that identify a group, order of the groups)
_GROUPS = {
    "user": (("i.initiator_id AS initiator_id", "max(i.initiator_username) AS initiator_username"),
             ("i.initiator_id",), "interceptions DESC, initiator_username, initiator_id"),
    "model": (("i.model AS model",), ("i.model",), "interceptions DESC, model"),
    "provider": (("i.provider AS provider", "i.provider_name AS provider_name"),
                 ("i.provider", "i.provider_name"), "interceptions DESC, provider_name"),
    "client": (("i.client AS client",), ("i.client",), "interceptions DESC, client"),
    # Times are stored as UTC ISO 8601 text, so the first ten characters are the UTC day.
    "day": (("substr(i.started_at, 1, 10) AS day",), ("substr(i.started_at, 1, 10)",), "day"),
}
GROUP_BY_CHOICES = tuple(_GROUPS)
DEFAULT_GROUP_BY = "user"


def parse_group_by(value: str | None) -> str:
    if value is None or value == "":
        return DEFAULT_GROUP_BY
    if value not in _GROUPS:
        raise BadParameter("group_by", f"{value!r} is not one of {', '.join(GROUP_BY_CHOICES)}")
    return value


def usage_summary(conn: sqlite3.Connection, where: InterceptionFilter, group_by: str) -> dict[str, Any]:
    """``{"group_by", "totals", "results": [one entry per group]}`` for the matching interceptions."""
    select, group, order = _GROUPS[group_by]
    condition, params = where.where("i")
    sums = ", ".join(f"coalesce(sum(t.{column}), 0) AS {column}" for column in TOKEN_COLUMNS)
    rows = conn.execute(
        f"SELECT {', '.join(select)}, count(DISTINCT i.id) AS interceptions, {sums} "
        "FROM interceptions i LEFT JOIN token_usages t ON t.interception_id = i.id "
        f"WHERE {condition} GROUP BY {', '.join(group)} ORDER BY {order}",
        params,
    ).fetchall()
    results = [_group_json(group_by, row) for row in rows]
    totals = {name: sum(entry[name] for entry in results) for name in ("interceptions", *TOKEN_COLUMNS)}
    return {"group_by": group_by, "totals": totals, "results": results}


def _group_json(group_by: str, row: dict) -> dict[str, Any]:
    entry = dict(row)
    if group_by == "user":
        entry = {"initiator": {"id": entry.pop("initiator_id"), "username": entry.pop("initiator_username")},
                 **entry}
    return entry
