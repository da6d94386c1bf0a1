"""Gateway tokens checked from memory; one OS thread reads and writes the database for them.

Nothing on the request path waits on the database on the gevent hub:

- a token seen before is checked in memory (its hash, expiry, revocation and
  its user's status, as last read);
- a token not seen yet (created by ``aibridge tokens create`` a moment ago,
  or after a restart) is read by the thread while the request waits
  cooperatively, at most ``lookup_timeout`` seconds;
- every ``refresh_interval`` seconds the thread reads the cached tokens again,
  so a revoked token or a suspended user is refused within
  ``REVOCATION_WINDOW`` seconds (while the database can be read; when it
  cannot, the last state read stays in force and the thread says so in the log);
- last uses are written by the thread, at most one per token a minute, all in
  one transaction per refresh; a busy database delays them, never a request.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from ..db import Database, is_postgres
from ..threads import BackgroundThread, QueueEmpty, ThreadSafeLogger, wait_until
from .tokens import (
    MALFORMED,
    NO_TOKEN,
    UNAVAILABLE,
    TokenCheck,
    TokenRow,
    check_token,
    needs_last_use,
    now,
    parse_token,
    read_token_rows,
    write_last_uses,
)

log = logging.getLogger("aibridge.auth")

REFRESH_INTERVAL = 2.0
REVOCATION_WINDOW = 5  # seconds, documented: refresh interval plus a slow read
LOOKUP_TIMEOUT = 2.0  # how long a request waits for a token read
BUSY_TIMEOUT_MS = 1000  # the thread's connection; a lock held longer only delays the refresh
FORGET_AFTER = 3600.0  # a token unused this long leaves the cache (seconds)
WARN_INTERVAL = 60.0


class _Lookup:
    """A token the thread is asked to read; ``done`` once it did (or gave up)."""

    def __init__(self, token_id: str, deadline: float):
        self.token_id = token_id
        self.deadline = deadline
        self.done = False
        self.failed = False


class TokenCache:
    """Checks gateway tokens against rows kept in memory and refreshed by an OS thread."""

    def __init__(self, database: Path | str, refresh_interval: float = REFRESH_INTERVAL,
                 lookup_timeout: float = LOOKUP_TIMEOUT):
        """``database``: the SQLite file, or a PostgreSQL URL."""
        self.database = database if is_postgres(database) else Path(database)
        self.refresh_interval = refresh_interval
        self.lookup_timeout = lookup_timeout
        self._rows: dict[str, TokenRow] = {}  # written by the thread, read by requests
        self._used: dict[str, float] = {}  # token id -> when a request last used it (monotonic)
        self._uses: dict[str, object] = {}  # token id -> datetime of a use to write
        self._lookups: dict[str, _Lookup] = {}
        self._thread = BackgroundThread()  # its queue: lookups to answer
        self._db: Database | None = None
        self._identity: tuple[int, int] | None = None  # the SQLite file the connection has open
        self.failing = False  # the last read or write failed (the store is away, for /readyz)
        self._log: ThreadSafeLogger | None = None
        self._last_warning = 0.0

    def start(self) -> None:
        self._log = ThreadSafeLogger(log)
        self._thread.start(self._run, self._log)

    def stop(self) -> None:
        """Write the pending last uses and stop the thread."""
        self._thread.stop()

    def check(self, token: str | None) -> TokenCheck:
        """Check a presented token; reads the database (off the hub) only for a token not seen yet."""
        if not token:
            return TokenCheck(None, NO_TOKEN)
        parsed = parse_token(token)
        if parsed is None:
            return TokenCheck(None, MALFORMED)  # nothing of it is logged: it may be a key pasted by mistake
        token_id, secret = parsed
        if token_id not in self._rows and not self._look_up(token_id):
            return TokenCheck(None, UNAVAILABLE, token_id)
        return self._checked(token_id, secret)

    def cached_check(self, token: str | None) -> TokenCheck | None:
        """The check of a token seen before, from memory only; None for any other token."""
        parsed = parse_token(token)
        if parsed is None or parsed[0] not in self._rows:
            return None
        return self._checked(*parsed)

    def _checked(self, token_id: str, secret: str) -> TokenCheck:
        row = self._rows.get(token_id)
        moment = now()
        check = check_token(token_id, secret, row, moment)
        if check.actor is not None:
            self._used[token_id] = time.monotonic()
            if needs_last_use(row, moment) and token_id not in self._uses:
                self._uses[token_id] = moment
        return check

    def _look_up(self, token_id: str) -> bool:
        """Have the thread read one token (rows of unknown tokens stay absent); False if it could not."""
        lookup = self._lookups.get(token_id)
        if lookup is None:
            lookup = _Lookup(token_id, time.monotonic() + self.lookup_timeout)
            self._lookups[token_id] = lookup
            self._thread.queue.put(lookup)
        return wait_until(lambda: lookup.done, self.lookup_timeout) and not lookup.failed

    # On the thread

    def _run(self) -> None:
        next_refresh = time.monotonic() + self.refresh_interval
        try:
            while True:
                try:
                    item = self._thread.queue.get(timeout=max(0.0, next_refresh - time.monotonic()))
                except QueueEmpty:
                    item = None
                if item is BackgroundThread.STOP:
                    break
                if item is not None:
                    self._read([item])
                if time.monotonic() >= next_refresh:
                    self._refresh()
                    next_refresh = time.monotonic() + self.refresh_interval
        except BaseException as error:  # the thread must always signal that it is done
            self._log.error("token cache thread stopped: %s", error, exc_info=error)
        finally:
            self._write_uses()
            if self._db is not None:
                self._db.close()

    def _read(self, lookups: list[_Lookup]) -> None:
        """Answer the lookups still waited for, in one read."""
        waiting = [lookup for lookup in lookups if lookup.deadline > time.monotonic()]
        try:
            rows = read_token_rows(self._connection(), [lookup.token_id for lookup in waiting]) if waiting else {}
        except Database.errors() as error:
            self._failed("cannot read tokens", error)
            for lookup in lookups:
                lookup.failed = True
        else:
            for token_id, row in rows.items():
                self._used.setdefault(token_id, time.monotonic())
                self._rows[token_id] = row
        for lookup in lookups:
            self._lookups.pop(lookup.token_id, None)
            lookup.done = True

    def _refresh(self) -> None:
        """Read every cached token again (revoked, expired, user suspended?) and write the last uses."""
        horizon = time.monotonic() - FORGET_AFTER
        for token_id in list(self._rows):
            if self._used.get(token_id, 0.0) < horizon:
                self._used.pop(token_id, None)
                self._rows.pop(token_id, None)
        cached = list(self._rows)
        try:
            if cached:
                fresh = read_token_rows(self._connection(), cached)
            elif is_postgres(self.database):
                self._connection().value("SELECT 1")  # whether the store answers, for /readyz
        except Database.errors() as error:
            self._failed("cannot read tokens again (checks use what was last read)", error)
            return
        self.failing = False
        if cached:
            for token_id in cached:
                if token_id in fresh:
                    self._rows[token_id] = fresh[token_id]
                else:
                    self._rows.pop(token_id, None)  # deleted: unknown from now on
        self._write_uses()

    def _write_uses(self) -> None:
        uses, self._uses = self._uses, {}
        if not uses:
            return
        try:
            write_last_uses(self._connection(), uses)
        except Database.errors() as error:
            for token_id, moment in uses.items():
                self._uses.setdefault(token_id, moment)  # next time
            self._failed("cannot record when tokens were last used", error)

    def _connection(self) -> Database:
        """The thread's connection; on SQLite opened again when the file at the path is another one (a restored
        backup)."""
        if is_postgres(self.database):
            if self._db is None:
                from ..db.postgres import connect_postgres

                self._db = Database(connect_postgres(self.database), "postgresql", self.database)
            return self._db
        identity = _identity(self.database)
        if self._db is not None and identity != self._identity:
            self._db.close()
            self._db = None
        if self._db is None:
            uri = self.database.absolute().as_uri() + "?mode=rw"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db, self._identity = Database(conn, "sqlite", self.database), identity
        return self._db

    def _failed(self, what: str, error: Exception) -> None:
        self.failing = True
        if self._db is not None:
            self._db.close()
            self._db = None
        if time.monotonic() - self._last_warning >= WARN_INTERVAL:
            self._last_warning = time.monotonic()
            self._log.warning("token store: %s: %s", what, error)


def _identity(path: Path) -> tuple[int, int]:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        raise sqlite3.OperationalError(f"the database {path} is missing") from None
    return found.st_dev, found.st_ino
