"""The ``aibridge`` command: server, users, tokens, plugins, providers, db (and the commands plugins add)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import click

from .. import __version__
from ..config import ConfigError
from ..config.loader import Setting, resolve
from ..config.options import option
from ..config.yamlfile import YamlSettings, read_yaml_settings
from ..people.users import UserError
from .options import fail, with_options


class AibridgeGroup(click.Group):
    """Turns configuration and user errors into one line on stderr and an exit status."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            fail(str(error), 2)
        except UserError as error:
            fail(str(error), 1)


def build_cli(environ: Mapping[str, str] = os.environ, disabled: tuple[str, ...] | None = None) -> click.Group:
    """The ``aibridge`` group with its commands and those of the plugins that load.

    ``disabled``: the plugins not to load (default: CODER_AIBRIDGE_DISABLE_PLUGINS
    or its YAML key). The plugins left out, and why, are in ``plugin_problems``.
    """
    from ..plugins import add_commands, load_plugins

    @click.group(cls=AibridgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="aibridge")
    @with_options(["aibridge-disable-plugins"])
    def cli(**disable_plugins):
        """A self-hosted AI gateway that relays and records AI coding traffic."""

    from ..cost.cli import prices_group
    from ..db.cli import db_group
    from .people import tokens, users
    from .plugins import plugins
    from .providers import providers
    from .server import server

    for command in (server, users, tokens, plugins, providers, db_group, prices_group):
        cli.add_command(command)
    pm, problems = load_plugins(disabled_plugins(environ) if disabled is None else disabled)
    cli.plugin_problems = problems + add_commands(pm, cli)
    return cli


def disabled_plugins(environ: Mapping[str, str], given: tuple[str, str] | None = None) -> tuple[str, ...]:
    """The plugins not to load, before click runs: ``given`` is (flag, value) from the command line, else
    CODER_AI_GATEWAY_DISABLE_PLUGINS (or its old name) or the YAML key."""
    config_file = resolve(option("config"), {}, environ, YamlSettings())
    yaml = read_yaml_settings(config_file.value, config_file.source) if config_file.value else YamlSettings()
    opt = option("aibridge-disable-plugins")
    flags = {} if given is None else {opt.name: Setting(given[1], given[0])}
    return resolve(opt, flags, environ, yaml).value


def scan_args(args: list[str]) -> tuple[str | None, tuple[str, str] | None]:
    """(the command's name, (flag, value) of --ai-gateway-disable-plugins or its old name) as given."""
    flags = {spelling.flag for spelling in option("aibridge-disable-plugins").spellings}
    command, given, index = None, None, 0
    while index < len(args) and args[index] != "--":
        arg = args[index]
        name, has_value, value = arg.partition("=")
        if name in flags and (has_value or index + 1 < len(args)):
            given = (name, value) if has_value else (name, args[index + 1])
            index += 1 if has_value else 2
            continue
        if command is None and not arg.startswith("-"):
            command = arg
        index += 1
    return command, given


def main(args: list[str] | None = None) -> None:
    """Run the command line; a broken plugin is a warning here, and the server's refusal to start."""
    args = sys.argv[1:] if args is None else list(args)
    command, given = scan_args(args)
    try:
        disabled = disabled_plugins(os.environ, given)
        cli = build_cli(disabled=disabled)
    except ConfigError as error:
        fail(str(error), 2)
    if command != "server":  # the server says it in its own one-line refusal
        for problem in cli.plugin_problems:
            click.echo(f"aibridge: warning: {problem.message(disabled)}", err=True)
    cli.main(args=args, prog_name="aibridge")
