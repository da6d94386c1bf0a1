"""Which gateway instances share a PostgreSQL database, and which of them are gone (several hosts).

Each instance's writer thread writes its row of ``gateway_instances`` every
sixth of the timeout (``--postgres-instance-timeout``, 30 s by default),
with the database's clock, so the hosts' clocks do not matter. An instance
whose heartbeat is older than the timeout is gone: one live instance at a
time (an advisory lock) ends its open interceptions ``interrupted``, each at
its last sign of life, and removes its row, in one transaction.

An instance that was only cut off from the database, not dead, writes its
row again when it is back, and the ends of its interceptions (kept in its
spool meanwhile) replace ``interrupted`` with what really happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from .writes import end_interrupted

TAKE_OVER_LOCK = "aibridge-instance-takeover"


@dataclass(frozen=True)
class About:
    """What an instance's row says about it."""

    id: str
    host: str
    pid: int
    started_at: str


@dataclass(frozen=True)
class TakeOver:
    """Instances found gone and the interceptions of theirs ended ``interrupted``."""

    instances: tuple[str, ...]
    interceptions: int


def beat(db, instance: About) -> None:
    with db.transaction():
        db.execute("INSERT INTO gateway_instances (id, host, pid, started_at, heartbeat_at) "
                   "VALUES (?, ?, ?, ?, clock_timestamp()) "
                   "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                   [instance.id, instance.host, instance.pid, instance.started_at])


def take_over_gone(db, own_id: str, timeout: float, message: str) -> TakeOver | None:
    with db.transaction():
        if not db.try_lock_for_transaction(TAKE_OVER_LOCK):
            return None  # another instance is doing it right now
        gone = [row["id"] for row in db.query(
            "SELECT id FROM gateway_instances WHERE id <> ? "
            "AND heartbeat_at < clock_timestamp() - make_interval(secs => ?) FOR UPDATE", [own_id, timeout])]
        if not gone:
            return TakeOver((), 0)
        ended = end_interrupted(db, gone, message, transaction=False)
        db.execute(f"DELETE FROM gateway_instances WHERE id IN ({', '.join('?' for _ in gone)})", gone)
    return TakeOver(tuple(gone), ended)


def leave(db, instance_id: str) -> None:
    with db.transaction():
        db.execute("DELETE FROM gateway_instances WHERE id = ?", [instance_id])

