"""The SQLite database in the data directory: connection settings and the core schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from .datafiles import create_private_file

BUSY_TIMEOUT_MS = 5000

core_migrations = sqlite_utils.Migrations("aibridge-core")


@core_migrations()
def create_users_and_tokens(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            email TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            label TEXT NOT NULL DEFAULT '',
            hashed_secret TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT,
            last_used_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX api_tokens_user_id ON api_tokens(user_id)")


def open_database(path: str | Path, create: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database with WAL, a busy timeout, foreign keys and the core schema.

    Safe to call from several processes at once: the schema is migrated under
    SQLite's write lock, so only the first caller creates the tables. With
    ``create=False`` a missing database is an error (sqlite3.OperationalError)
    instead of a new, empty one.
    """
    if create:
        create_private_file(path)  # before SQLite creates it 0644: its -wal and -shm files take its mode
    target, uri = (str(path), False) if create else (Path(path).absolute().as_uri() + "?mode=rw", True)
    conn = sqlite3.connect(target, uri=uri, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, and much faster
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    migrate(db, core_migrations)
    return db


def migrate(db: sqlite_utils.Database, migrations: sqlite_utils.Migrations) -> None:
    """Apply pending migrations while holding the write lock (other processes wait, then find none)."""
    if not migrations.pending(db):
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        migrations.apply(db)
    except BaseException:
        db.rollback()
        raise
    db.commit()
