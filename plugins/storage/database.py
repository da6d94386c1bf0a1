"""Connections to the recording database: one migrated writer, many short-lived readers, and its errors."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Iterable, Iterator

import sqlite_utils

import aibridge

from .schema import migrate
from .writes import RowWrite, end_interrupted, write_rows

READ_BUSY_TIMEOUT_MS = 5000
# The recorder's writer waits at most this long for another process's transaction, then keeps its
# records for later: a long wait here is memory piling up in its queue.
WRITE_BUSY_TIMEOUT_MS = 1000


def open_for_writing(path: Path | str, create: bool = True) -> sqlite_utils.Database:
    """Open the database with WAL and a busy timeout, records tables migrated; ``create``: also when missing."""
    if create:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = aibridge.open_database(path, create=create)
    migrate(db)
    return db


def ensure_tables(path: Path | str) -> None:
    """Create or migrate the tables now, so that errors surface at startup and readers find tables."""
    open_for_writing(path).close()


def open_for_reading(path: Path | str, busy_timeout_ms: int = READ_BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A read-only connection whose rows are dicts; the database must exist."""
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.row_factory = _dict_row
    return conn


@contextlib.contextmanager
def snapshot(conn: sqlite3.Connection):
    """Run several reads against one consistent state of the database."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")


@contextlib.contextmanager
def reading(path: Path | str) -> Iterator[sqlite3.Connection]:
    """A read-only connection on one consistent state of the database, closed afterwards."""
    conn = open_for_reading(path)
    try:
        with snapshot(conn):
            yield conn
    finally:
        conn.close()


def is_refused(error: BaseException) -> bool:
    """The database refuses these rows (a constraint, a value it cannot hold): writing them again will not help.

    Every other error (locked, full, read-only, missing, I/O) is about the
    store, not the rows: the same write can succeed once the store is back.
    """
    if isinstance(error, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError)):
        return True
    return isinstance(error, sqlite3.ProgrammingError) and "binding" in str(error).lower()


class StoreMissing(OSError):
    """The database file is not at its path any more (deleted, moved away, its directory unmounted)."""


class RecordStore:
    """The recorder's connection to the records tables, opened when needed and again after an error.

    Once the gateway runs it never creates the database: one that disappears
    is an outage (records wait in the spool), not a reason to start an empty
    one. Before each write it checks that the file at the path is still the
    one it has open, so it notices a database deleted, moved away or replaced
    by a restored copy (writes to a deleted file would vanish with it).
    """

    def __init__(self, path: Path | str, busy_timeout_ms: int = WRITE_BUSY_TIMEOUT_MS):
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._db: sqlite_utils.Database | None = None
        self._identity: tuple[int, int] | None = None

    def write(self, writes: Iterable[RowWrite]) -> None:
        """Write the rows in one transaction; raises what the database said (see :func:`is_refused`)."""
        self._run(write_rows, writes)

    def end_interrupted(self, instance_ids: Iterable[str], message: str, include_unattributed: bool = False) -> int:
        """End the open interceptions of gone gateway processes ``interrupted``; how many were ended."""
        return self._run(end_interrupted, instance_ids, message, include_unattributed)

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass  # a broken connection is closed anyway
            self._db, self._identity = None, None

    def _run(self, operation, *args):
        try:
            return operation(self._connection(), *args)
        except BaseException as error:
            if not is_refused(error):
                self.close()  # reopen next time: the connection may be broken, or the file replaced
            raise

    def _connection(self) -> sqlite3.Connection:
        identity = _identity(self.path)
        if self._db is not None and identity != self._identity:
            self.close()
        if self._db is None:
            db = open_for_writing(self.path, create=False)
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            self._db, self._identity = db, _identity(self.path)
        return self._db.conn


def _identity(path: Path) -> tuple[int, int]:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        raise StoreMissing(f"the database {path} is missing") from None
    return found.st_dev, found.st_ino


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict:
    return {column[0]: value for column, value in zip(cursor.description, row)}
