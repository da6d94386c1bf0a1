"""The budgets' tables (migration set ``aibridge-budgets``), on SQLite and PostgreSQL alike.

Add a new migration for every change; never edit one that shipped. Money is
integer nano-dollars (1e-9 USD); times are UTC ISO 8601 text, months ``YYYY-MM``.
"""

from __future__ import annotations

import aibridge

migrations = aibridge.Migrations("aibridge-budgets")


@migrations()
def m001_groups_budgets_notifications(db: aibridge.Database) -> None:
    t = db.text
    db.execute(f"CREATE TABLE groups (id {t} PRIMARY KEY, name {t} NOT NULL UNIQUE, created_at {t} NOT NULL)")
    db.execute(f"CREATE TABLE group_members (group_id {t} NOT NULL, user_id {t} NOT NULL, added_at {t} NOT NULL, "
               "PRIMARY KEY (group_id, user_id))")
    db.execute(f"CREATE INDEX idx_group_members_user_id ON group_members (user_id)")
    # scope: user, group or default; subject_id: the user's or group's id ('' for the default).
    db.execute(f"CREATE TABLE budgets (scope {t} NOT NULL CHECK (scope IN ('user', 'group', 'default')), "
               f"subject_id {t} NOT NULL, monthly_usd_nanos BIGINT NOT NULL CHECK (monthly_usd_nanos >= 0), "
               f"updated_at {t} NOT NULL, PRIMARY KEY (scope, subject_id))")
    # One row per person, month and percent notified: every instance and restart sends each notice once.
    db.execute(f"CREATE TABLE budget_notifications (user_id {t} NOT NULL, month {t} NOT NULL, percent INTEGER NOT NULL, "
               f"spent_usd_nanos BIGINT NOT NULL, budget_usd_nanos BIGINT NOT NULL, sent_at {t} NOT NULL, "
               "PRIMARY KEY (user_id, month, percent))")


@migrations()
def m002_token_usages_by_time(db: aibridge.Database) -> None:
    # Every gateway process sums the month's spend once a minute: through this index it reads the month's token
    # records alone (their time, interception, cost and id), not the whole table. By time, not by id: ids do not
    # follow created_at (the recorder's spool writes records late, PostgreSQL numbers rows before they commit).
    # The recorder's tables are migrated before this set (BudgetStore, aibridge_migrations).
    db.execute("CREATE INDEX idx_token_usages_spend ON token_usages (created_at, interception_id, cost_usd_nanos, id)")
