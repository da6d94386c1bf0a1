"""Connections to the recording database (SQLite or PostgreSQL): one migrated writer, readers, and its errors."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterable, Iterator

import aibridge

from . import heartbeats
from .schema import migrate
from .writes import RowWrite, end_interrupted, write_rows

# The recorder's writer waits at most this long for another process's transaction, then keeps its
# records for later: a long wait here is memory piling up in its queue.
WRITE_BUSY_TIMEOUT_MS = 1000


is_postgres = aibridge.Database.is_postgres_url


def open_for_writing(database: Path | str, create: bool = True) -> aibridge.Database:
    """Open the database (a SQLite path or a PostgreSQL URL), records tables migrated; ``create``: also when
    a SQLite file is missing."""
    if create and not is_postgres(database):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    db = aibridge.open_database(database, create=create)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def ensure_tables(database: Path | str) -> None:
    """Create or migrate the tables now, so that errors surface at startup and readers find tables."""
    open_for_writing(database).close()


@contextlib.contextmanager
def reading(database: Path | str) -> Iterator[aibridge.Database]:
    """A read-only view of one consistent state of the database, for the block."""
    with aibridge.read_database(database) as db:
        if db.is_postgres:
            _plan_for_reading(db)
        yield db


# PostgreSQL's planner settings for a read's transaction (never less generous than the server's own):
# - random_page_cost, what it assumes a page read from an index range costs compared with one of a sequential
#   scan: its default (4) is a spinning disk's. The record tables' indexes are made to be read alone (index-only
#   scans of the usage, session and token-sum indexes); at 4 the planner reads the whole table instead and sorts
#   or hashes it. 1.1 is the usual figure for SSDs and cached data.
# - work_mem, the memory of one sort or hash: at the default 4 MB the usage sums over 30 days of 100,000
#   interceptions spill their hash to temporary files.
# Together about twice as fast on bench/dashboard_pages.py's store (the session count four times).
_RANDOM_PAGE_COST = 1.1
_WORK_MEM_KB = 16 * 1024


def _plan_for_reading(db: aibridge.Database) -> None:
    db.execute(
        "SELECT set_config('random_page_cost', least(current_setting('random_page_cost')::float8, ?)::text, true), "
        "set_config('work_mem', greatest(pg_size_bytes(current_setting('work_mem')) / 1024, ?)::text || 'kB', true)",
        [_RANDOM_PAGE_COST, _WORK_MEM_KB]).fetchall()


def is_refused(error: BaseException) -> bool:
    """The database refuses these rows (a constraint, a value it cannot hold): writing them again will not help.

    Every other error (locked, full, read-only, missing, unreachable, I/O) is
    about the store, not the rows: the same write can succeed once the store is back.
    """
    return aibridge.Database.refuses(error)


class StoreMissing(OSError):
    """The database file is not at its path any more (deleted, moved away, its directory unmounted)."""


class RecordStore:
    """The recorder's connection to the records tables, opened when needed and again after an error.

    Once the gateway runs it never creates the database: one that disappears
    is an outage (records wait in the spool), not a reason to start an empty
    one. On SQLite, before each write it checks that the file at the path is
    still the one it has open, so it notices a database deleted, moved away
    or replaced by a restored copy (writes to a deleted file would vanish with it).
    """

    def __init__(self, database: Path | str, busy_timeout_ms: int = WRITE_BUSY_TIMEOUT_MS):
        self.database = database if is_postgres(database) else Path(database)
        self.busy_timeout_ms = busy_timeout_ms
        self._db: aibridge.Database | None = None
        self._identity: tuple[int, int] | None = None

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.database)

    def write(self, writes: Iterable[RowWrite]) -> None:
        """Write the rows in one transaction; raises what the database said (see :func:`is_refused`)."""
        self._run(write_rows, writes)

    def end_interrupted(self, instance_ids: Iterable[str], message: str, include_unattributed: bool = False) -> int:
        """End the open interceptions of gone gateway processes ``interrupted``; how many were ended."""
        return self._run(end_interrupted, instance_ids, message, include_unattributed)

    def beat(self, instance: heartbeats.About) -> None:
        """PostgreSQL: this instance is alive (its heartbeat row, written again if another instance removed it)."""
        self._run(heartbeats.beat, instance)

    def take_over_gone(self, own_id: str, timeout: float, message: str) -> heartbeats.TakeOver | None:
        """PostgreSQL: end the open interceptions of instances silent for ``timeout`` seconds (one instance at
        a time); None when another instance is doing it."""
        return self._run(heartbeats.take_over_gone, own_id, timeout, message)

    def leave(self, instance_id: str) -> None:
        """PostgreSQL: this instance stops (nothing of it is left open): remove its heartbeat row."""
        self._run(heartbeats.leave, instance_id)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db, self._identity = None, None

    def _run(self, operation, *args):
        try:
            return operation(self._connection(), *args)
        except BaseException as error:
            if not is_refused(error):
                self.close()  # reopen next time: the connection may be broken, or the file replaced
            raise

    def _connection(self) -> aibridge.Database:
        if self.is_postgres:
            if self._db is None:
                db = open_for_writing(self.database, create=False)
                # A row another session holds (one cut off mid-write, until the server ends it) is a store that
                # is away for now, not a reason to stop recording: give up the batch, keep it, try again.
                db.execute(f"SET lock_timeout = {int(self.busy_timeout_ms)}")
                self._db = db
            return self._db
        identity = _identity(self.database)
        if self._db is not None and identity != self._identity:
            self.close()
        if self._db is None:
            db = open_for_writing(self.database, create=False)
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            self._db, self._identity = db, _identity(self.database)
        return self._db


def _identity(path: Path) -> tuple[int, int]:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        raise StoreMissing(f"the database {path} is missing") from None
    return found.st_dev, found.st_ino
