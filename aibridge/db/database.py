"""One connection to the gateway's database, SQLite or PostgreSQL, and the few ways the two differ.

SQL is written once, in the subset both take, with SQLite's placeholders
(``?`` and ``:name``); on PostgreSQL they are turned into psycopg's. Rows come
back as dicts. What differs is named here: how a transaction starts, an
auto-numbered key, the larger of several values, the order rows were added in,
which errors mean "these rows are refused" rather than "the store is away",
and a lock that only one gateway instance holds at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from .sql import to_pyformat

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
POSTGRES_SCHEMES = ("postgres", "postgresql")
COPY_AT_LEAST = 100  # rows of one insert_rows() that go through COPY on PostgreSQL (fewer: one pipeline of INSERTs)
VALUES_PER_STATEMENT = 200  # rows of one multi-row INSERT on SQLite


def is_postgres(target: str | Path | None) -> bool:
    """Whether ``target`` (a path or a URL) names a PostgreSQL database."""
    return isinstance(target, str) and urlsplit(target).scheme in POSTGRES_SCHEMES


def display_target(target: str | Path) -> str:
    """The target as it may be shown: a URL without its password."""
    if not is_postgres(target):
        return str(target)
    parts = urlsplit(str(target))
    if parts.password is None:
        return str(target)
    netloc = parts.netloc.rsplit("@", 1)
    credentials = netloc[0].split(":", 1)[0] + ":***"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{netloc[1]}"))


def lock_key(name: str) -> int:
    """The 64-bit advisory lock key of a name (the same in every gateway process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Database:
    """A connection to SQLite or PostgreSQL with one way to run SQL on either (``aibridge.open_database``).

    ``conn`` is the driver's own connection (``sqlite3`` or ``psycopg``), for
    what this class does not cover.
    """

    def __init__(self, conn, dialect: str, target: str | Path):
        self.conn = conn
        self.dialect = dialect
        self.target = target
        self._sqlite_utils = None

    @property
    def is_postgres(self) -> bool:
        return self.dialect == POSTGRESQL

    @staticmethod
    def is_postgres_url(target: str | Path | None) -> bool:
        """Whether ``target`` (a SQLite path or a URL) names a PostgreSQL database."""
        return is_postgres(target)

    def __repr__(self) -> str:
        return f"<Database {self.dialect} {display_target(self.target)}>"

    # Running SQL

    def execute(self, sql: str, params: Iterable | dict = ()):
        """Run one statement; the cursor's rows are dicts."""
        if self.is_postgres:
            return self.conn.execute(to_pyformat(sql), params)
        cursor = self.conn.cursor()
        cursor.row_factory = _dict_row
        return cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable) -> int:
        """Run one statement for each set of parameters (psycopg sends them in one pipeline); rows changed."""
        if self.is_postgres:
            with self.conn.cursor() as cursor:
                cursor.executemany(to_pyformat(sql), rows)
                return cursor.rowcount
        return self.conn.executemany(sql, rows).rowcount

    def insert_values(self, insert: str, width: int, rows: list[Sequence], tail: str = "") -> None:
        """``{insert} VALUES (...) {tail}`` for each row of ``width`` values.

        SQLite gets multi-row VALUES, a few hundred rows a statement: executemany() takes the GIL back after
        every row, which a busy request thread then waits for; PostgreSQL gets one pipeline of statements.
        """
        marks = "(" + ", ".join("?" for _ in range(width)) + ")"
        if self.is_postgres:
            self.executemany(f"{insert} VALUES {marks} {tail}", rows)
            return
        per_statement = max(1, min(VALUES_PER_STATEMENT, self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            values = ", ".join(marks for _ in chunk)
            self.conn.execute(f"{insert} VALUES {values} {tail}", [value for row in chunk for value in row])

    def insert_rows(self, table: str, columns: Sequence[str], rows: list[Sequence], skip_duplicates_of: str) -> None:
        """Insert rows (value lists in the order of ``columns``), skipping those whose ``skip_duplicates_of``
        (a unique column) is there already.

        On PostgreSQL, a large batch goes through COPY into a temporary table and one INSERT ... SELECT: about
        twice as fast as one INSERT per row, even pipelined. Call it inside a transaction.
        """
        names = ", ".join(columns)
        conflict = f"ON CONFLICT ({skip_duplicates_of}) DO NOTHING"
        if not self.is_postgres or len(rows) < COPY_AT_LEAST:
            self.insert_values(f"INSERT INTO {table} ({names})", len(columns), rows, conflict)
            return
        staging = f"_staging_{table}_{hashlib.sha256(names.encode()).hexdigest()[:8]}"
        # Made by the first batch on this connection (made again if that transaction was rolled back).
        self.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {names} FROM {table} WITH NO DATA")
        with self.conn.cursor() as cursor:
            with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        self.conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} {conflict}")
        self.conn.execute(f"DELETE FROM {staging}")

    def query(self, sql: str, params: Iterable | dict = ()) -> list[dict[str, Any]]:
        return self.execute(sql, params).fetchall()

    def value(self, sql: str, params: Iterable | dict = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.execute(sql, params).fetchone()
        return next(iter(row.values())) if row else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """One transaction, committed at the end of the block, rolled back on any error.

        On SQLite it takes the write lock at once (``BEGIN IMMEDIATE``): a
        transaction that reads then writes never fails half-way for a lock.
        """
        if self.is_postgres:
            with self.conn.transaction():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Database]:
        """Several reads of one consistent state of the database (nothing is written)."""
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" if self.is_postgres else "BEGIN"
        self.conn.execute(begin)
        try:
            yield self
        finally:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a broken connection is closed anyway
            self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # What differs between the two

    @property
    def serial_key(self) -> str:
        """The column definition of an auto-numbered integer primary key."""
        return "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" if self.is_postgres else "INTEGER PRIMARY KEY"

    @property
    def text(self) -> str:
        """The type of a text column: compared and sorted byte by byte on both (PostgreSQL's "C" collation)."""
        return 'TEXT COLLATE "C"' if self.is_postgres else "TEXT"

    def greatest(self, *expressions: str) -> str:
        """SQL for the largest of several values."""
        return f"{'greatest' if self.is_postgres else 'max'}({', '.join(expressions)})"

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Whether this process holds the lock ``name`` for the block: False while another instance holds it.

        On PostgreSQL a session advisory lock, shared by every gateway instance
        on the database; on SQLite always True (its own write lock serialises
        writers, and its processes share one host).
        """
        if not self.is_postgres:
            yield True
            return
        key = lock_key(name)
        held = self.value("SELECT pg_try_advisory_lock(?) AS held", [key])
        try:
            yield bool(held)
        finally:
            if held:
                with contextlib.suppress(Exception):  # a lost connection lets go of it anyway
                    self.execute("SELECT pg_advisory_unlock(?)", [key])

    def try_lock_for_transaction(self, name: str) -> bool:
        """Take the lock ``name`` until the transaction ends, unless another instance holds it (then False).

        On SQLite always True: the transaction holds SQLite's write lock already.
        """
        if not self.is_postgres:
            return True
        return bool(self.value("SELECT pg_try_advisory_xact_lock(?) AS held", [lock_key(name)]))

    def lock_for_transaction(self, name: str) -> None:
        """Wait for the lock ``name`` until the transaction ends (PostgreSQL; SQLite's write lock is held already)."""
        if self.is_postgres:
            self.execute("SELECT pg_advisory_xact_lock(?)", [lock_key(name)])

    # The schema

    def table_names(self) -> list[str]:
        if self.is_postgres:
            sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        return [row["name"] for row in self.query(sql)]

    def has_table(self, name: str) -> bool:
        return name in self.table_names()

    def columns(self, table: str) -> list[str]:
        if self.is_postgres:
            rows = self.query("SELECT column_name AS name FROM information_schema.columns "
                              "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                              [table])
        else:
            rows = self.query("SELECT name FROM pragma_table_info(?)", [table])
        return [row["name"] for row in rows]

    @property
    def sqlite_utils(self):
        """The sqlite_utils view of a SQLite connection (for migrations written with it)."""
        if self.is_postgres:
            raise TypeError("sqlite_utils works on SQLite only")
        if self._sqlite_utils is None:
            import sqlite_utils

            self._sqlite_utils = sqlite_utils.Database(self.conn)
        return self._sqlite_utils

    @staticmethod
    def refuses(error: BaseException) -> bool:
        """The database refuses these rows (a constraint, a value it cannot hold): writing them again will not help.

        Every other error (locked, full, unreachable, read-only, missing) is
        about the store, not the rows: the same write can succeed once it is back.
        """
        if isinstance(error, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError)):
            return True
        if isinstance(error, sqlite3.ProgrammingError):
            return "binding" in str(error).lower()
        psycopg = sys.modules.get("psycopg")  # never imported by a gateway that does not use PostgreSQL
        return psycopg is not None and isinstance(error, (psycopg.IntegrityError, psycopg.DataError))

    @staticmethod
    def errors() -> tuple[type[BaseException], ...]:
        """The exception types of both drivers (psycopg's once it is in use)."""
        psycopg = sys.modules.get("psycopg")
        return (sqlite3.Error,) + ((psycopg.Error,) if psycopg is not None else ())


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict:
    return {column[0]: value for column, value in zip(cursor.description, row)}
