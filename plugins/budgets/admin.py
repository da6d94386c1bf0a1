"""Groups, budgets and each person's spend this month, for another plugin's pages (``aibridge_budgets_admin``).

The same store and rules as ``aibridge groups`` and ``aibridge budgets``; money
stays integer nano-dollars, and amounts typed in are read with Decimal. Every
method but ``person`` (memory only) opens the database, does a short
transaction or a consistent read, and closes it: call them from an OS thread,
never on the gevent hub. A change wakes this gateway's refresh, so it applies
here at once (and on the other instances within their refresh interval).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .money import nanos_of_usd, percent_used
from .month import month_key, reset_text
from .store import BudgetStore

SCOPES = ("user", "group", "default")


class BudgetsAdmin:
    """What the "Groups and budgets" page shows and changes; errors are ValueError with the message to show."""

    def __init__(self, keeper):
        self.keeper = keeper  # this gateway's BudgetKeeper: its database, clock, and the budgets it enforces
        self.database = keeper.database

    def overview(self) -> dict[str, Any]:
        """``month``, ``resets_at``, the ``default`` budget (nano-dollars or None), the ``groups`` (name, members,
        monthly_usd_nanos) and ``people``: each person's budget, where it comes from, their spend and % used."""
        now = self.keeper.clock()
        with self._store() as store, store.db.snapshot():
            rules, usernames, spend, groups = store.rules(), store.usernames(), store.month_spend(now), store.groups()
        people = [_person(user_id, username, rules, spend.get(user_id, 0))
                  for user_id, username in sorted(usernames.items(), key=lambda item: item[1])]
        default = rules.default.nanos if rules.default is not None else None
        return {"month": month_key(now), "resets_at": reset_text(now), "default_usd_nanos": default,
                "groups": groups, "people": people}

    def person(self, user_id: str) -> dict[str, Any]:
        """One person's line of :meth:`overview` (with ``month`` and ``resets_at``) as this gateway enforces it now:
        from its memory (no database read, so callable on the hub), current within the refresh interval."""
        now, keeper = self.keeper.clock(), self.keeper
        month = keeper.month_of(now)
        username = keeper.usernames.get(user_id, "")
        return {**_person(user_id, username, keeper.rules, keeper.spend.of(user_id, month)), "month": month,
                "resets_at": reset_text(now)}

    def create_group(self, name: str) -> None:
        self._change(lambda store: store.create_group(name.strip()))

    def delete_group(self, name: str) -> None:
        self._change(lambda store: store.delete_group(name))

    def add_member(self, group: str, username: str) -> None:
        self._change(lambda store: store.add_member(group, username.strip()))

    def remove_member(self, group: str, username: str) -> None:
        self._change(lambda store: store.remove_member(group, username))

    def set_budget(self, scope: str, name: str | None, monthly_usd: str) -> int:
        """Set the monthly budget of a user, a group or the default from typed dollars; returns its nano-dollars."""
        nanos = nanos_of_usd(monthly_usd)  # ValueError says what is wrong with the amount
        self._change(lambda store: store.set_budget(_scope(scope), name, nanos))
        return nanos

    def unset_budget(self, scope: str, name: str | None) -> None:
        self._change(lambda store: store.unset_budget(_scope(scope), name))

    def _change(self, change) -> None:
        with self._store() as store:
            change(store)
        self.keeper.refresh_soon()  # applies here now, not at the next interval

    def _store(self):
        return contextlib.closing(BudgetStore.open(self.database, create=False))


def _scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"a budget is a user's, a group's or the default, not {scope!r}")
    return scope


def _person(user_id: str, username: str, rules, spent: int) -> dict[str, Any]:
    budget, own = rules.budget_for(user_id), rules.own.get(user_id)
    return {"user_id": user_id, "username": username, "spent_usd_nanos": spent,
            "budget_usd_nanos": None if budget is None else budget.nanos,
            "budget_source": None if budget is None else budget.source,
            "own_usd_nanos": None if own is None else own.nanos,
            "used_percent": None if budget is None else percent_used(spent, budget.nanos)}
