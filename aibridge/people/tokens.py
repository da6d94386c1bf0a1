"""Gateway tokens: their form, the row that stands for one, and the check of a presented token against it.

A token is ``aib_<id>_<secret>``: the id finds the row, the secret (256 random
bits) is checked against its stored SHA-256 hash in constant time. The check
says why a token is refused, for the server's log; the client only ever hears
401.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

from ..records import Actor

TOKEN_PREFIX = "aib"
TOKEN_PATTERN = re.compile(r"^aib_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # at most one write per token per minute
_UNKNOWN_TOKEN_HASH = hashlib.sha256(b"no such token").hexdigest()

# Why a token is refused (the server's log line says it, with the token id; never the secret).
NO_TOKEN = "no token"
MALFORMED = "malformed token"
UNKNOWN = "unknown token"
WRONG_SECRET = "wrong secret"
EXPIRED = "expired"
REVOKED = "revoked"
SUSPENDED = "suspended user"
UNAVAILABLE = "token store unavailable"  # not refused: it could not be checked (the client gets 503)

_ROWS_SQL = (
    "SELECT t.id AS token_id, t.hashed_secret, t.expires_at, t.revoked_at, t.last_used_at, "
    "u.id AS user_id, u.username, u.role, u.email, u.status "
    "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id IN ({marks})"
)


@dataclass(frozen=True)
class TokenRow:
    """What the check needs of a token and its user (read in one query)."""

    token_id: str
    hashed_secret: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    user_id: str
    username: str
    role: str
    email: str
    user_status: str


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of checking a presented token: the Actor, or why not (and which token, when it says)."""

    actor: Actor | None
    reason: str = ""
    token_id: str | None = None
    username: str | None = None

    def describe(self) -> str:
        """The reason for the log: ``wrong secret (token 0123456789abcdef of alice)``; never the secret."""
        if self.token_id is None:
            return self.reason
        owner = f" of {self.username}" if self.username else ""
        return f"{self.reason} (token {self.token_id}{owner})"


def parse_token(token: str | None) -> tuple[str, str] | None:
    """(token id, secret) of a well-formed token, else None."""
    match = TOKEN_PATTERN.match(token or "")
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_token(token_id: str, secret: str, row: TokenRow | None, now: dt.datetime) -> TokenCheck:
    """Check a parsed token against its row (None: no such token)."""
    stored_hash = row.hashed_secret if row else _UNKNOWN_TOKEN_HASH
    secret_matches = hmac.compare_digest(hash_secret(secret), stored_hash)
    if row is None:
        return TokenCheck(None, UNKNOWN, token_id)
    for failed, reason in ((not secret_matches, WRONG_SECRET), (row.revoked_at is not None, REVOKED),
                           (row.expires_at is not None and row.expires_at <= now, EXPIRED),
                           (row.user_status != "active", SUSPENDED)):
        if failed:
            return TokenCheck(None, reason, token_id, row.username)
    actor = Actor(id=row.user_id, username=row.username, role=row.role, email=row.email, token_id=token_id)
    return TokenCheck(actor, "", token_id, row.username)


def needs_last_use(row: TokenRow, now: dt.datetime) -> bool:
    """Whether a use now is worth writing (the stored one is older than LAST_USED_RESOLUTION)."""
    return row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION


def read_token_rows(db, token_ids: list[str]) -> dict[str, TokenRow]:
    """The rows of these tokens that exist, by id (``db``: an aibridge Database)."""
    found = {}
    for start in range(0, len(token_ids), 500):
        chunk = token_ids[start:start + 500]
        for values in db.query(_ROWS_SQL.format(marks=", ".join("?" for _ in chunk)), chunk):
            row = TokenRow(values["token_id"], values["hashed_secret"], parse_time(values["expires_at"]),
                           parse_time(values["revoked_at"]), parse_time(values["last_used_at"]), values["user_id"],
                           values["username"], values["role"], values["email"], values["status"])
            found[row.token_id] = row
    return found


def write_last_uses(db, uses: dict[str, dt.datetime]) -> None:
    """Record when tokens were last used, in one transaction."""
    with db.transaction():
        db.executemany("UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
                       [(iso(moment), token_id) for token_id, moment in uses.items()])


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def parse_time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None
