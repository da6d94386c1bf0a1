"""The budgets of one gateway process: the check on every request (memory only), the background refresh from
the store, and the 85 % and 100 % notices.

The refresh runs on its own OS thread every ``interval`` seconds (and at once
when a record of this process crosses a threshold, or a month begins): it reads
the budgets and groups when they changed and the month's newest spend from the
store, so a budget changed with ``aibridge budgets set`` and spend recorded by
other instances count within ``interval``. A request waits for none of it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Callable

import aibridge

from .money import percent_used, usd, usd_text
from .month import month_key, month_start, next_month_start, reset_text, utcnow
from .rules import Budget, Rules
from .spend import Spend
from .store import BudgetStore

log = logging.getLogger("aibridge.budgets")

SETTLE_SECONDS = 60.0  # how often a refresh sums the whole month (the others read only the newest records)
REFRESH_SECONDS = 2.0  # at most 5 s (docs/cost.md): how soon other instances' spend and budget changes count
THRESHOLDS = (85, 100)  # percent of the budget at which a person is notified, once a month each


@dataclass(frozen=True)
class Settled:
    """The month's spend up to token record ``bound``; ``next_bound`` the highest id when it was read."""

    month: str
    bound: int
    totals: dict[str, int]
    next_bound: int
    at: float  # time.monotonic() when read


class BudgetKeeper:
    """``check(actor)`` answers from memory; ``start()`` the refresh thread, ``stop()`` ends it.

    ``clock`` gives the current time (tests move it to the next month);
    ``announce(notice)`` sends a notice (the ``on_budget_threshold`` hook, on the hub).
    """

    def __init__(self, database, announce: Callable[[dict], None], clock: Callable[[], dt.datetime] = utcnow,
                 interval: float = REFRESH_SECONDS):
        self.database = database
        self.announce = announce
        self.clock = clock
        self.interval = interval
        self.rules = Rules()
        self.spend = Spend()
        self.monotonic = time.monotonic
        self.settled: Settled | None = None
        self._rules_version: tuple | None = None
        self._rules_at = 0.0
        self.usernames: dict[str, str] = {}
        self.sent: set[tuple[str, str, int]] = set()  # (user id, month, percent) notified, by any instance
        self.blocked_requests = 0
        self.refreshes = 0  # completed refreshes, successful or not
        self.last_error: Exception | None = None
        self._thread = aibridge.BackgroundThread()  # its queue: wake-ups (None) for a refresh now
        self._log = None
        self._store: BudgetStore | None = None
        epoch = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        self._month: tuple[dt.datetime, dt.datetime, str] = (epoch, epoch, "")  # start, end, key: a cache

    # The request path: memory only

    def check(self, user_id: str) -> tuple[Budget, int, str] | None:
        """(the budget, the spend, the reset time) when ``user_id`` is at or over budget; None to let the request go."""
        rules = self.rules
        if rules.empty:
            return None
        budget = rules.budget_for(user_id)
        if budget is None:
            return None
        now = self.clock()
        month = self.month_of(now)
        if month != self.spend.month:
            self.refresh_soon()  # a new month: its spend starts at 0 until the refresh reads it
        spent = self.spend.of(user_id, month)
        if spent < budget.nanos:
            return None
        self.blocked_requests += 1
        return budget, spent, reset_text(now)

    def month_of(self, now: dt.datetime) -> str:
        """``month_key(now)``, from the month last seen while ``now`` is in it (two comparisons, no formatting)."""
        start, end, key = self._month
        if not start <= now < end:
            start, end = month_start(now), next_month_start(now)
            key = month_key(now)
            self._month = (start, end, key)
        return key

    def counted(self, user_id: str, username: str, interception_id: str, usage) -> None:
        """A token record of this process (``on_token_usage``): its cost counts at once."""
        nanos = getattr(usage, "cost_usd_nanos", None)
        if not nanos or self.rules.empty:
            return  # unpriced (None) or free, or no budget anywhere: nothing to count
        self.usernames.setdefault(user_id, username)
        total = self.spend.add(user_id, interception_id, usage.msg_id, usage.created_at, nanos,
                               self.month_of(usage.created_at))
        budget = self.rules.budget_for(user_id)
        if budget is not None and self._unsent_thresholds(user_id, total, budget, self.spend.month):
            self.refresh_soon()  # the notice is sent by the thread (it records it in the store first)

    def blocked_users(self) -> int:
        """How many people are at or over their budget now (for the metrics)."""
        rules, month = self.rules, self.month_of(self.clock())
        if rules.empty:
            return 0
        totals = self.spend.totals(month)
        # Everyone known (a default or group budget of 0 blocks people who never spent), decided as check() does.
        people = set(self.usernames) | set(totals)
        return sum(1 for user_id in people
                   if (budget := rules.budget_for(user_id)) is not None and totals.get(user_id, 0) >= budget.nanos)

    # The background thread

    def start(self) -> None:
        self._log = aibridge.ThreadSafeLogger(log)
        self._thread.start(self._run, self._log)

    def refresh_soon(self) -> None:
        """Refresh now rather than at the next interval (from any thread; the refresh runs on the keeper's)."""
        self._thread.queue.put(None)

    def stop(self) -> None:
        self._thread.stop()

    def _run(self) -> None:
        wake, stop = self._thread.queue, aibridge.BackgroundThread.STOP
        try:
            while True:
                self._refresh_logged()
                try:
                    if wake.get(timeout=self.interval) is stop:
                        return
                    while True:  # several wake-ups queued meanwhile: one refresh serves them all
                        if wake.get_nowait() is stop:
                            return
                except aibridge.QueueEmpty:
                    continue
        finally:
            if self._store is not None:
                self._store.close()

    def _refresh_logged(self) -> None:
        try:
            self.refresh()
            if self.last_error is not None:
                self._log.info("budgets: the store answers again; budgets and spend are current")
            self.last_error = None
        except Exception as error:  # the last budgets and spend stay in force; retried at the next interval
            if self.last_error is None:
                self._log.error("budgets: cannot read budgets and spend from the store (retrying every %ss): %s",
                                self.interval, error)
            self.last_error = error
            if self._store is not None:
                self._store.close()
                self._store = None
        finally:
            self.refreshes += 1

    def refresh(self) -> None:
        """Read budgets, groups, the month's spend and the notices sent; then send the notices now due."""
        now = self.clock()
        month = self.month_of(now)
        store = self._open_store()
        with store.db.snapshot():
            rules, usernames = self._rules(store)
            if rules.empty:  # nothing to enforce: no spend to read (and none kept, see counted())
                stored, recorded, sent = {}, set(), set()
                self.settled = None
            else:
                stored = self._month_spend(store, now, month)
                # Taken after the sums were read: a record counted here and written before the read is in
                # ``stored`` and found in ``recorded``, so it is not counted a second time from memory.
                recorded = store.recorded_usages(self.spend.pending_interceptions())
                sent = store.sent_notices(month)
        self.usernames = usernames
        self.sent = {(user_id, month, percent) for user_id, percent in sent}
        self.spend.refreshed(month, stored, recorded if not rules.empty else None)
        self.rules = rules
        self._send_notices(store, month, now)

    def _rules(self, store: BudgetStore) -> tuple[Rules, dict[str, str]]:
        """The budgets, groups and people: read again when they changed, and at least every SETTLE_SECONDS."""
        version = store.rules_version()
        if version == self._rules_version and self.monotonic() - self._rules_at < SETTLE_SECONDS:
            return self.rules, self.usernames
        usernames = store.usernames()
        rules = store.rules(usernames)
        self._rules_version, self._rules_at = version, self.monotonic()
        return rules, usernames

    def _month_spend(self, store: BudgetStore, now: dt.datetime, month: str) -> dict[str, int]:
        """The month's spend per person: a *settled* part (records up to an id seen a while ago), summed over the
        whole month every SETTLE_SECONDS, plus the records above that id, read at every refresh (few rows, through
        the primary key). So a refresh reads minutes of records, not the month.

        The settled part ends at the highest id seen at the previous settling: a record numbered below it but
        committed later than that (PostgreSQL numbers rows before they commit) counts from the next settling.
        """
        settled = self.settled
        if settled is None or settled.month != month or self.monotonic() - settled.at >= SETTLE_SECONDS:
            top = store.last_usage_id()
            bound = settled.next_bound if settled is not None and settled.month == month else top
            settled = Settled(month, bound, store.month_spend(now, up_to_id=bound), top, self.monotonic())
            self.settled = settled
        totals = dict(settled.totals)
        for user_id, nanos in store.newest_spend(now, settled.bound).items():
            totals[user_id] = totals.get(user_id, 0) + nanos
        return totals

    def _open_store(self) -> BudgetStore:
        if self._store is None:
            self._store = BudgetStore.open(self.database)
        return self._store

    # Notices at 85 % and 100 %

    def _unsent_thresholds(self, user_id: str, spent: int, budget: Budget, month: str | None) -> list[int]:
        return [percent for percent in THRESHOLDS
                if spent * 100 >= budget.nanos * percent and (user_id, month, percent) not in self.sent]

    def _send_notices(self, store: BudgetStore, month: str, now: dt.datetime) -> None:
        for user_id, spent in self.spend.totals(month).items():
            budget = self.rules.budget_for(user_id)
            if budget is None or spent <= 0:
                continue
            for percent in self._unsent_thresholds(user_id, spent, budget, month):
                self.sent.add((user_id, month, percent))
                if store.claim_notice(user_id, month, percent, spent, budget.nanos):
                    self._notify(user_id, percent, spent, budget, now)

    def _notify(self, user_id: str, percent: int, spent: int, budget: Budget, now: dt.datetime) -> None:
        username = self.usernames.get(user_id, user_id)
        used = percent_used(spent, budget.nanos)
        (self._log or log).warning("budget: %s has spent %s of %s (%s) this month (%s%%, past %s%%); it resets on %s",
                                   username, usd_text(spent), budget.describe(), usd_text(budget.nanos), used,
                                   percent, reset_text(now))
        self.announce({"user_id": user_id, "username": username, "percent": percent, "spent_usd": usd(spent),
                       "budget_usd": usd(budget.nanos), "budget": budget.source, "resets_at": next_month_start(now)})
