"""The prices a running gateway uses: the administrator's (from the database, kept in memory) over the library's.

Nothing on the request path reads the database: the administrator's prices
are read at startup and then again every ``refresh_interval`` seconds by an
OS thread, so ``aibridge prices set`` on any host takes effect on every
instance within that time, without a restart. When the store cannot be read
the last prices read stay in force (and the thread says so in the log).

Which price applies to a model id: the administrator's price for the id as
recorded, else for its plainer forms (without a date suffix, without a
Bedrock region prefix and version), else the library's (library.py).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..db import Database, is_postgres, open_database
from ..threads import BackgroundThread, QueueEmpty, ThreadSafeLogger
from .admin import prepare, read_admin_prices
from . import library
from .library import candidates, library_price, load_library
from .price import Price, cost_nanos

log = logging.getLogger("aibridge.cost")

REFRESH_INTERVAL = 3.0  # seconds; documented in docs/cost.md ("within 5 seconds")
WARN_INTERVAL = 60.0


def price_for(model: str, provider: str, admin: dict[str, Price]) -> Price | None:
    """The price of ``model`` served by a provider of type ``provider``: the administrator's, else the library's."""
    for _provider_id, ref in candidates(model.strip(), provider):
        if ref in admin:
            return admin[ref]
    return library_price(model, provider)


MEMO_LIMIT = 4096  # lookups kept (model, provider type, day)


class PriceBook:
    """Prices in memory for the request path; ``cost_of(interception, usage)`` gives a record's nano-dollars."""

    def __init__(self, database: Path | str | None, refresh_interval: float = REFRESH_INTERVAL):
        self.database = database
        self.refresh_interval = refresh_interval
        # The administrator's prices and the prices looked up from them, replaced together by the refresh: a
        # lookup reads the pair once, so a price found under the old prices never lands among the new ones.
        # Lookups are kept per UTC day: the library's prices can change on a date.
        self._state: tuple[dict[str, Price], dict[tuple[str, str, object], Price | None]] = ({}, {})
        self._thread = BackgroundThread()
        self._log: ThreadSafeLogger | None = None
        self.failing = False

    def start(self) -> None:
        """Load the library; create the prices table if needed, read the administrator's prices, keep them current."""
        load_library()
        if self.database is None:
            return
        self._log = ThreadSafeLogger(log)
        try:
            with open_database(self.database) as db:
                prepare(db)
                self._replace(read_admin_prices(db))
        except Database.errors() as error:
            self.failing = True
            log.warning("prices: cannot read the administrator's prices (the library's apply meanwhile): %s", error)
        self._thread.start(self._run, self._log)

    def stop(self) -> None:
        self._thread.stop()

    @property
    def admin(self) -> dict[str, Price]:
        return self._state[0]

    def price(self, model: str, provider: str = "") -> Price | None:
        admin, memo = self._state
        key = (model, provider, library.utc_today())
        try:
            return memo[key]
        except KeyError:
            pass
        found = price_for(model, provider, admin)
        if len(memo) >= MEMO_LIMIT:  # keyed by day: the days gone by are never asked again
            memo.clear()
        memo[key] = found
        return found

    def cost_of(self, interception, usage, message_input: int | None = None) -> int | None:
        """Nano-dollars of a TokenUsage of ``interception`` (its model and provider type); None when unpriced.

        ``message_input``: the input tokens (cache included) of the record's whole message, when a stream
        reports them over several records (long-context rates depend on it); default: the record's own.
        """
        return cost_nanos(usage, self.price(interception.model or "", interception.provider or ""), message_input)

    def _replace(self, admin: dict[str, Price]) -> None:
        if admin != self.admin:
            self._state = (admin, {})

    # On the thread

    def _run(self) -> None:
        db = None
        last_warning = 0.0
        try:
            while True:
                try:
                    if self._thread.queue.get(timeout=self.refresh_interval) is BackgroundThread.STOP:
                        break
                except QueueEmpty:
                    pass
                try:
                    if db is None:
                        db = _connect(self.database)
                    with db.snapshot():
                        admin = read_admin_prices(db)
                    self._replace(admin)
                    self.failing = False
                    if not is_postgres(self.database):
                        # A new SQLite connection each time (cheap): a restored backup at the path is read too.
                        db.close()
                        db = None
                except Database.errors() as error:
                    self.failing = True
                    if db is not None:
                        db.close()
                        db = None
                    if time.monotonic() - last_warning >= WARN_INTERVAL:
                        last_warning = time.monotonic()
                        self._log.warning("prices: cannot read the administrator's prices again "
                                          "(the last ones read apply): %s", error)
        except BaseException as error:  # the thread must always signal that it is done
            self._log.error("prices thread stopped: %s", error, exc_info=error)
        finally:
            if db is not None:
                db.close()


def _connect(database) -> Database:
    """The thread's own connection (opened on the thread: a SQLite connection stays on its thread)."""
    if is_postgres(database):
        from ..db.postgres import connect_postgres

        return Database(connect_postgres(str(database)), "postgresql", database)
    from ..db.sqlite import connect_sqlite_read_only

    return Database(connect_sqlite_read_only(database), "sqlite", database)
