"""Hooks of the audit plugin: its routes, its CLI commands, and a migrated database at startup."""

from __future__ import annotations

from aibridge import hookimpl

from ..storage import ensure_tables
from ..storage.schema import aibridge_migrations  # noqa: F401 - the record tables' hook
from .api import blueprint, database


@hookimpl
def aibridge_routes(app, config):
    app.register_blueprint(blueprint)


@hookimpl
def aibridge_startup(app, config):
    # The tables exist even when the recorder plugin is disabled, so the API answers with no rows.
    ensure_tables(config.database)
    database.set(app, config.database)


@hookimpl
def aibridge_commands(cli):
    from .cli import interceptions_group, usage_command
    from .spend import prices_missing, spend_group

    cli.add_command(interceptions_group)
    cli.add_command(usage_command)
    cli.add_command(spend_group)
    prices = cli.commands.get("prices")  # the core's price commands; the records' part is ours
    if prices is not None:
        prices.add_command(prices_missing)
