"""Who is looking at the dashboard, read from the signed session cookie and checked against the database.

The cookie carries who signed in, with which gateway token (its id, never the
token), and the form token of their session; it is signed with the
deployment's secret (``signing_keys``) and expires after SESSION_LIFETIME.
Each page checks it again: a revoked or expired token, a suspended or
removed person, ends the session at once, and a changed role applies at the
next page.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import itsdangerous

import aibridge

COOKIE = "aibridge_session"
SESSION_LIFETIME = dt.timedelta(hours=12)
_SALT = "aibridge.dashboard.session"


@dataclass(frozen=True)
class Viewer:
    """A signed-in person: ``csrf`` is the token every form of their session must carry back."""

    id: str
    username: str
    role: str
    token_id: str | None
    csrf: str

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    def sees(self) -> str | None:
        """Whose interceptions this viewer may read: None for everyone's (an owner), else their own id."""
        return None if self.is_owner else self.id


class SessionCookies:
    """Signs and reads session cookies with one deployment's secret."""

    def __init__(self, secret: str):
        self._serializer = itsdangerous.URLSafeTimedSerializer(secret, salt=_SALT)

    def issue(self, actor: aibridge.Actor) -> str:
        """The cookie value of a new session for ``actor``."""
        return self._serializer.dumps({"u": actor.id, "n": actor.username, "r": actor.role, "t": actor.token_id,
                                       "c": secrets.token_urlsafe(24)})

    def read(self, value: str | None) -> dict | None:
        """What a cookie says, if it is ours, untouched and not older than SESSION_LIFETIME."""
        if not value:
            return None
        try:
            claims = self._serializer.loads(value, max_age=int(SESSION_LIFETIME.total_seconds()))
        except itsdangerous.BadData:
            return None
        return claims if isinstance(claims, dict) else None


def current_viewer(database, claims: dict) -> Viewer | None:
    """The viewer a valid cookie names, as the database has them now; None if their session must end.

    Runs on an OS thread (it reads the database): a read of one consistent state, on a connection of its own
    (the PostgreSQL read pool is for the hub's greenlets).
    """
    with aibridge.read_database(database) as db:
        store = aibridge.UserStore(db)
        role = claims["r"]
        if claims["t"] is not None:  # signed in with a gateway token: it must still work
            token = store.get_token(claims["t"])
            if token is None or token.status() != "active" or token.username != claims["n"]:
                return None
        try:
            user = store.get_user(claims["n"])
        except aibridge.UserError:
            user = None
        if user is not None:
            if user.id != claims["u"] or user.status != "active":
                return None
            role = user.role
        elif claims["t"] is not None:
            return None
        return Viewer(claims["u"], claims["n"], role, claims["t"], claims["c"])
