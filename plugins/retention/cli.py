"""``aibridge retention purge [--dry-run]``: the background purge, once, now."""

from __future__ import annotations

import click

import aibridge

from ..storage import count_expired, count_expired_interceptions, is_postgres, open_for_writing, purge
from .job import cutoff_for, utcnow


@click.group("retention")
def retention_group():
    """Recorded interceptions past the retention period."""


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@aibridge.progress_option()
@aibridge.config_options("aibridge-retention", "data-dir", "postgres-url", "config")
def purge_command(dry_run, progress, **flags):
    """Delete interceptions that ended before now minus the retention period, with their records."""
    config = aibridge.load_config(flags)
    if not config.retention:
        click.echo("retention is 0: recorded interceptions are kept forever, nothing to purge")
        return
    if not is_postgres(config.database) and not config.database_path.exists():
        click.echo(f"no database at {config.database_path}: nothing to purge")
        return
    db = open_for_writing(config.database)
    try:
        cutoff = cutoff_for(utcnow(), config.retention)
        if dry_run:
            click.echo(f"would remove {count_expired(db, cutoff).describe()}")
        else:
            total = count_expired_interceptions(db, cutoff)
            with aibridge.Progress("purging", total=total, unit="interceptions", show=progress) as shown:
                result = purge(db, cutoff, removed=shown.advance)
            click.echo(f"removed {result.describe()}")
    finally:
        db.close()
