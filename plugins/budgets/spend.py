"""Each person's spend this month, in memory: what the store said at the last refresh plus what this process
saw since that the store does not have yet.

``add`` runs in a request's greenlet (``on_token_usage``), ``refreshed`` on the
background thread, ``of`` on every intercepted request: each holds the lock
for a few dictionary operations only, never across I/O.

A token record this process saw stays *pending* until the store has it (the
recorder writes asynchronously); once the store has it, the store's sum
counts it. So spend recorded by any instance counts from the next refresh,
and this process's own counts at once.
"""

from __future__ import annotations

import datetime as dt

import aibridge


UsageKey = tuple[str, str, dt.datetime]  # interception id, msg id, created_at


class Spend:
    def __init__(self):
        self._lock = aibridge.new_lock()
        # (the month, user id -> nano-dollars: the store's sum + pending of that month): one pair, replaced whole
        # by refreshed(), so of() reads it without the lock and never pairs one month with another's totals.
        # add() updates the current month's totals in place (under the lock: no copy per record).
        self._snapshot: tuple[str | None, dict[str, int]] = (None, {})
        self._pending: dict[UsageKey, tuple[str, str, int]] = {}  # -> (user id, month, nano-dollars)

    def add(self, user_id: str, interception_id: str, msg_id: str, created_at: dt.datetime, nanos: int,
            month: str) -> int:
        """Count a token record's cost (``month``: the month of ``created_at``); returns the user's total for that
        month if it is the current one, else 0."""
        key = (interception_id, msg_id or "", created_at)
        with self._lock:
            self._pending[key] = (user_id, month, nanos)
            current, totals = self._snapshot
            if month != current:
                return 0
            total = totals.get(user_id, 0) + nanos
            totals[user_id] = total
            return total

    def of(self, user_id: str, month: str) -> int:
        """Nano-dollars ``user_id`` spent in ``month`` (0 for a month not refreshed yet: a new month starts empty)."""
        current, totals = self._snapshot  # one read of the pair (a tuple, replaced whole): no lock needed
        return totals.get(user_id, 0) if month == current else 0

    def totals(self, month: str) -> dict[str, int]:
        with self._lock:
            current, totals = self._snapshot
            return dict(totals) if month == current else {}

    def pending_interceptions(self) -> list[str]:
        with self._lock:
            return sorted({key[0] for key in self._pending})

    def refreshed(self, month: str, stored: dict[str, int], recorded: set[UsageKey] | None) -> None:
        """The store's sums for ``month`` and the pending records it now has (read after this snapshot of pending);
        ``recorded`` None: forget every pending record (no budget is set: nothing is counted)."""
        with self._lock:
            if recorded is None:
                self._pending.clear()
            for key in recorded or ():
                self._pending.pop(key, None)
            # Records of past months no longer count for anything.
            self._pending = {key: value for key, value in self._pending.items() if value[1] >= month}
            totals = dict(stored)
            for user_id, pending_month, nanos in self._pending.values():
                if pending_month == month:
                    totals[user_id] = totals.get(user_id, 0) + nanos
            self._snapshot = (month, totals)

    @property
    def month(self) -> str | None:
        """The month the totals are of (None until the first refresh)."""
        return self._snapshot[0]

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)
