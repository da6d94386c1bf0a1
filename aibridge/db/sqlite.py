"""The SQLite database in the data directory: its connections and their settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..datafiles import create_private_file

BUSY_TIMEOUT_MS = 5000


def connect_sqlite(path: str | Path, create: bool = True) -> sqlite3.Connection:
    """A connection with WAL, a busy timeout and foreign keys; ``create=False``: a missing file is an error.

    (sqlite3.OperationalError, instead of a new, empty database.)
    """
    if create:
        create_private_file(path)  # before SQLite creates it 0644: its -wal and -shm files take its mode
    target, uri = (str(path), False) if create else (Path(path).absolute().as_uri() + "?mode=rw", True)
    conn = sqlite3.connect(target, uri=uri, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, and much faster
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def connect_sqlite_read_only(path: str | Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A read-only connection; the database must exist."""
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn
