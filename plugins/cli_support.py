"""What the built-in plugins' CLI commands share: where the configuration and database are."""

from __future__ import annotations

import click

from aibridge.config import ConfigError


def config_options(command):
    """Add ``--data-dir`` and ``--config``, read like every other aibridge command reads them."""
    command = click.option("--config", "config_path", metavar="PATH", default=None,
                           help="YAML file with more settings [env CODER_CONFIG_PATH; default (none)].")(command)
    command = click.option("--data-dir", metavar="PATH", default=None,
                           help="Directory of the SQLite database [env CODER_DATA_DIR; "
                                "default $XDG_DATA_HOME/aibridge, else ~/.local/share/aibridge].")(command)
    return command


def load_config(data_dir: str | None, config_path: str | None, more: dict | None = None):
    """The validated configuration; a configuration error ends the command with status 2.

    ``more`` holds other flags the command takes, by option name (None: not given).
    """
    from aibridge.config.loader import load_config as load

    try:
        return load({"data-dir": data_dir, "config": config_path, **(more or {})})
    except ConfigError as error:
        fail(str(error), status=2)


def fail(message: str, status: int = 1):
    """Print ``aibridge: error: <message>`` on stderr and exit with ``status``."""
    click.echo(f"aibridge: error: {message}", err=True)
    raise SystemExit(status)
