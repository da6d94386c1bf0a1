"""Gateway tokens: where clients put them, and the built-in token store that checks them."""

from __future__ import annotations

import sqlite3
import threading

import sqlite_utils

from . import hookimpl

GOVERNANCE_HEADER = "X-Coder-AI-Governance-Token"


def gateway_token(request) -> str | None:
    """The person's gateway token from the headers clients use (spec: authentication)."""
    governance = request.headers.get(GOVERNANCE_HEADER)
    if governance:
        return governance
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-Api-Key") or request.headers.get("Coder-Session-Token") or None


def is_byok(request) -> bool:
    """The client sent its own provider credential next to a governance token."""
    return bool(request.headers.get(GOVERNANCE_HEADER))


class TokenStoreAuth:
    """The last word on authentication: tokens issued by ``aibridge tokens create``."""

    def __init__(self, database_path):
        from .db import open_database
        from .users import UserStore

        open_database(database_path).conn.close()  # creates and migrates the schema
        # One connection shared by the request greenlets (or test threads), guarded by a lock.
        conn = sqlite3.connect(str(database_path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 5000")
        self._store = UserStore(sqlite_utils.Database(conn))
        self._lock = threading.Lock()

    @hookimpl(trylast=True)
    def aibridge_authenticate(self, request):
        token = gateway_token(request)
        if not token:
            return None
        with self._lock:
            return self._store.actor_for_token(token)
