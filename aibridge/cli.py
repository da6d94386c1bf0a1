"""The ``aibridge`` command: server, users, tokens, plugins (and commands plugins add)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Mapping

import click

from . import __version__
from .config import ConfigError
from .config.durations import parse_duration
from .config.loader import load_config, resolve
from .config.options import OPTIONS, Option, Spelling, option
from .config.yamlfile import YamlSettings, read_yaml_settings
from .output import Column, Listing, format_option, when
from .users import ROLES, UserError, UserStore

COMMON = ("data-dir", "config")  # the options every command that reads the database takes


class AibridgeGroup(click.Group):
    """Turns configuration and user errors into one line on stderr and an exit status."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            fail(str(error), 2)
        except UserError as error:
            fail(str(error), 1)


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
    """Decorate a plugin's command with the gateway's own options of these names (default: data-dir, config).

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


@click.command()
@with_options([opt.name for opt in OPTIONS])
def server(**flags):
    """Run the gateway (listens on --http-address)."""
    from .logs import setup_logging
    from .server import serve

    config = load_config(flags)
    setup_logging(config)
    sys.exit(serve(config, lambda: load_config(flags)))


@click.group()
def users():
    """Manage the people who may use the gateway."""


@users.command("create")
@click.argument("username")
@click.option("--email", default="", help="Email address.")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True,
              help="owner sees everyone's interceptions; member only their own.")  # fmt: skip
@with_options(COMMON)
def users_create(username, email, role, **flags):
    """Add a user."""
    user = user_store(flags).create_user(username, email=email, role=role)
    click.echo(f"created {user.role} {user.username} (id {user.id})")


@users.command("list")
@format_option("jsonl: one user per line; csv: one row each.")
@with_options(COMMON)
def users_list(fmt, **flags):
    """List users."""
    listing = Listing(fmt, USER_COLUMNS)
    listing.add(user_json(user) for user in user_store(flags).list_users())
    listing.finish()


USER_COLUMNS = (Column("USERNAME", "username"), Column("EMAIL", "email"), Column("ROLE", "role"),
                Column("STATUS", "status"), Column("CREATED", lambda u: when(u["created_at"])), Column("ID", "id"))


def user_json(user) -> dict:
    return {"id": user.id, "username": user.username, "email": user.email, "role": user.role,
            "status": user.status, "created_at": user.created_at.isoformat()}


@users.command("suspend")
@click.argument("username")
@with_options(COMMON)
def users_suspend(username, **flags):
    """Suspend a user: their tokens stop working."""
    user_store(flags).suspend_user(username)
    click.echo(f"suspended {username}")


@users.command("activate")
@click.argument("username")
@with_options(COMMON)
def users_activate(username, **flags):
    """Lift a user's suspension."""
    user_store(flags).activate_user(username)
    click.echo(f"activated {username}")


@click.group()
def tokens():
    """Manage gateway tokens."""


@tokens.command("create")
@click.argument("username")
@click.option("--lifetime", type=DurationType(), default="30d", show_default=True,
              help="How long the token works, e.g. 90d, 2w, 12h; 0 never expires.")  # fmt: skip
@click.option("--name", "label", default="", help="A label to recognise the token by.")
@with_options(COMMON)
def tokens_create(username, lifetime, label, **flags):
    """Issue a token for USERNAME and print it (only the token, on stdout)."""
    token_id, token = user_store(flags).create_token(username, lifetime=lifetime or None, label=label)
    expiry = f"expires {when(dt.datetime.now(dt.timezone.utc) + lifetime)}" if lifetime else "never expires"
    click.echo(f"created token {token_id} for {username}; it {expiry} and is shown only this once", err=True)
    click.echo(token)


@tokens.command("list")
@click.argument("username")
@format_option("jsonl: one token per line; csv: one row each.")
@with_options(COMMON)
def tokens_list(username, fmt, **flags):
    """List a user's tokens (never their secrets)."""
    listing = Listing(fmt, TOKEN_COLUMNS)
    listing.add(token_json(token) for token in user_store(flags).list_tokens(username))
    listing.finish()


TOKEN_COLUMNS = (
    Column("ID", "id"), Column("NAME", "name"), Column("STATUS", "status"),
    Column("CREATED", lambda t: when(t["created_at"])), Column("EXPIRES", lambda t: when(t["expires_at"]) or "never"),
    Column("LAST USED", lambda t: when(t["last_used_at"]) or "never"),
)


def token_json(token) -> dict:
    moments = {name: getattr(token, name) for name in ("created_at", "expires_at", "revoked_at", "last_used_at")}
    return {"id": token.id, "username": token.username, "name": token.label, "status": token.status(),
            **{name: moment.isoformat() if moment else None for name, moment in moments.items()}}


@tokens.command("revoke")
@click.argument("token_id")
@with_options(COMMON)
def tokens_revoke(token_id, **flags):
    """Revoke a token by its ID (see `tokens list`)."""
    token = user_store(flags).revoke_token(token_id)
    click.echo(f"revoked token {token.id} of {token.username}")


@click.command("plugins")
@format_option("jsonl: one plugin per line; csv: one row each.")
@with_options(["aibridge-disable-plugins", *COMMON])
def plugins(fmt, **flags):
    """List the plugins and the hooks each implements."""
    from .plugins import make_plugin_manager, plugin_names

    config = load_config(flags)
    pm = make_plugin_manager(config.disable_plugins)
    listing = Listing(fmt, PLUGIN_COLUMNS, csv_row=lambda p: {**p, "hooks": " ".join(p["hooks"])})
    listing.add({"name": name, "enabled": True, "hooks": hook_names(pm, name)} for name in plugin_names(pm))
    listing.add({"name": name, "enabled": False, "hooks": []} for name in config.disable_plugins)
    listing.finish()


PLUGIN_COLUMNS = (Column("PLUGIN", "name"), Column("HOOKS", lambda p: p["hooks"] if p["enabled"] else "(disabled)"))


def hook_names(pm, plugin_name: str) -> list[str]:
    """The hooks a registered plugin implements, sorted."""
    return sorted(caller.name for caller in pm.get_hookcallers(pm.get_plugin(plugin_name)) or ())


def user_store(flags: Mapping) -> UserStore:
    """The user store of the configured data directory."""
    from .db import open_database

    config = load_config(flags)
    return UserStore(open_database(config.database_path))


def build_cli(environ: Mapping[str, str] = os.environ) -> click.Group:
    """The ``aibridge`` group with its commands and those of the enabled plugins."""
    from .plugins import make_plugin_manager

    @click.group(cls=AibridgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="aibridge")
    def cli():
        """A self-hosted AI gateway that relays and records AI coding traffic."""

    for command in (server, users, tokens, plugins):
        cli.add_command(command)
    make_plugin_manager(disabled_plugins(environ)).hook.aibridge_commands(cli=cli)
    return cli


def disabled_plugins(environ: Mapping[str, str]) -> tuple[str, ...]:
    """CODER_AI_GATEWAY_DISABLE_PLUGINS (or its old name, or its YAML key in CODER_CONFIG_PATH), before flags are parsed."""
    config_file = resolve(option("config"), {}, environ, YamlSettings())
    yaml = read_yaml_settings(config_file.value, config_file.source) if config_file.value else YamlSettings()
    return resolve(option("aibridge-disable-plugins"), {}, environ, yaml).value


def main(args: list[str] | None = None) -> None:
    """Run the command line."""
    try:
        cli = build_cli()
    except ConfigError as error:
        fail(str(error), 2)
    cli.main(args=args, prog_name="aibridge")
