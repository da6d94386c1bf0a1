"""Delete interceptions past the retention period, with their child records, in batches."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from typing import Callable

from .schema import CHILD_TABLES, INTERCEPTIONS
from .timestamps import to_db

BATCH_SIZE = 1000

# Interceptions whose end was never recorded (a process died mid-request) expire by their start.
_EXPIRED = "(ended_at < :cutoff OR (ended_at IS NULL AND started_at < :cutoff))"


@dataclass
class PurgeResult:
    """Rows removed (or, in a dry run, that would be) per table."""

    cutoff: dt.datetime
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys((INTERCEPTIONS, *CHILD_TABLES), 0))

    @property
    def interceptions(self) -> int:
        return self.rows[INTERCEPTIONS]

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def describe(self) -> str:
        details = ", ".join(f"{table} {count}" for table, count in self.rows.items())
        return f"{self.total} rows ({details}) of interceptions that ended before {self.cutoff.isoformat()}"


def purge(conn: sqlite3.Connection, cutoff: dt.datetime, batch_size: int = BATCH_SIZE,
          keep_going: Callable[[], bool] = lambda: True,
          removed: Callable[[int], None] = lambda interceptions: None) -> PurgeResult:
    """Delete expired interceptions and their records, one transaction per ``batch_size`` interceptions.

    ``keep_going`` is asked between batches; returning False stops early (on shutdown).
    ``removed`` is told how many interceptions each batch removed (for progress).
    """
    result = PurgeResult(cutoff)
    params = {"cutoff": to_db(cutoff), "limit": batch_size}
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = [row[0] for row in conn.execute(
                f"SELECT id FROM {INTERCEPTIONS} WHERE {_EXPIRED} LIMIT :limit", params)]
            if ids:
                marks = ", ".join("?" for _ in ids)
                for table in CHILD_TABLES:
                    cursor = conn.execute(f"DELETE FROM {table} WHERE interception_id IN ({marks})", ids)
                    result.rows[table] += cursor.rowcount
                cursor = conn.execute(f"DELETE FROM {INTERCEPTIONS} WHERE id IN ({marks})", ids)
                result.rows[INTERCEPTIONS] += cursor.rowcount
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        removed(len(ids))
        if len(ids) < batch_size or not keep_going():
            return result


def count_expired(conn: sqlite3.Connection, cutoff: dt.datetime) -> PurgeResult:
    """What :func:`purge` would remove, without removing anything."""
    result = PurgeResult(cutoff)
    params = {"cutoff": to_db(cutoff)}
    expired_ids = f"SELECT id FROM {INTERCEPTIONS} WHERE {_EXPIRED}"
    result.rows[INTERCEPTIONS] = count_expired_interceptions(conn, cutoff)
    for table in CHILD_TABLES:
        sql = f"SELECT count(*) FROM {table} WHERE interception_id IN ({expired_ids})"
        result.rows[table] = conn.execute(sql, params).fetchone()[0]
    return result


def count_expired_interceptions(conn: sqlite3.Connection, cutoff: dt.datetime) -> int:
    """How many interceptions :func:`purge` would remove (not counting their records)."""
    sql = f"SELECT count(*) FROM {INTERCEPTIONS} WHERE {_EXPIRED}"
    return conn.execute(sql, {"cutoff": to_db(cutoff)}).fetchone()[0]
