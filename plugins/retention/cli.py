"""``aibridge retention purge [--dry-run]``: the background purge, once, now."""

from __future__ import annotations

import click

from ..cli_support import config_options, load_config
from ..recorder.database import open_for_writing
from .job import utcnow
from .purge import count_expired, cutoff_for, purge


@click.group("retention")
def retention_group():
    """Recorded interceptions past the retention period."""


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@click.option("--aibridge-retention", "retention", metavar="DURATION", default=None,
              help="Keep records this long (e.g. 90d, 2w, 720h) [env: CODER_AIBRIDGE_RETENTION; default 60d].")
@config_options
def purge_command(dry_run, retention, data_dir, config_path):
    """Delete interceptions that ended before now minus the retention period, with their records."""
    config = load_config(data_dir, config_path, {"aibridge-retention": retention})
    if not config.retention:
        click.echo("retention is 0: recorded interceptions are kept forever, nothing to purge")
        return
    if not config.database_path.exists():
        click.echo(f"no database at {config.database_path}: nothing to purge")
        return
    db = open_for_writing(config.database_path)
    try:
        cutoff = cutoff_for(utcnow(), config.retention)
        if dry_run:
            click.echo(f"would remove {count_expired(db.conn, cutoff).describe()}")
        else:
            click.echo(f"removed {purge(db.conn, cutoff).describe()}")
    finally:
        db.close()
