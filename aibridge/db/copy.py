"""``aibridge db copy``: a SQLite deployment's users, tokens, records and plugin tables into PostgreSQL.

Every table the two databases share is copied, a chunk of rows per
transaction, each row inserted unless its primary key is there already: a
copy that stopped half-way goes on where it was when run again, and a second
copy of the same data adds nothing. Auto-numbered keys are copied as they are
and PostgreSQL's counters moved past them, so rows the gateway writes later
never collide with copied ones. To keep that true, the first copy goes only
into a database whose numbered tables are empty (a gateway that wrote there
first would have used the same numbers).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from .database import Database

CHUNK = 1000
FIRST_TABLES = ("users", "api_tokens")  # api_tokens refers to users
COPIES_TABLE = "_aibridge_copies"  # a copy started here: later ones resume it
SKIPPED_TABLES = ("_sqlite_migrations", COPIES_TABLE)


class CopyRefused(Exception):
    """The copy cannot go into this database; the message says why and what to do."""


@dataclass
class TableCopy:
    table: str
    rows: int = 0  # in the source
    copied: int = 0  # new in the target
    skipped: str = ""  # why the table was not copied


@dataclass
class CopyPlan:
    tables: list[TableCopy] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables if not table.skipped)


def plan_copy(source: Database, target: Database) -> CopyPlan:
    """Which tables are copied (those both databases have, users and tokens first) and how many rows each holds."""
    shared = set(target.table_names())
    names = [name for name in source.table_names() if not name.startswith("sqlite_") and name not in SKIPPED_TABLES]
    ordered = [name for name in FIRST_TABLES if name in names] + [name for name in names if name not in FIRST_TABLES]
    plan = CopyPlan()
    for name in ordered:
        table = TableCopy(name, source.value(f'SELECT count(*) AS n FROM "{name}"'))
        if name not in shared:
            table.skipped = "not in the target (its plugin is not installed or is disabled)"
        elif not _primary_key(target, name):
            table.skipped = "it has no primary key in the target: rows could not be copied only once"
        plan.tables.append(table)
    return plan


def copy_tables(source: Database, target: Database, plan: CopyPlan, advance: Callable[[int], None]) -> None:
    """Copy the plan's tables; ``advance`` is told how many source rows each chunk covered."""
    _check_target(target, plan)
    for table in plan.tables:
        if not table.skipped:
            _copy_table(source, target, table, advance)


def _check_target(target: Database, plan: CopyPlan) -> None:
    if target.has_table(COPIES_TABLE):
        return
    for table in plan.tables:
        if not table.skipped and _serial_column(target, table.table) and target.value(
                f'SELECT count(*) AS n FROM "{table.table}"'):
            raise CopyRefused(f"the target's table {table.table} already holds rows that no copy wrote (a gateway "
                              "used this database): copy into a new database, before any gateway uses it")
    with target.transaction():
        target.execute(f"CREATE TABLE {COPIES_TABLE} (id {target.serial_key}, started_at TEXT NOT NULL)")
        target.execute(f"INSERT INTO {COPIES_TABLE} (started_at) VALUES (?)",
                       [dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")])


def _copy_table(source: Database, target: Database, table: TableCopy, advance: Callable[[int], None]) -> None:
    target_columns = set(target.columns(table.table))
    columns = [column for column in source.columns(table.table) if column in target_columns]
    key = _primary_key(target, table.table)
    names = ", ".join(f'"{column}"' for column in columns)
    insert = (f'INSERT INTO "{table.table}" ({names}) VALUES ({", ".join("?" for _ in columns)}) '
              f'ON CONFLICT ({", ".join(key)}) DO NOTHING')
    last_rowid = 0
    while True:
        rows = source.query(f'SELECT rowid AS _rowid, {names} FROM "{table.table}" WHERE rowid > ? '
                            f"ORDER BY rowid LIMIT {CHUNK}", [last_rowid])
        if not rows:
            break
        last_rowid = rows[-1]["_rowid"]
        values = [[_storable(row[column]) for column in columns] for row in rows]
        with target.transaction():
            table.copied += target.executemany(insert, values)
        advance(len(rows))
    serial = _serial_column(target, table.table)
    if serial:  # the gateway's next numbers come after the copied ones
        target.execute(f"SELECT setval(pg_get_serial_sequence('\"{table.table}\"', '{serial}'), "
                       f'greatest((SELECT max("{serial}") FROM "{table.table}"), 1))')


def _primary_key(db: Database, table: str) -> list[str]:
    rows = db.query("SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a "
                    "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                    "WHERE i.indrelid = to_regclass(?) AND i.indisprimary ORDER BY a.attnum", [f'"{table}"'])
    return [f'"{row["name"]}"' for row in rows]


def _serial_column(db: Database, table: str) -> str | None:
    """The table's auto-numbered column in PostgreSQL, if it has one."""
    return db.value("SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = ? AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') "
                    "ORDER BY ordinal_position LIMIT 1", [table])


def _storable(value):
    """PostgreSQL's text cannot hold NUL (SQLite's can): each becomes U+FFFD."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value
