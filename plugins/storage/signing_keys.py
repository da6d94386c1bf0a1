"""Per-deployment secrets for signing (the dashboard's session cookie), kept in the database.

Every gateway process (and, on a shared database, every host) reads the same
secret; the first one to need it creates it. Rotating it (deleting the row)
signs everyone out at the next start of the gateway.
"""

from __future__ import annotations

import datetime as dt
import secrets

from .timestamps import to_db

_CREATE = ("INSERT INTO signing_keys (name, secret, created_at) VALUES (:name, :secret, :created_at) "
           "ON CONFLICT (name) DO NOTHING")
_READ = "SELECT secret FROM signing_keys WHERE name = :name"


def signing_key(db, name: str) -> str:
    """The secret called ``name``, created (256 random bits) if there is none yet; ``db`` may write."""
    with db.transaction():
        db.execute(_CREATE, {"name": name, "secret": secrets.token_urlsafe(32),
                             "created_at": to_db(dt.datetime.now(dt.timezone.utc))})
    return db.execute(_READ, {"name": name}).fetchone()["secret"]
