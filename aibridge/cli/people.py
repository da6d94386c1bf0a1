"""``aibridge users`` and ``aibridge tokens``: the people who may use the gateway and their tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import click

from ..config.loader import load_config
from ..people.users import ROLES, UserStore
from .options import COMMON, DurationType, with_options
from .output import Column, Listing, format_option, when


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


def user_store(flags: Mapping) -> UserStore:
    """The user store of the configured data directory."""
    from ..db import open_database

    config = load_config(flags)
    return UserStore(open_database(config.database))
