"""The budgets' background refresh against the real store, SQLite and PostgreSQL: who counts as blocked, a record
written while a refresh reads, and the store's connection when migrating fails."""

from __future__ import annotations

import datetime as dt

import pytest
from support.budgets_support import run_cli
from support.recorder_support import user_with_token

import aibridge
from aibridge import TokenUsage
from aibridge.config import Config
from aibridge_plugins.budgets.keeper import BudgetKeeper
from aibridge_plugins.budgets.month import stored_time
from aibridge_plugins.budgets.store import BudgetStore
from aibridge_plugins.storage.schema import migrate as migrate_records

UTC = dt.timezone.utc


@pytest.fixture
def config(tmp_path, store) -> Config:
    config = Config(data_dir=tmp_path, **store)
    with aibridge.open_database(config.database) as db:
        migrate_records(db)  # the recorder's tables, where the spend is read from
    return config


def test_a_default_budget_of_zero_blocks_and_counts_everyone_known(config):
    alice, _ = user_with_token(config.database, "alice")
    bob, _ = user_with_token(config.database, "bob")
    run_cli(config, "budgets", "set", "--default", "--monthly-usd", "0")
    keeper = BudgetKeeper(config.database, announce=lambda notice: None)
    try:
        keeper.refresh()
        assert keeper.check(alice) is not None and keeper.check(bob) is not None
        assert keeper.blocked_users() == 2  # neither spent anything: blocked all the same
        run_cli(config, "budgets", "set", "--user", "bob", "--monthly-usd", "5")
        keeper.refresh()
        assert keeper.check(bob) is None and keeper.blocked_users() == 1
    finally:
        keeper._store.close()


class RecordedMeanwhile(BudgetKeeper):
    """A keeper during whose refresh, as it opens the store, a request of this process counts a token record and
    the recorder writes it (``meanwhile``: (user id, usage))."""

    meanwhile: tuple | None = None

    def _open_store(self):
        store = super()._open_store()
        if self.meanwhile is not None:
            user_id, usage = self.meanwhile
            self.meanwhile = None
            self.counted(user_id, "alice", usage.interception_id, usage)
            _write_usage(store.db, user_id, usage)
        return store


def test_a_record_written_while_the_refresh_starts_counts_once(config):
    alice, _ = user_with_token(config.database, "alice")
    run_cli(config, "budgets", "set", "--user", "alice", "--monthly-usd", "1")
    keeper = RecordedMeanwhile(config.database, announce=lambda notice: None)
    try:
        keeper.refresh()
        month = keeper.month_of(keeper.clock())
        usage = TokenUsage(interception_id="i-1", msg_id="msg-1", created_at=dt.datetime.now(UTC),
                           cost_usd_nanos=600_000_000)  # $0.60 of the $1 budget
        keeper.meanwhile = (alice, usage)
        keeper.refresh()
        assert keeper.spend.of(alice, month) == 600_000_000  # the store's sum has it: not counted again
        assert keeper.check(alice) is None and keeper.spend.pending == 0
    finally:
        keeper._store.close()


def _write_usage(db, user_id: str, usage: TokenUsage) -> None:
    with db.transaction():
        db.execute("INSERT INTO interceptions (id, initiator_id, started_at) VALUES (?, ?, ?)",
                   [usage.interception_id, user_id, stored_time(usage.created_at)])
        db.execute("INSERT INTO token_usages (interception_id, msg_id, created_at, cost_usd_nanos) VALUES (?, ?, ?, ?)",
                   [usage.interception_id, usage.msg_id, stored_time(usage.created_at), usage.cost_usd_nanos])


def test_the_connection_is_closed_when_migrating_fails(config, monkeypatch):
    with aibridge.open_database(config.database) as db:  # a table in the way of the budgets' first migration
        db.execute("CREATE TABLE groups (unrelated INTEGER)")
        if db.is_postgres:
            db.conn.commit()
    opened = []
    real_open = aibridge.open_database

    def open_database(database):
        opened.append(real_open(database))
        return opened[-1]

    monkeypatch.setattr(aibridge, "open_database", open_database)
    with pytest.raises(Exception):
        BudgetStore.open(config.database)
    (db,) = opened
    with pytest.raises(Exception):
        db.conn.execute("SELECT 1")  # closed


def test_the_month_is_summed_through_the_time_index_and_the_newest_records_by_id(config):
    """EXPLAIN on either store: the minute's sum reads the month's records by time, not every token record; the
    2-second read of the newest ones reads them by id, not the month."""
    alice, _ = user_with_token(config.database, "alice")
    now = dt.datetime.now(UTC)
    last_month = now.replace(day=1) - dt.timedelta(days=3)
    store = BudgetStore.open(config.database)
    try:
        with store.db.transaction():  # two months of older records first: this month is a small part of the table
            for number in range(1500):
                at = stored_time(now - dt.timedelta(days=35 + number % 60))
                store.db.execute("INSERT INTO token_usages (interception_id, msg_id, created_at, cost_usd_nanos) "
                                 "VALUES (?, ?, ?, ?)", [f"old-{number}", "m", at, 1])
        for number, at in enumerate((now, last_month, now, last_month)):  # last month's written late too (a spool)
            _write_usage(store.db, alice, TokenUsage(interception_id=f"i-{number}", msg_id="m", created_at=at,
                                                     cost_usd_nanos=10 + number))
        if store.db.is_postgres:
            store.db.execute("ANALYZE")
            store.db.conn.commit()
        first = int(store.db.value("SELECT min(id) FROM token_usages WHERE interception_id = 'i-0'"))
        asked = []
        query = store.db.query
        store.db.query = lambda sql, params=(): asked.append((sql, list(params))) or query(sql, params)
        assert store.month_spend(now, up_to_id=first + 3) == {alice: 10 + 12}
        assert store.newest_spend(now, first) == {alice: 12}
        store.db.query = query
        (month_sql, month_params), (newest_sql, newest_params) = [q for q in asked if "token_usages t" in q[0]]
        month_plan, newest_plan = _plan(store.db, month_sql, month_params), _plan(store.db, newest_sql, newest_params)
        assert "idx_token_usages_spend" in month_plan, month_plan
        assert "idx_token_usages_spend" not in newest_plan and ("PRIMARY KEY" in newest_plan or "pkey" in newest_plan)
    finally:
        store.close()


def _plan(db, sql: str, params: list) -> str:
    explain = "EXPLAIN " if db.is_postgres else "EXPLAIN QUERY PLAN "
    return "\n".join(str(list(row.values())[-1]) for row in db.query(explain + sql, params))


def test_budgets_with_a_retention_shorter_than_a_month_warn_at_startup(tmp_path, upstream, caplog):
    from support.gateway import Gateway, gateway_config

    config = gateway_config(tmp_path, upstream.url, retention=dt.timedelta(days=7))
    run_cli(config, "budgets", "set", "--default", "--monthly-usd", "10")
    with caplog.at_level("WARNING", logger="aibridge.budgets"):
        Gateway(config).close()
        Gateway(gateway_config(tmp_path, upstream.url, retention=dt.timedelta(days=31))).close()
    warned = [record.getMessage() for record in caplog.records if "budgets undercount" in record.getMessage()]
    assert len(warned) == 1 and "7 days" in warned[0], warned
