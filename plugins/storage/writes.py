"""Write batches of records in one short transaction."""

from __future__ import annotations

from typing import Any, Iterable

import sqlite_utils

from aibridge import Interception

from .rows import CHILD_ROWS, INTERCEPTION_COLUMNS, interception_row

# What a queued record is: an interception's start or end, or one of its child records.
START = "start"
END = "end"
CHILD = "child"

_COLUMNS = ", ".join(INTERCEPTION_COLUMNS)
_PLACEHOLDERS = ", ".join("?" for _ in INTERCEPTION_COLUMNS)
# A start that arrives twice (a retried batch) is kept once.
_INSERT_START = f"INSERT INTO interceptions ({_COLUMNS}) VALUES ({_PLACEHOLDERS}) ON CONFLICT(id) DO NOTHING"
# The end carries every field of the interception: if its start row was lost, the end still records it.
# What is learnt after the start (the instance and key that answered, attempts) replaces the start's values.
_UPSERT_END = (
    f"INSERT INTO interceptions ({_COLUMNS}) VALUES ({_PLACEHOLDERS}) "
    "ON CONFLICT(id) DO UPDATE SET ended_at = excluded.ended_at, status = excluded.status, error = excluded.error, "
    "provider_name = excluded.provider_name, model = excluded.model, metadata = excluded.metadata, "
    "credential_kind = excluded.credential_kind, credential_hint = excluded.credential_hint"
)


def write_batch(db: sqlite_utils.Database, items: Iterable[tuple[str, Any]]) -> None:
    """Write ``(kind, record)`` items in one transaction; all or nothing.

    Rows are built before the transaction and inserted with one executemany per
    statement: the write lock is held only for SQLite's own work. The order
    across statements does not matter (an end carries its whole interception).
    """
    items = list(items)
    # An interception that started and ended within one batch is one insert: its end carries every field.
    ended = {record.interception_id for kind, record in items if kind == END and isinstance(record, Interception)}
    groups: dict[str, list[list]] = {}
    for kind, record in items:
        if kind == START and getattr(record, "interception_id", None) in ended:
            continue
        sql, params = statement(kind, record)
        groups.setdefault(sql, []).append(params)
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, rows in groups.items():
            conn.executemany(sql, rows)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def statement(kind: str, record: Any) -> tuple[str, list]:
    """The SQL and parameters that store one record."""
    if kind in (START, END):
        if not isinstance(record, Interception):
            raise TypeError(f"expected an Interception, got {type(record).__name__}")
        row = interception_row(record)
        return (_INSERT_START if kind == START else _UPSERT_END), [_bindable(row[c]) for c in INTERCEPTION_COLUMNS]
    table, make_row = CHILD_ROWS[type(record)]
    row = make_row(record)
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", [_bindable(v) for v in row.values()]


def _bindable(value: Any) -> Any:
    # Text decoded from JSON may hold lone surrogates, which SQLite cannot store as UTF-8.
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
    return value
