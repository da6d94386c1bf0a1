"""Read recorded interceptions and their records: newest first, a page at a time."""

from __future__ import annotations

import json
from typing import Any

from .interception_filter import InterceptionFilter
from .schema import CHILD_TABLES

# Stored as JSON text and as 0/1 (see rows.py); read back as what they were.
_JSON_COLUMNS = {"metadata": {}, "error": None}  # column -> value when NULL
_BOOL_COLUMNS = ("injected", "streaming", "is_error")
# Newest first: the rows after a cursor started earlier, or at the same time with a smaller id.
# The session an interception belongs to (spec §15): its client session id, or without one itself (sessions.py).
SESSION_KEY = "coalesce({a}.client_session_id, {a}.id)"
_AFTER_CURSOR = "(i.started_at < :cursor_started_at OR (i.started_at = :cursor_started_at AND i.id < :cursor_id))"


class UnknownInterception(LookupError):
    """No interception with this id matches the filter (so it cannot be a page's cursor)."""


def count_interceptions(db, where: InterceptionFilter) -> int:
    condition, params = where.where("i")
    return db.execute(f"SELECT count(*) AS n FROM interceptions i WHERE {condition}", params).fetchone()["n"]


def is_known_initiator(db, name_or_id: str) -> bool:
    """A user of the gateway has this username or id, or an interception was recorded under it.

    The second covers people an authentication plugin lets in without a user row.
    """
    for sql in ("SELECT 1 FROM users WHERE id = :who OR username = :who LIMIT 1",
                "SELECT 1 FROM interceptions WHERE initiator_id = :who OR initiator_username = :who LIMIT 1"):
        if db.execute(sql, {"who": name_or_id}).fetchone() is not None:
            return True
    return False


def interceptions_page(db, where: InterceptionFilter, limit: int,
                       after_id: str | None = None) -> list[dict[str, Any]]:
    """Up to ``limit`` matching interceptions, newest first, after the one with id ``after_id`` if given."""
    condition, params = where.where("i")
    page_condition, page_params = condition, {**params, "limit": limit}
    if after_id:
        page_condition += " AND " + _AFTER_CURSOR
        page_params.update(_cursor(db, condition, params, after_id))
    rows = db.execute(
        f"SELECT i.* FROM interceptions i WHERE {page_condition} "
        "ORDER BY i.started_at DESC, i.id DESC LIMIT :limit",
        page_params,
    ).fetchall()
    return [decoded_row(row) for row in rows]


def child_records(db, ids: list[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every child record of these interceptions, oldest first: {table: {interception_id: [rows]}}."""
    found: dict[str, dict[str, list]] = {table: {} for table in CHILD_TABLES}
    if not ids:
        return found
    marks = ", ".join("?" for _ in ids)
    for table in CHILD_TABLES:
        sql = f"SELECT * FROM {table} WHERE interception_id IN ({marks}) ORDER BY created_at, id"
        for row in db.execute(sql, ids):
            row.pop("record_id", None)  # the record's identity for writing it again harmlessly, not part of it
            found[table].setdefault(row["interception_id"], []).append(decoded_row(row))
    return found


def child_record(db, table: str, record_id: int) -> dict[str, Any] | None:
    """One child record by its row id, with ``initiator_id`` of its interception (who may read it); None if none."""
    if table not in CHILD_TABLES:
        raise ValueError(f"no record table {table!r}")
    row = db.execute(
        f"SELECT c.*, i.initiator_id AS initiator_id, {SESSION_KEY.format(a='i')} AS session_id FROM {table} c "
        "JOIN interceptions i ON i.id = c.interception_id WHERE c.id = :id", {"id": record_id}).fetchone()
    if row is None:
        return None
    row.pop("record_id", None)
    return decoded_row(row)


def _cursor(db, condition: str, params: dict, after_id: str) -> dict:
    """Where the page after ``after_id`` starts; the cursor must be one the filter lets through."""
    cursor = db.execute(
        f"SELECT i.started_at, i.id FROM interceptions i WHERE i.id = :after_id AND {condition}",
        {**params, "after_id": after_id},
    ).fetchone()
    if cursor is None:
        raise UnknownInterception(after_id)
    return {"cursor_started_at": cursor["started_at"], "cursor_id": cursor["id"]}


def decoded_row(row: dict) -> dict[str, Any]:
    fields = dict(row)
    for name, missing in _JSON_COLUMNS.items():
        if name in fields:
            fields[name] = json.loads(fields[name]) if fields[name] else missing
    for name in _BOOL_COLUMNS:
        if name in fields and fields[name] is not None:
            fields[name] = bool(fields[name])
    return fields
