"""The gateway's options as click options, and the one way a command fails: shared by every command, plugins' too."""

from __future__ import annotations

import sys
from collections.abc import Mapping

import click

from ..config.durations import parse_duration
from ..config.options import Option, Spelling, option

COMMON = ("data-dir", "postgres-url", "config")  # the options every command that reads the database takes


def fail(message: str, status: int = 1) -> None:
    """Print ``aibridge: error: <message>`` on stderr and exit with ``status``."""
    click.echo(f"aibridge: error: {message}", err=True)
    sys.exit(status)


def click_options(opt: Option) -> list:
    """The click options for a table entry, one per spelling; every default is None so the loader sees what was given.

    The gateway's own options have both names: ``--ai-gateway-retention``
    carries the help, ``--aibridge-retention`` says it is the old name.
    """
    shown_default = opt.default_doc or (opt.default if opt.default else "(none)")
    preferred, *others = opt.spellings
    envs = " or ".join(spelling.env for spelling in opt.spellings)
    help_text = f"{opt.help} [env {envs}; default {shown_default}]"
    old_help = f"The old name of {preferred.flag}."
    return [_click_option(opt, preferred, help_text), *(_click_option(opt, other, old_help) for other in others)]


def _click_option(opt: Option, spelling: Spelling, help_text: str):
    if opt.kind == "bool":
        # --flag alone means true; --flag=false is accepted too, as in the documented flags.
        kind = {"is_flag": False, "flag_value": "true", "metavar": "[=true|false]"}
    else:
        kind = {"metavar": opt.kind.upper()}
    return click.option(spelling.flag, spelling.param, default=None, help=help_text, **kind)


def with_options(names):
    """Decorate a command with the table's options of these names (each under every name it has)."""

    def decorate(command):
        for name in reversed(names):
            for add_option in reversed(click_options(option(name))):
                command = add_option(command)
        return command

    return decorate


def config_options(*names: str):
    """Decorate a plugin's command with the gateway's own options of these names (default: data-dir, postgres-url, config).

    The flags, environment variables and help are those of every aibridge
    command; the command passes what it received to :func:`load_config`.
    """
    return with_options(names or COMMON)


class DurationType(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        try:
            return parse_duration(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


def with_group_flags(flags: Mapping) -> dict:
    """A command's flags, with --ai-gateway-disable-plugins (or its old name) given before the command name."""
    given = dict(flags)
    group = click.get_current_context().find_root().params
    for spelling in option("aibridge-disable-plugins").spellings:
        if given.get(spelling.param) is None and group.get(spelling.param) is not None:
            given[spelling.param] = group[spelling.param]
    return given
