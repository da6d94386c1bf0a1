"""Hooks of the retention plugin: the background purge job and ``aibridge retention purge``."""

from __future__ import annotations

import logging

from aibridge import PluginState, hookimpl

from ..storage.schema import aibridge_migrations  # noqa: F401 - the record tables' hook
from .job import RetentionJob

log = logging.getLogger("aibridge.retention")

purge_job = PluginState("aibridge.retention")  # only when retention is on


@hookimpl
def aibridge_startup(app, config):
    if not config.retention:
        log.info("retention is 0: recorded interceptions are kept forever")
        return
    job = RetentionJob(config.database, config.retention)
    job.start()
    purge_job.set(app, job)


@hookimpl
def aibridge_shutdown(app):
    job = purge_job.get(app)
    if job is not None:
        job.stop()


@hookimpl
def aibridge_commands(cli):
    from .cli import retention_group

    cli.add_command(retention_group)
