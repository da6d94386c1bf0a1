"""PostgreSQL connections (psycopg 3): one per OS thread that needs one, a small pool for the gevent hub.

Whether a call waits on the hub (found by measuring, see docs/deployment.md):
once gevent has patched ``select``, psycopg waits for its socket through
gevent's ``poll``, so a query made in a greenlet lets every other greenlet
run. On an OS thread of ``aibridge.start_thread`` that same wait would run a
gevent hub of its own on that thread and makes a batch of inserts about three
times slower; there the connection waits in C (psycopg's ``wait_c``, which
lets go of the GIL) instead: nothing else runs on that thread.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import psycopg
from psycopg import waiting
from psycopg.rows import dict_row

from ..threads import on_started_thread

# A dead server or network must not hold a writer forever: TCP keepalives find a silent peer in about 25 s,
# and sent data not acknowledged for 30 s breaks the connection. The other way round, the server ends a session
# left in the middle of a transaction for a minute (a gateway cut off mid-write): its locks would hold up the
# same rows written again by the gateway's next connection. A URL may set its own of each.
CONNECT_DEFAULTS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                    "keepalives_count": 3, "tcp_user_timeout": 30000, "application_name": "aibridge",
                    "options": "-c idle_in_transaction_session_timeout=60s"}
POOL_SIZE = 4  # connections for the reads the hub makes (the audit API); more requests wait their turn
POOL_TIMEOUT = 10.0  # seconds a read waits for a connection of the pool

_wait_c = getattr(waiting, "wait_c", None)  # psycopg's C implementation (psycopg[binary] or [c])


class Connection(psycopg.Connection):
    """A psycopg connection that, on an OS thread of ``aibridge.start_thread``, waits in C, not in gevent."""

    def wait(self, gen, interval=0.1, timeout=None):
        if _wait_c is not None and timeout is None and waiting.wait is not _wait_c and on_started_thread():
            return _wait_c(gen, self.pgconn.socket, interval)
        return super().wait(gen, interval, timeout)


def connect_postgres(url: str) -> Connection:
    """A new connection in autocommit mode (transactions are explicit), rows as dicts."""
    given = psycopg.conninfo.conninfo_to_dict(url)
    options = {key: value for key, value in CONNECT_DEFAULTS.items() if key not in given}
    return Connection.connect(url, autocommit=True, row_factory=dict_row, **options)


_pools: dict[str, object] = {}


@contextlib.contextmanager
def pooled_connection(url: str) -> Iterator[Connection]:
    """A connection of this process's pool for ``url`` (made on first use), returned to it afterwards."""
    from psycopg_pool import ConnectionPool

    pool = _pools.get(url)
    if pool is None:
        given = psycopg.conninfo.conninfo_to_dict(url)
        options = {key: value for key, value in CONNECT_DEFAULTS.items() if key not in given}
        pool = ConnectionPool(url, min_size=1, max_size=POOL_SIZE, timeout=POOL_TIMEOUT, open=False,
                              connection_class=Connection, name="aibridge-reads",
                              kwargs={"autocommit": True, "row_factory": dict_row, **options})
        pool.open(wait=False)
        pool = _pools.setdefault(url, pool)
    with pool.connection() as conn:
        yield conn


def close_pools() -> None:
    """Close every pool (at shutdown)."""
    while _pools:
        _url, pool = _pools.popitem()
        with contextlib.suppress(Exception):
            pool.close(timeout=2)
