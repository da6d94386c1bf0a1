"""The ``aibridge`` command: server, users, tokens, plugins (and commands plugins add)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Mapping

import click

from . import __version__
from .config import ConfigError
from .config.durations import parse_duration
from .config.loader import Setting, load_config, resolve
from .config.options import OPTIONS, Option, Spelling, option
from .config.yamlfile import YamlSettings, read_yaml_settings
from .output import Column, Listing, format_option, when
from .users import ROLES, UserError, UserStore

COMMON = ("data-dir", "postgres-url", "config")  # the options every command that reads the database takes


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


@click.command()
@with_options([opt.name for opt in OPTIONS])
def server(**flags):
    """Run the gateway (listens on --http-address)."""
    from .logs import setup_logging
    from .server import serve

    config = load_config(with_group_flags(flags))
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
    from .plugins import load_plugins, plugin_names

    config = load_config(with_group_flags(flags))
    pm, problems = load_plugins(config.disable_plugins)
    listing = Listing(fmt, PLUGIN_COLUMNS, csv_row=lambda p: {**p, "hooks": " ".join(p["hooks"])})
    listing.add({"name": name, "enabled": True, "hooks": hook_names(pm, name)} for name in plugin_names(pm))
    listing.add({"name": p.name, "enabled": False, "hooks": [], "problem": f"(not loaded) {p.error}"} for p in problems)
    listing.add({"name": name, "enabled": False, "hooks": []} for name in config.disable_plugins)
    listing.finish()


PLUGIN_COLUMNS = (Column("PLUGIN", "name"),
                  Column("HOOKS", lambda p: p["hooks"] if p["enabled"] else p.get("problem", "(disabled)")))


@click.command("providers")
@click.option("--url", envvar="CODER_URL", default=None, metavar="URL",
              help="The running gateway [env CODER_URL; default: from --http-address].")
@click.option("--token", envvar="CODER_SESSION_TOKEN", default=None, metavar="TOKEN",
              help="An owner's gateway token [env CODER_SESSION_TOKEN].")
@format_option("json: the API's providers; jsonl: one instance per line; csv: one row each.")
@with_options(["http-address", *COMMON])
def providers(url, token, fmt, **flags):
    """Show each provider instance: its keys (masked) and their state, circuit breakers, fallback.

    Asks the running gateway; when none answers, shows the configuration (states unknown).
    """
    from .resilience.status import configured_status
    from .status_cli import COLUMNS, Refused, ServerUnreachable, fetch_status, local_url

    config = load_config(flags)
    url = url or local_url(config.http_address)
    try:
        answer = fetch_status(url, token)
    except Refused as error:
        fail(str(error), 1)
    except ServerUnreachable as error:
        click.echo(f"aibridge: no gateway answers at {url} ({error}): showing the configuration, "
                   "without the states of keys and circuit breakers", err=True)
        answer = {"providers": [status.as_dict() for status in configured_status(config)]}
    listing = Listing(fmt, COLUMNS, csv_row=lambda p: {key: json.dumps(value) if isinstance(value, (list, dict)) else value
                                                       for key, value in p.items()})
    listing.add(answer["providers"])
    listing.finish()


def with_group_flags(flags: Mapping) -> dict:
    """A command's flags, with --ai-gateway-disable-plugins (or its old name) given before the command name."""
    given = dict(flags)
    group = click.get_current_context().find_root().params
    for spelling in option("aibridge-disable-plugins").spellings:
        if given.get(spelling.param) is None and group.get(spelling.param) is not None:
            given[spelling.param] = group[spelling.param]
    return given


def hook_names(pm, plugin_name: str) -> list[str]:
    """The hooks a registered plugin implements, sorted."""
    return sorted(caller.name for caller in pm.get_hookcallers(pm.get_plugin(plugin_name)) or ())


def user_store(flags: Mapping) -> UserStore:
    """The user store of the configured data directory."""
    from .db import open_database

    config = load_config(flags)
    return UserStore(open_database(config.database))


def build_cli(environ: Mapping[str, str] = os.environ, disabled: tuple[str, ...] | None = None) -> click.Group:
    """The ``aibridge`` group with its commands and those of the plugins that load.

    ``disabled``: the plugins not to load (default: CODER_AIBRIDGE_DISABLE_PLUGINS
    or its YAML key). The plugins left out, and why, are in ``plugin_problems``.
    """
    from .plugins import add_commands, load_plugins

    @click.group(cls=AibridgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="aibridge")
    @with_options(["aibridge-disable-plugins"])
    def cli(**disable_plugins):
        """A self-hosted AI gateway that relays and records AI coding traffic."""

    from .cost.cli import prices_group
    from .db.cli import db_group

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
