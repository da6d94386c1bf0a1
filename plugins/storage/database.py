"""Connections to the recording database: one migrated writer, many short-lived readers, and its errors."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Iterator

import sqlite_utils

import aibridge

from .schema import migrate

READ_BUSY_TIMEOUT_MS = 5000


def open_for_writing(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed) the database with WAL and a busy timeout, records tables migrated."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = aibridge.open_database(path)
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


def is_busy(error: Exception) -> bool:
    """Another connection holds the lock: the same write can succeed later."""
    message = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in message or "busy" in message)


def needs_new_connection(error: Exception) -> bool:
    """A database error other than a busy lock: the connection may be broken, open a new one."""
    return isinstance(error, sqlite3.DatabaseError) and not is_busy(error)


def close_quietly(db: sqlite_utils.Database) -> None:
    """Close a connection that may already be broken."""
    try:
        db.close()
    except sqlite3.Error:
        pass


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict:
    return {column[0]: value for column, value in zip(cursor.description, row)}
