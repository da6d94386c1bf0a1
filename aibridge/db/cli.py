"""``aibridge db status | migrate | copy``: which store, its schema, and moving a SQLite deployment to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli.options import fail, with_options
from ..config.loader import load_config
from ..cli.output import Column, Listing, format_option
from ..cli.progress import Progress, progress_option
from . import Database, core_migrations, display_target, is_postgres, migrate, open_database, read_database
from .copy import CopyRefused, copy_tables, plan_copy

STATUS_COLUMNS = (Column("SET", "set"), Column("APPLIED", lambda s: len(s["applied"])),
                  Column("LATEST", lambda s: s["applied"][-1] if s["applied"] else "-"),
                  Column("PENDING", lambda s: " ".join(s["pending"]) or "-"))
COPY_COLUMNS = (Column("TABLE", "table"), Column("ROWS", "rows"), Column("COPIED", "copied"),
                Column("NOTE", "skipped"))


# Where the database is, and which plugins' tables it has.
DATABASE_OPTIONS = ["data-dir", "postgres-url", "aibridge-disable-plugins", "config"]


@click.group("db")
def db_group():
    """The database: SQLite in the data directory, or PostgreSQL (--postgres-url)."""


@db_group.command("status")
@with_options(DATABASE_OPTIONS)
@format_option("json: with the store and the recorder's backlog; jsonl: one migration set per line; csv: one row each.")
def status_command(fmt, **flags):
    """Which store, the schema version of each migration set, pending migrations, the recorder's spool."""
    config = load_config(flags)
    if not is_postgres(config.database) and not config.database_path.exists():
        fail(f"no database at {config.database_path}: a gateway has not started with this data directory yet")
    with read_database(config.database) as db:
        sets = [{"set": migrations.name, "applied": [name for name, _ in migrations.applied(db)],
                 "pending": migrations.pending(db)} for migrations in migration_sets(config)]
        instances = _instances(db)
    about = {"store": "postgresql" if is_postgres(config.database) else "sqlite",
             "database": display_target(config.database), "spool": spool_backlog(config.spool_path)}
    if instances is not None:
        about["instances"] = instances
    listing = Listing(fmt, STATUS_COLUMNS)
    if listing.fmt == "table":
        for line in _status_lines(about):
            click.echo(line)
    listing.add(sets)
    listing.finish(about)


@db_group.command("migrate")
@with_options(DATABASE_OPTIONS)
def migrate_command(**flags):
    """Apply every pending migration now (a starting gateway does it too)."""
    config = load_config(flags)
    with open_database(config.database) as db:
        for migrations in migration_sets(config):
            applied = migrate(db, migrations)
            click.echo(f"{migrations.name}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))


@db_group.command("copy")
@with_options(DATABASE_OPTIONS)
@click.option("--to", "to_url", required=True, metavar="URL",
              help="The PostgreSQL database to copy into (postgres://user:password@host:5432/db).")
@progress_option()
@format_option("json: the tables and what was copied; jsonl: one table per line; csv: one row each.")
def copy_command(to_url, progress, fmt, **flags):
    """Copy the data directory's SQLite database (users, tokens, records, plugin tables) into PostgreSQL.

    Run it again to finish a copy that stopped, or after more was recorded:
    what is already there is not copied twice.
    """
    config = load_config(flags)
    if not is_postgres(to_url):
        fail("--to: expected a postgres:// or postgresql:// URL", 2)
    if not Path(config.database_path).exists():
        fail(f"no database at {config.database_path}: nothing to copy (check --data-dir)")
    with open_database(config.database_path, create=False) as source, open_database(to_url) as target:
        for migrations in migration_sets(config):
            migrate(source, migrations)  # the source's tables as this version has them
            migrate(target, migrations)
        plan = plan_copy(source, target)
        with Progress(f"copying to {display_target(to_url)}", total=plan.rows, unit="rows", show=progress) as shown:
            try:
                copy_tables(source, target, plan, shown.advance)
            except CopyRefused as error:
                fail(str(error))
    listing = Listing(fmt, COPY_COLUMNS)
    listing.add(vars(table) for table in plan.tables)
    listing.finish({"to": display_target(to_url)})


def migration_sets(config) -> list:
    """The core's migration sets (people and tokens, prices), then the loaded plugins' (``aibridge_migrations``)."""
    from ..cost.schema import cost_migrations
    from ..plugins import collect, load_plugins

    pm, _problems = load_plugins(config.disable_plugins)
    found = [core_migrations, cost_migrations]
    for answer in collect(pm, "aibridge_migrations"):
        found += [migrations for migrations in answer if all(migrations is not known for known in found)]
    return found


def spool_backlog(spool_dir: Path) -> dict:
    """The recorder's records waiting in spool files for the database (written by the next gateway to start)."""
    files = sorted(Path(spool_dir).glob("*.jsonl")) if Path(spool_dir).is_dir() else []
    records = 0
    for path in files:
        with open(path, "rb") as lines:
            records += sum(1 for _ in lines)
    return {"directory": str(spool_dir), "files": len(files), "records": records}


def _instances(db: Database) -> list[dict] | None:
    """PostgreSQL: the gateway instances with a heartbeat row (None on SQLite, or before any instance started)."""
    if not db.is_postgres or not db.has_table("gateway_instances"):
        return None
    return db.query("SELECT id, host, pid, started_at, "
                    "round(extract(epoch FROM clock_timestamp() - heartbeat_at)::numeric, 1)::float AS silent_for "
                    "FROM gateway_instances ORDER BY started_at, id")


def _status_lines(about: dict) -> list[str]:
    spool = about["spool"]
    lines = [f"store: {about['store']} {about['database']}",
             f"recorder backlog: {spool['records']} records in {spool['files']} spool files ({spool['directory']})"]
    for instance in about.get("instances", []):
        lines.append(f"instance {instance['id']} on {instance['host']} (pid {instance['pid']}): last heartbeat "
                     f"{instance['silent_for']}s ago")
    return lines + [""]

