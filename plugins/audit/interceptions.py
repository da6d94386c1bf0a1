"""List recorded interceptions with their records, newest first, a page at a time."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..recorder.schema import CHILD_TABLES
from .filters import BadParameter, InterceptionFilter

_JSON_COLUMNS = ("metadata",)
_BOOL_COLUMNS = ("injected", "streaming")
# Newest first: the rows after a cursor started earlier, or at the same time with a smaller id.
_AFTER_CURSOR = "(i.started_at < :cursor_started_at OR (i.started_at = :cursor_started_at AND i.id < :cursor_id))"


def list_interceptions(conn: sqlite3.Connection, where: InterceptionFilter, limit: int,
                       after_id: str | None = None) -> dict[str, Any]:
    """``{"count": matching interceptions, "results": one page}``; the page starts after ``after_id``."""
    condition, params = where.where("i")
    count = conn.execute(f"SELECT count(*) AS n FROM interceptions i WHERE {condition}", params).fetchone()["n"]
    page_condition, page_params = condition, {**params, "limit": limit}
    if after_id:
        page_condition += " AND " + _AFTER_CURSOR
        page_params.update(_cursor(conn, condition, params, after_id))
    rows = conn.execute(
        f"SELECT i.* FROM interceptions i WHERE {page_condition} "
        "ORDER BY i.started_at DESC, i.id DESC LIMIT :limit",
        page_params,
    ).fetchall()
    children = _children_of(conn, [row["id"] for row in rows])
    return {"count": count, "results": [interception_json(row, children) for row in rows]}


def _cursor(conn: sqlite3.Connection, condition: str, params: dict, after_id: str) -> dict:
    """Where the page after ``after_id`` starts; the cursor must be one the caller may see."""
    cursor = conn.execute(
        f"SELECT i.started_at, i.id FROM interceptions i WHERE i.id = :after_id AND {condition}",
        {**params, "after_id": after_id},
    ).fetchone()
    if cursor is None:
        raise BadParameter("after_id", f"no interception {after_id!r} matches these filters")
    return {"cursor_started_at": cursor["started_at"], "cursor_id": cursor["id"]}


def _children_of(conn: sqlite3.Connection, ids: list[str]) -> dict[str, dict[str, list]]:
    """Every child record of these interceptions: {table: {interception_id: [rows]}}."""
    found: dict[str, dict[str, list]] = {table: {} for table in CHILD_TABLES}
    if not ids:
        return found
    marks = ", ".join("?" for _ in ids)
    for table in CHILD_TABLES:
        sql = f"SELECT * FROM {table} WHERE interception_id IN ({marks}) ORDER BY created_at, id"
        for row in conn.execute(sql, ids):
            found[table].setdefault(row["interception_id"], []).append(_row_json(row))
    return found


def interception_json(row: dict, children: dict[str, dict[str, list]]) -> dict[str, Any]:
    """The API shape of one interception and its records."""
    fields = _row_json(row)
    answer = {
        "id": fields["id"],
        "initiator": {"id": fields["initiator_id"], "username": fields["initiator_username"]},
    }
    for name in ("provider", "provider_name", "model", "client", "client_session_id", "user_agent", "api",
                 "streaming", "status", "started_at", "ended_at", "metadata"):
        answer[name] = fields[name]
    for table in CHILD_TABLES:
        answer[table] = children[table].get(fields["id"], [])
    return answer


def _row_json(row: dict) -> dict[str, Any]:
    fields = dict(row)
    for name in _JSON_COLUMNS:
        if name in fields:
            fields[name] = json.loads(fields[name]) if fields[name] else {}
    for name in _BOOL_COLUMNS:
        if name in fields and fields[name] is not None:
            fields[name] = bool(fields[name])
    return fields
