"""The gateway's database: SQLite in the data directory by default, PostgreSQL with ``--postgres-url``.

:class:`Database` is one connection to either; :func:`open_database` opens one
(with the core's tables migrated), :func:`read_database` gives a consistent
read-only view for a request or a command, :class:`Migrations` and
:func:`migrate` keep the core's and each plugin's tables up to date on both.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from ..threads import gevent_patched, on_started_thread
from .core_schema import core_migrations
from .database import Database, display_target, is_postgres
from .migrations import Migrations, migrate

__all__ = ["Database", "Migrations", "core_migrations", "display_target", "is_postgres", "migrate",
           "open_database", "read_database"]


def open_database(target: str | Path, create: bool = True) -> Database:
    """A new connection to the database at ``target`` (a SQLite path or a ``postgresql://`` URL), core tables migrated.

    Safe to call from several processes at once: only the first one creates
    the tables. With ``create=False`` a missing SQLite file is an error
    (sqlite3.OperationalError) instead of a new, empty database. The caller
    closes it (``db.close()``, or ``with open_database(...) as db``).
    """
    db = _connect(target, create)
    try:
        migrate(db, core_migrations)
    except BaseException:
        db.close()
        raise
    return db


@contextlib.contextmanager
def read_database(target: str | Path) -> Iterator[Database]:
    """One consistent, read-only state of the database, for the duration of the block.

    On PostgreSQL under gevent (a serving gateway), in a greenlet, the connection
    comes from a small pool and every wait lets other greenlets run; elsewhere,
    and on the real OS threads of ``start_thread`` (the pool's locks and waits
    are gevent's, made for the hub's greenlets: from OS threads it stalls), it is
    a new connection, closed afterwards. The SQLite database must exist.
    """
    if is_postgres(target):
        if gevent_patched() and not on_started_thread():
            from .postgres import pooled_connection

            with pooled_connection(str(target)) as conn:
                with Database(conn, "postgresql", target).snapshot() as db:
                    yield db
            return
        from .postgres import connect_postgres

        conn = connect_postgres(str(target))
    else:
        from .sqlite import connect_sqlite_read_only

        conn = connect_sqlite_read_only(target)
    db = Database(conn, "postgresql" if is_postgres(target) else "sqlite", target)
    try:
        with db.snapshot():
            yield db
    finally:
        db.close()


def _connect(target: str | Path, create: bool) -> Database:
    if is_postgres(target):
        from .postgres import connect_postgres

        return Database(connect_postgres(str(target)), "postgresql", target)
    from .sqlite import connect_sqlite

    return Database(connect_sqlite(target, create), "sqlite", target)
