"""Hooks of the audit plugin: its routes, its CLI commands, and a migrated database at startup."""

from __future__ import annotations

from aibridge import hookimpl

from ..recorder.database import open_for_writing
from .api import EXTENSION, blueprint


@hookimpl
def aibridge_routes(app, config):
    app.register_blueprint(blueprint)


@hookimpl
def aibridge_startup(app, config):
    # The tables exist even when the recorder plugin is disabled, so the API answers with no rows.
    open_for_writing(config.database_path).close()
    app.extensions[EXTENSION] = config.database_path


@hookimpl
def aibridge_commands(cli):
    from .cli import interceptions_group, usage_command

    cli.add_command(interceptions_group)
    cli.add_command(usage_command)
