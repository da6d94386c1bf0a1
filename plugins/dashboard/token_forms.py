"""Issuing and revoking gateway tokens from a form: the same rules for a person's own and an owner's admin page."""

from __future__ import annotations

import datetime as dt

import aibridge

# The lifetimes the form offers (value -> days; None never expires).
LIFETIMES = {"7d": 7, "30d": 30, "90d": 90, "365d": 365, "never": None}
DEFAULT_LIFETIME = "30d"


def issue_token(store, username: str, label: str, lifetime: str) -> tuple[str, str]:
    """(token id, token) of a new token; UserError says what is wrong with the form."""
    if lifetime not in LIFETIMES:
        raise aibridge.UserError(f"choose a lifetime: {', '.join(LIFETIMES)}")
    days = LIFETIMES[lifetime]
    return store.create_token(username, dt.timedelta(days=days) if days else None, label.strip()[:100])


def revoke_token(store, username: str, token_id: str):
    """Revoke ``username``'s token ``token_id``; a token of anyone else is unknown here."""
    token = store.get_token(token_id)
    if token is None or token.username != username:
        raise aibridge.UserError(f"{username} has no token {token_id!r}")
    return store.revoke_token(token_id)
