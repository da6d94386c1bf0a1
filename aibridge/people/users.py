"""People and their gateway tokens (tables ``users`` and ``api_tokens``).

Only a token's hash is stored; the token is shown once, when created (see
:mod:`aibridge.tokens` for its form and its check).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import threading
import uuid
from dataclasses import dataclass

from ..db import Database
from ..records import Actor
from .tokens import (
    MALFORMED,
    TOKEN_PREFIX,
    TokenCheck,
    check_token,
    hash_secret,
    needs_last_use,
    parse_token,
    read_token_rows,
    write_last_uses,
)
from .tokens import iso as _iso
from .tokens import now as _now
from .tokens import parse_time as _parse

log = logging.getLogger("aibridge.users")

ROLES = ("owner", "member")
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class UserError(ValueError):
    """A user or token operation that cannot be done: the message says why."""


@dataclass(frozen=True)
class User:
    id: str
    username: str
    email: str
    role: str
    status: str
    created_at: dt.datetime


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: everything but its secret."""

    id: str
    username: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def status(self, now: dt.datetime | None = None) -> str:
        now = now or _now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        return "active"


class UserStore:
    """Users and tokens in the database opened by :func:`aibridge.db.open_database` (SQLite or PostgreSQL)."""

    def __init__(self, db: Database):
        self.db = db
        self._lock = threading.Lock()  # one connection may be shared by threads

    def close(self) -> None:
        self.db.close()

    def create_user(self, username: str, email: str = "", role: str = "member") -> User:
        """Add a user; usernames are lower-case letters, digits, ``-`` and ``_``."""
        _check_username(username)
        _check_email(email)
        if role not in ROLES:
            raise UserError(f"invalid role {role!r}: use owner or member")
        user = User(str(uuid.uuid4()), username, email, role, "active", _now())
        try:
            with self._lock, self.db.transaction():
                self.db.execute("INSERT INTO users (id, username, email, role, status, created_at) "
                                "VALUES (?, ?, ?, ?, ?, ?)",
                                [user.id, username, email, role, user.status, _iso(user.created_at)])
        except Database.errors() as error:
            if Database.refuses(error):
                raise UserError(f"user {username!r} already exists") from None
            raise
        return user

    def list_users(self) -> list[User]:
        """Every user, by username."""
        with self._lock:
            rows = self.db.query("SELECT * FROM users ORDER BY username")
        return [_user(row) for row in rows]

    def get_user(self, username: str) -> User:
        """The user called ``username``; UserError when there is none."""
        with self._lock:
            rows = self.db.query("SELECT * FROM users WHERE username = ?", [username])
        if not rows:
            raise UserError(f"unknown user {username!r}")
        return _user(rows[0])

    def suspend_user(self, username: str) -> User:
        """Suspend a user: their tokens stop working until they are activated again."""
        return self._set_status(username, "suspended")

    def activate_user(self, username: str) -> User:
        """Lift a suspension."""
        return self._set_status(username, "active")

    def set_role(self, username: str, role: str) -> User:
        """Make a user an owner or a member."""
        if role not in ROLES:
            raise UserError(f"invalid role {role!r}: use owner or member")
        user = self.get_user(username)
        with self._lock, self.db.transaction():
            self.db.execute("UPDATE users SET role = ? WHERE id = ?", [role, user.id])
        return self.get_user(username)

    def _set_status(self, username: str, status: str) -> User:
        user = self.get_user(username)
        with self._lock, self.db.transaction():
            self.db.execute("UPDATE users SET status = ? WHERE id = ?", [status, user.id])
        return self.get_user(username)

    def create_token(self, username: str, lifetime: dt.timedelta | None = None, label: str = "") -> tuple[str, str]:
        """Issue a token for ``username``; returns (token id, token). None lifetime: never expires."""
        user = self.get_user(username)
        if user.status != "active":
            raise UserError(f"user {username!r} is suspended")
        if lifetime is not None and lifetime <= dt.timedelta(0):
            raise UserError("the token lifetime must be longer than 0")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        now = _now()
        with self._lock, self.db.transaction():
            self.db.execute(
                "INSERT INTO api_tokens (id, user_id, label, hashed_secret, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [token_id, user.id, label, hash_secret(secret), _iso(now), _iso(now + lifetime) if lifetime else None],
            )
        return token_id, f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def list_tokens(self, username: str) -> list[TokenInfo]:
        """The user's tokens, newest first (without secrets)."""
        user = self.get_user(username)
        created_order = "seq" if self.db.is_postgres else "rowid"  # tokens made within one second
        with self._lock:
            rows = self.db.query(f"SELECT * FROM api_tokens WHERE user_id = ? "
                                 f"ORDER BY created_at DESC, {created_order} DESC", [user.id])
        return [_token_info(row, user.username) for row in rows]

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token by id (revoking twice keeps the first time)."""
        if self.get_token(token_id) is None:
            raise UserError(f"unknown token {token_id!r}")
        with self._lock, self.db.transaction():
            self.db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                            [_iso(_now()), token_id])
        return self.get_token(token_id)

    def get_token(self, token_id: str) -> TokenInfo | None:
        """The token with this id (without its secret), or None."""
        with self._lock:
            rows = self.db.query(
                "SELECT t.*, u.username FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?", [token_id]
            )
        return _token_info(rows[0], rows[0]["username"]) if rows else None

    def actor_for_token(self, token: str) -> Actor | None:
        """The active user behind a valid token; None for anything else (never says why)."""
        return self.check_token(token).actor

    def check_token(self, token: str) -> TokenCheck:
        """Check a token against the database now, and record its use (the gateway checks from a cache instead)."""
        parsed = parse_token(token)
        if parsed is None:
            return TokenCheck(None, MALFORMED)
        token_id, secret = parsed
        with self._lock:
            row = read_token_rows(self.db, [token_id]).get(token_id)
        moment = _now()
        check = check_token(token_id, secret, row, moment)
        if check.actor is not None and needs_last_use(row, moment):
            try:
                with self._lock:
                    write_last_uses(self.db, {token_id: moment})
            except Database.errors() as error:  # a busy database is no reason to refuse the token
                log.warning("could not record the last use of token %s: %s", token_id, error)
        return check


def _check_username(username: str) -> None:
    if not USERNAME_PATTERN.match(username or ""):
        raise UserError(
            f"invalid username {username!r}: use 1-64 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )


def _check_email(email: str) -> None:
    if email and not re.match(r"^[^@\s]+@[^@\s]+$", email):
        raise UserError(f"invalid email address {email!r}")


def _user(row: dict) -> User:
    return User(row["id"], row["username"], row["email"], row["role"], row["status"], _parse(row["created_at"]))


def _token_info(row: dict, username: str) -> TokenInfo:
    return TokenInfo(
        id=row["id"],
        username=username,
        label=row["label"],
        created_at=_parse(row["created_at"]),
        expires_at=_parse(row["expires_at"]),
        revoked_at=_parse(row["revoked_at"]),
        last_used_at=_parse(row["last_used_at"]),
    )
