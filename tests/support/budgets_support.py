"""Helpers for the budgets tests: the ``aibridge groups`` / ``budgets`` commands on a gateway's database, and
waiting for a gateway's budgets to be read again from the store."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from aibridge.cli import build_cli

KEEPER = "aibridge.budgets"  # the budgets plugin's PluginState name (app.extensions key)


def store_flags(config) -> list[str]:
    """The command-line flags naming the database of a gateway's config."""
    if config.postgres_url:
        return ["--postgres-url", config.postgres_url]
    return ["--data-dir", str(config.data_dir)]


def run_cli(config, *args: str, expect: int = 0) -> str:
    """Run ``aibridge <args>`` on the database of ``config`` (a Config, or the flags naming a database);
    its output (stdout and stderr)."""
    flags = config if isinstance(config, list) else store_flags(config)
    result = CliRunner().invoke(build_cli({}), [*args, *flags], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.output


def budgets_json(config) -> dict[str, dict]:
    """``aibridge budgets list --format json``, by username."""
    return {row["username"]: row for row in json.loads(run_cli(config, "budgets", "list", "--format", "json"))}


def keeper(gateway):
    """The budgets plugin's state in an in-process gateway (its refresh thread, its spend in memory)."""
    return gateway.app.extensions[KEEPER]


def refreshed(gateway, timeout: float = 10.0) -> None:
    """Wait until the gateway read budgets and spend from the store after this call (a whole refresh)."""
    running = keeper(gateway)
    target = running.refreshes + 2  # the one in progress may have read before the call: the next one did not
    deadline = time.monotonic() + timeout
    while running.refreshes < target:
        assert time.monotonic() < deadline, "the budgets were not refreshed in time"
        running.refresh_soon()
        time.sleep(0.01)
