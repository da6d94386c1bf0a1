"""Delete interceptions past the retention period, with their child records, in batches."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from .schema import CHILD_TABLES, INTERCEPTIONS
from .timestamps import to_db

BATCH_SIZE = 1000
PURGE_LOCK = "aibridge-retention-purge"  # one instance purges at a time (PostgreSQL)

# Interceptions whose end was never recorded (a process died mid-request) expire by their start.
_EXPIRED = "(ended_at < :cutoff OR (ended_at IS NULL AND started_at < :cutoff))"


@dataclass
class PurgeResult:
    """Rows removed (or, in a dry run, that would be) per table."""

    cutoff: dt.datetime
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys((INTERCEPTIONS, *CHILD_TABLES), 0))
    skipped: bool = False  # another gateway instance was purging: nothing was done here

    @property
    def interceptions(self) -> int:
        return self.rows[INTERCEPTIONS]

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def describe(self) -> str:
        if self.skipped:
            return "nothing: another gateway instance is purging the same database"
        details = ", ".join(f"{table} {count}" for table, count in self.rows.items())
        return f"{self.total} rows ({details}) of interceptions that ended before {self.cutoff.isoformat()}"


def purge(db, cutoff: dt.datetime, batch_size: int = BATCH_SIZE,
          keep_going: Callable[[], bool] = lambda: True,
          removed: Callable[[int], None] = lambda interceptions: None) -> PurgeResult:
    """Delete expired interceptions and their records, one short transaction per ``batch_size`` interceptions.

    Writers go on between batches (and, on PostgreSQL, during them: they touch
    other rows). On PostgreSQL one instance purges at a time; another one that
    tries meanwhile gets a result marked ``skipped``.
    ``keep_going`` is asked between batches; returning False stops early (on shutdown).
    ``removed`` is told how many interceptions each batch removed (for progress).
    """
    result = PurgeResult(cutoff)
    with db.exclusive(PURGE_LOCK) as held:
        if not held:
            result.skipped = True
            return result
        params = {"cutoff": to_db(cutoff), "limit": batch_size}
        while True:
            with db.transaction():
                ids = [row["id"] for row in db.query(
                    f"SELECT id FROM {INTERCEPTIONS} WHERE {_EXPIRED} LIMIT :limit", params)]
                if ids:
                    marks = ", ".join("?" for _ in ids)
                    for table in CHILD_TABLES:
                        result.rows[table] += db.execute(
                            f"DELETE FROM {table} WHERE interception_id IN ({marks})", ids).rowcount
                    result.rows[INTERCEPTIONS] += db.execute(
                        f"DELETE FROM {INTERCEPTIONS} WHERE id IN ({marks})", ids).rowcount
            removed(len(ids))
            if len(ids) < batch_size or not keep_going():
                return result


def count_expired(db, cutoff: dt.datetime) -> PurgeResult:
    """What :func:`purge` would remove, without removing anything."""
    result = PurgeResult(cutoff)
    params = {"cutoff": to_db(cutoff)}
    expired_ids = f"SELECT id FROM {INTERCEPTIONS} WHERE {_EXPIRED}"
    result.rows[INTERCEPTIONS] = count_expired_interceptions(db, cutoff)
    for table in CHILD_TABLES:
        result.rows[table] = db.value(f"SELECT count(*) AS n FROM {table} WHERE interception_id IN ({expired_ids})",
                                      params)
    return result


def count_expired_interceptions(db, cutoff: dt.datetime) -> int:
    """How many interceptions :func:`purge` would remove (not counting their records)."""
    return db.value(f"SELECT count(*) AS n FROM {INTERCEPTIONS} WHERE {_EXPIRED}", {"cutoff": to_db(cutoff)})
