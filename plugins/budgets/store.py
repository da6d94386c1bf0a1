"""Groups, budgets, spend and sent notices in the gateway's database (SQLite or PostgreSQL).

Every method is a short statement or transaction; the CLI calls them, and the
gateway's background refresh (on its own OS thread, never on a request).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import aibridge

from .month import month_start, next_month_start, stored_time, utcnow
from .rules import Rules, build_rules

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
IN_CHUNK = 500  # interception ids per IN (...) list: well under SQLite's limit of bound values


class BudgetError(ValueError):
    """A group or budget operation that cannot be done: the message says why."""


class BudgetStore:
    """The budgets' tables of one open :class:`aibridge.Database`, migrated on first use."""

    def __init__(self, db):
        from ..storage.schema import migrate as migrate_records
        from .schema import migrations

        self.db = db
        self._has_costs = False
        migrate_records(db)  # the token records the spend is summed from, indexed by the budgets' own migrations
        aibridge.migrate(db, migrations)

    @classmethod
    def open(cls, database, **options) -> BudgetStore:
        """The store of ``database`` (a path or URL; ``options`` for ``aibridge.open_database``), migrated; the
        connection is closed when migrating fails."""
        db = aibridge.open_database(database, **options)
        try:
            return cls(db)
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        self.db.close()

    # People and groups

    def user_id(self, username: str) -> str:
        row = self.db.query("SELECT id FROM users WHERE username = ?", [username])
        if not row:
            raise BudgetError(f"unknown user {username!r} (see aibridge users list)")
        return row[0]["id"]

    def usernames(self) -> dict[str, str]:
        return {row["id"]: row["username"] for row in self.db.query("SELECT id, username FROM users")}

    def group_id(self, name: str) -> str:
        row = self.db.query("SELECT id FROM groups WHERE name = ?", [name])
        if not row:
            raise BudgetError(f"unknown group {name!r} (see aibridge groups list)")
        return row[0]["id"]

    def create_group(self, name: str) -> None:
        if not NAME_PATTERN.match(name):
            raise BudgetError(f"invalid group name {name!r}: use lower-case letters, digits, '-' and '_' "
                              "(at most 64, starting with a letter or digit)")
        try:
            with self.db.transaction():
                self.db.execute("INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)",
                                [str(uuid.uuid4()), name, stored_time(utcnow())])
        except self.db.errors() as error:
            if self.db.refuses(error):
                raise BudgetError(f"group {name!r} already exists") from None
            raise

    def delete_group(self, name: str) -> None:
        """Delete a group, its memberships and its budget (its members keep their own and the default)."""
        group = self.group_id(name)
        with self.db.transaction():
            self.db.execute("DELETE FROM group_members WHERE group_id = ?", [group])
            self.db.execute("DELETE FROM budgets WHERE scope = 'group' AND subject_id = ?", [group])
            self.db.execute("DELETE FROM groups WHERE id = ?", [group])

    def add_member(self, name: str, username: str) -> None:
        group, user = self.group_id(name), self.user_id(username)
        try:
            with self.db.transaction():
                self.db.execute("INSERT INTO group_members (group_id, user_id, added_at) VALUES (?, ?, ?)",
                                [group, user, stored_time(utcnow())])
        except self.db.errors() as error:
            if self.db.refuses(error):
                raise BudgetError(f"user {username!r} is already in group {name!r}") from None
            raise

    def remove_member(self, name: str, username: str) -> None:
        group, user = self.group_id(name), self.user_id(username)
        with self.db.transaction():
            removed = self.db.execute("DELETE FROM group_members WHERE group_id = ? AND user_id = ?",
                                      [group, user]).rowcount
        if not removed:
            raise BudgetError(f"user {username!r} is not in group {name!r}")

    def groups(self) -> list[dict]:
        """Every group with its members' usernames and its budget (nano-dollars or None), by name."""
        groups = self.db.query("SELECT g.id, g.name, g.created_at, b.monthly_usd_nanos FROM groups g "
                               "LEFT JOIN budgets b ON b.scope = 'group' AND b.subject_id = g.id ORDER BY g.name")
        members: dict[str, list[str]] = {}
        for row in self.db.query("SELECT m.group_id, u.username FROM group_members m JOIN users u ON u.id = m.user_id "
                                 "ORDER BY u.username"):
            members.setdefault(row["group_id"], []).append(row["username"])
        return [{"name": g["name"], "members": members.get(g["id"], []), "monthly_usd_nanos": g["monthly_usd_nanos"],
                 "created_at": g["created_at"]} for g in groups]

    # Budgets

    def subject(self, scope: str, name: str | None) -> str:
        """The stored subject of a budget: the user's or group's id ('' for the default)."""
        if scope == "user":
            return self.user_id(name)
        if scope == "group":
            return self.group_id(name)
        return ""

    def set_budget(self, scope: str, name: str | None, nanos: int) -> None:
        subject = self.subject(scope, name)
        with self.db.transaction():
            self.db.execute("INSERT INTO budgets (scope, subject_id, monthly_usd_nanos, updated_at) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT (scope, subject_id) DO UPDATE SET monthly_usd_nanos = excluded.monthly_usd_nanos, "
                            "updated_at = excluded.updated_at", [scope, subject, nanos, stored_time(utcnow())])

    def unset_budget(self, scope: str, name: str | None) -> None:
        subject = self.subject(scope, name)
        with self.db.transaction():
            removed = self.db.execute("DELETE FROM budgets WHERE scope = ? AND subject_id = ?", [scope, subject]).rowcount
        if not removed:
            whose = "no default budget is set" if scope == "default" else f"{scope} {name!r} has no budget"
            raise BudgetError(whose)

    def rules(self, usernames: dict[str, str] | None = None) -> Rules:
        budgets = self.db.query("SELECT b.scope, b.subject_id, b.monthly_usd_nanos, g.name FROM budgets b "
                                "LEFT JOIN groups g ON b.scope = 'group' AND g.id = b.subject_id")
        members = self.db.query("SELECT group_id, user_id FROM group_members")
        return build_rules(budgets, members, self.usernames() if usernames is None else usernames)

    def rules_version(self) -> tuple:
        """Changes whenever a budget, a group or a membership does (counts and newest times: a few index reads)."""
        row = self.db.query("SELECT (SELECT count(*) FROM budgets) AS budgets, (SELECT max(updated_at) FROM budgets) "
                            "AS budget_changed, (SELECT count(*) FROM group_members) AS members, (SELECT max(added_at) "
                            "FROM group_members) AS member_added, (SELECT count(*) FROM groups) AS groups_count")[0]
        return tuple(row.values())

    # Spend (token_usages.cost_usd_nanos of the recorder's tables; unpriced records count nothing)

    def month_spend(self, now: dt.datetime, up_to_id: int | None = None) -> dict[str, int]:
        """Nano-dollars spent per user id in the UTC month of ``now`` (the month of each token record); only the
        records whose ``id`` is at most ``up_to_id`` when given. Reads the month's records through the index on
        their time (m002), not the whole table."""
        if not self._costs_recorded():
            return {}  # nothing was ever recorded here, or by a recorder that does not price records yet
        where, params = "t.created_at >= ? AND t.created_at < ? AND t.cost_usd_nanos IS NOT NULL", [
            stored_time(month_start(now)), stored_time(next_month_start(now))]
        if up_to_id is not None:
            where += " AND t.id <= ?"
            params.append(up_to_id)
        rows = self.db.query("SELECT i.initiator_id AS user_id, SUM(t.cost_usd_nanos) AS nanos FROM token_usages t "
                             f"JOIN interceptions i ON i.id = t.interception_id WHERE {where} "
                             "GROUP BY i.initiator_id", params)
        return {row["user_id"]: int(row["nanos"]) for row in rows if row["nanos"]}

    def newest_spend(self, now: dt.datetime, after_id: int) -> dict[str, int]:
        """As :meth:`month_spend`, of the records whose ``id`` is above ``after_id`` (the few newest ones).

        Read through the primary key, their month checked here: with the time in the query SQLite would
        rather read the whole month through the time's index."""
        if not self._costs_recorded():
            return {}
        start, end = stored_time(month_start(now)), stored_time(next_month_start(now))  # text order is time order
        rows = self.db.query("SELECT i.initiator_id AS user_id, t.created_at, t.cost_usd_nanos AS nanos "
                             "FROM token_usages t JOIN interceptions i ON i.id = t.interception_id "
                             "WHERE t.id > ? AND t.cost_usd_nanos IS NOT NULL", [after_id])
        totals: dict[str, int] = {}
        for row in rows:
            if start <= row["created_at"] < end:
                totals[row["user_id"]] = totals.get(row["user_id"], 0) + int(row["nanos"])
        return {user_id: nanos for user_id, nanos in totals.items() if nanos}

    def last_usage_id(self) -> int:
        """The highest token record id (read from the primary key's index alone)."""
        if not self._costs_recorded():
            return 0
        return int(self.db.value("SELECT max(id) AS top FROM token_usages") or 0)

    def _costs_recorded(self) -> bool:
        if not self._has_costs:  # once there, the column stays
            self._has_costs = "cost_usd_nanos" in self.db.columns("token_usages")
        return self._has_costs

    def recorded_usages(self, interception_ids: list[str]) -> set[tuple[str, str, dt.datetime]]:
        """(interception id, msg id, created_at) of the token records of these interceptions that are stored."""
        found = set()
        if not self._costs_recorded():
            return found  # no recorder writes here: what this process saw stays counted in memory until the month ends
        for start in range(0, len(interception_ids), IN_CHUNK):
            chunk = interception_ids[start:start + IN_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            for row in self.db.query("SELECT interception_id, msg_id, created_at FROM token_usages "
                                     f"WHERE interception_id IN ({marks})", chunk):
                found.add((row["interception_id"], row["msg_id"] or "", dt.datetime.fromisoformat(row["created_at"])))
        return found

    # Notices

    def sent_notices(self, month: str) -> set[tuple[str, int]]:
        return {(row["user_id"], int(row["percent"])) for row in
                self.db.query("SELECT user_id, percent FROM budget_notifications WHERE month = ?", [month])}

    def claim_notice(self, user_id: str, month: str, percent: int, spent: int, budget: int) -> bool:
        """Whether this call recorded the notice first (then the caller sends it; another instance will not)."""
        with self.db.transaction():
            cursor = self.db.execute(
                "INSERT INTO budget_notifications (user_id, month, percent, spent_usd_nanos, budget_usd_nanos, sent_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, month, percent) DO NOTHING",
                [user_id, month, percent, spent, budget, stored_time(utcnow())])
            return cursor.rowcount == 1
