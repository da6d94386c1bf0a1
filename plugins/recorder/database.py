"""Connections to the recording database: one migrated writer, many short-lived readers."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import sqlite_utils

from aibridge.db import open_database

from .schema import migrate

READ_BUSY_TIMEOUT_MS = 5000


def open_for_writing(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed) the database with WAL and a busy timeout, recorder tables migrated."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = open_database(path)
    migrate(db)
    return db


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


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict:
    return {column[0]: value for column, value in zip(cursor.description, row)}
