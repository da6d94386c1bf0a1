"""Migration sets: the core's, the record tables', and any plugin's, on SQLite or PostgreSQL.

A set is a name and its migrations in order; each runs once per database.
On SQLite they are applied as they always were: sqlite_utils keeps the record
of each in ``_sqlite_migrations``, and the whole set runs under SQLite's write
lock. On PostgreSQL the record is ``_aibridge_migrations`` and the set runs in
one transaction under an advisory lock: of ten instances starting at once,
the first applies what is pending and the nine others then find nothing left.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Sequence

import sqlite_utils

from .database import Database

POSTGRES_TABLE = "_aibridge_migrations"
SQLITE_TABLE = sqlite_utils.Migrations.migrations_table  # "_sqlite_migrations"
LOCK_NAME = "aibridge-migrations"


@dataclass(frozen=True)
class Migration:
    name: str
    function: Callable  # function(db: aibridge.Database); or, with ``postgres`` given, function(sqlite_utils.Database)
    postgres: Sequence[str] | None = None  # statements for PostgreSQL, when the function is SQLite's own


class Migrations:
    """A named set of migrations (``aibridge.Migrations("my-plugin")``), applied by :func:`aibridge.migrate`.

    Each migration is a function of an :class:`aibridge.Database`, written in
    SQL both databases take (``db.serial_key``, ``db.text`` and ``db.is_postgres``
    for the rest)::

        @migrations()
        def m001_create_budgets(db):
            db.execute(f"CREATE TABLE budgets (id {db.serial_key}, user_id TEXT NOT NULL, usd_cents INTEGER)")

    A migration that shipped as a sqlite_utils function keeps its function for
    SQLite and gives PostgreSQL its statements: ``@migrations(postgres=[...])``.
    """

    def __init__(self, name: str):
        self.name = name
        self.migrations: list[Migration] = []
        self._as_sqlite_utils: sqlite_utils.Migrations | None = None

    def __call__(self, *, name: str | None = None, postgres: Sequence[str] | None = None):
        def register(function):
            migration = Migration(name or function.__name__, function, postgres)
            if any(known.name == migration.name for known in self.migrations):
                raise ValueError(f"migration {migration.name!r} is already in set {self.name!r}")
            self.migrations.append(migration)
            return function

        return register

    @property
    def names(self) -> list[str]:
        return [migration.name for migration in self.migrations]

    def applied(self, db: Database) -> list[tuple[str, str]]:
        """(name, when) of the migrations of this set the database has, in the order they were applied."""
        if db.is_postgres:
            if db.value("SELECT to_regclass(?) IS NOT NULL AS present", [POSTGRES_TABLE]) is not True:
                return []
            rows = db.query(f"SELECT name, applied_at FROM {POSTGRES_TABLE} WHERE migration_set = ? ORDER BY id",
                            [self.name])
            return [(row["name"], row["applied_at"]) for row in rows]
        return [(m.name, m.applied_at) for m in self.sqlite_utils().applied(db.sqlite_utils)]

    def pending(self, db: Database) -> list[str]:
        """The names of the migrations the database lacks, in the order they would run."""
        done = {name for name, _ in self.applied(db)}
        return [name for name in self.names if name not in done]

    def sqlite_utils(self) -> sqlite_utils.Migrations:
        """The same set as sqlite_utils runs it on SQLite (same name, same record table)."""
        if self._as_sqlite_utils is None:
            converted = sqlite_utils.Migrations(self.name)
            for migration in self.migrations:
                converted(name=migration.name)(_on_sqlite(migration))
            self._as_sqlite_utils = converted
        return self._as_sqlite_utils

    def __repr__(self) -> str:
        return f"<Migrations {self.name!r}: {', '.join(self.names)}>"


def _on_sqlite(migration: Migration):
    def run(sqlite_db: sqlite_utils.Database) -> None:
        if migration.postgres is not None:
            migration.function(sqlite_db)  # shipped as a sqlite_utils function: run it as it shipped
        else:
            migration.function(Database(sqlite_db.conn, "sqlite", ""))

    run.__name__ = migration.name
    return run


def migrate(db: Database, migrations: Migrations | sqlite_utils.Migrations) -> list[str]:
    """Apply the set's pending migrations; safe when several processes start on one database at once.

    Returns the names applied (none when another process did it first). A
    ``sqlite_utils.Migrations`` set (plugins written before PostgreSQL) runs on
    SQLite only.
    """
    if isinstance(migrations, sqlite_utils.Migrations):
        if db.is_postgres:
            raise TypeError(f"migration set {migrations.name!r} is written for SQLite only (sqlite_utils.Migrations):"
                            " write it with aibridge.Migrations to keep its tables in PostgreSQL")
        return _migrate_sqlite(db, migrations)
    if not db.is_postgres:
        return _migrate_sqlite(db, migrations.sqlite_utils())
    if not migrations.pending(db):
        return []
    with db.transaction():
        db.lock_for_transaction(LOCK_NAME)
        db.execute(f"CREATE TABLE IF NOT EXISTS {POSTGRES_TABLE} (id {db.serial_key}, migration_set TEXT NOT NULL, "
                   "name TEXT NOT NULL, applied_at TEXT NOT NULL, UNIQUE (migration_set, name))")
        pending = migrations.pending(db)  # again, under the lock: another instance may have applied them
        for migration in migrations.migrations:
            if migration.name not in pending:
                continue
            if migration.postgres is not None:
                for statement in migration.postgres:
                    db.execute(statement)
            else:
                migration.function(db)
            db.execute(f"INSERT INTO {POSTGRES_TABLE} (migration_set, name, applied_at) VALUES (?, ?, ?)",
                       [migrations.name, migration.name, str(dt.datetime.now(dt.timezone.utc))])
    return pending


def _migrate_sqlite(db: Database, migrations: sqlite_utils.Migrations) -> list[str]:
    """Apply pending migrations while holding the write lock (other processes wait, then find none)."""
    sqlite_db = db.sqlite_utils
    if not migrations.pending(sqlite_db):
        return []
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        pending = [migration.name for migration in migrations.pending(sqlite_db)]
        migrations.apply(sqlite_db)
    except BaseException:
        sqlite_db.rollback()
        raise
    sqlite_db.commit()
    return pending
