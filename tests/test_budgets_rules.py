"""The budgets' parts that need no server: which budget applies, money, months, the spend kept in memory, and the
``aibridge groups`` / ``aibridge budgets`` commands' answers on both stores."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from support.budgets_support import run_cli
from support.recorder_support import user_with_token

from aibridge.config import Config
from aibridge_plugins.budgets.money import nanos_of_usd, percent_used, usd, usd_text
from aibridge_plugins.budgets.month import month_key, next_month_start, reset_text
from aibridge_plugins.budgets.rules import build_rules
from aibridge_plugins.budgets.spend import Spend

UTC = dt.timezone.utc


def test_a_users_own_budget_overrides_else_the_highest_of_groups_and_default():
    budgets = [
        {"scope": "group", "subject_id": "g-small", "monthly_usd_nanos": 10, "name": "small"},
        {"scope": "group", "subject_id": "g-large", "monthly_usd_nanos": 30, "name": "large"},
        {"scope": "default", "subject_id": "", "monthly_usd_nanos": 20, "name": None},
        {"scope": "user", "subject_id": "u-own", "monthly_usd_nanos": 5, "name": None},
    ]
    members = [{"group_id": "g-small", "user_id": u} for u in ("u-both", "u-small", "u-own")] + [
        {"group_id": "g-large", "user_id": "u-both"}]
    rules = build_rules(budgets, members, {"u-own": "olga"})
    assert (rules.budget_for("u-both").nanos, rules.budget_for("u-both").source) == (30, "group:large")
    assert (rules.budget_for("u-small").nanos, rules.budget_for("u-small").source) == (20, "default")
    assert (rules.budget_for("u-nobody").nanos, rules.budget_for("u-nobody").source) == (20, "default")
    own = rules.budget_for("u-own")  # lower than every other one, and still hers
    assert (own.nanos, own.source, own.describe()) == (5, "user", "the monthly budget of user olga")
    without_default = build_rules(budgets[:2], members, {})
    assert without_default.budget_for("u-nobody") is None and not without_default.empty
    assert build_rules([], members, {}).empty


def test_money_is_exact_nano_dollars():
    assert nanos_of_usd("12.50") == 12_500_000_000 and nanos_of_usd("$0.000000001") == 1 and nanos_of_usd("0") == 0
    for wrong in ("-1", "abc", "NaN", "Infinity", "", "1e20", "1e999990"):  # past a billion: refused at once
        with pytest.raises(ValueError):
            nanos_of_usd(wrong)
    assert usd(351_000) == Decimal("0.000351") and str(usd(50 * 10**9)) == "50"
    assert (usd_text(50 * 10**9), usd_text(351_000), usd_text(1_234_567_890_000)) == ("$50.00", "$0.000351",
                                                                                      "$1,234.56789")
    assert (percent_used(85, 100), percent_used(1, 3), percent_used(0, 0)) == (85.0, 33.33, 100.0)


def test_months_are_calendar_months_in_utc():
    last_moment = dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert month_key(last_moment) == "2026-12" and next_month_start(last_moment) == dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert month_key(last_moment + dt.timedelta(microseconds=1)) == "2027-01"
    # 23:30 on the 31st in New York is already the next month in UTC.
    new_york = dt.timezone(dt.timedelta(hours=-5))
    assert month_key(dt.datetime(2027, 1, 31, 23, 30, tzinfo=new_york)) == "2027-02"
    assert reset_text(dt.datetime(2027, 2, 10, tzinfo=UTC)) == "2027-03-01 00:00 UTC"


def test_spend_counts_a_record_once_before_and_after_the_store_has_it():
    spend = Spend()
    spend.refreshed("2026-12", {"alice": 100}, set())  # the store: 100 spent by any instance
    at = dt.datetime(2026, 12, 2, 10, tzinfo=UTC)
    assert spend.add("alice", "i-1", "msg-1", at, 7, "2026-12") == 107  # counted at once
    assert spend.of("alice", "2026-12") == 107
    spend.refreshed("2026-12", {"alice": 100}, set())  # the recorder has not written it yet: still counted
    assert spend.of("alice", "2026-12") == 107
    spend.refreshed("2026-12", {"alice": 107}, {("i-1", "msg-1", at)})  # written: the store's sum has it
    assert spend.of("alice", "2026-12") == 107 and spend.pending == 0
    assert spend.of("alice", "2027-01") == 0  # a month not read yet starts empty
    spend.add("alice", "i-2", "msg-2", at, 5, "2026-12")
    spend.refreshed("2027-01", {}, set())  # a new month: last month's pending records count no more
    assert spend.of("alice", "2027-01") == 0 and spend.pending == 0


def test_group_and_budget_commands_say_what_is_wrong(tmp_path, store):
    config = Config(data_dir=tmp_path, **store)
    user_with_token(config.database, "alice")
    assert run_cli(config, "groups", "create", "eng") == "created group eng\n"
    assert "group 'eng' already exists" in run_cli(config, "groups", "create", "eng", expect=1)
    assert "invalid group name 'Eng!'" in run_cli(config, "groups", "create", "Eng!", expect=1)
    assert run_cli(config, "groups", "add", "eng", "alice") == "added alice to group eng\n"
    assert "user 'alice' is already in group 'eng'" in run_cli(config, "groups", "add", "eng", "alice", expect=1)
    assert "unknown user 'zed'" in run_cli(config, "groups", "add", "eng", "zed", expect=1)
    assert "unknown group 'ops'" in run_cli(config, "groups", "add", "ops", "alice", expect=1)
    assert "unknown group 'ops'" in run_cli(config, "budgets", "set", "--group", "ops", "--monthly-usd", "5", expect=1)
    assert "exactly one of --user" in run_cli(config, "budgets", "set", "--user", "alice", "--default",
                                             "--monthly-usd", "5", expect=2)
    assert "not an amount of US dollars" in run_cli(config, "budgets", "set", "--default", "--monthly-usd", "-5",
                                                    expect=2)
    assert run_cli(config, "budgets", "set", "--group", "eng", "--monthly-usd", "12.5") == (
        "set the budget of group eng to $12.50 a month\n")
    run_cli(config, "budgets", "set", "--group", "eng", "--monthly-usd", "20")  # set again: replaced
    assert json.loads(run_cli(config, "groups", "list", "--format", "json")) == [
        {"name": "eng", "members": ["alice"], "monthly_usd": "20"}]
    (alice,) = json.loads(run_cli(config, "budgets", "list", "--format", "json"))
    assert (alice["username"], alice["budget_usd"], alice["budget"], alice["spent_usd"], alice["used_percent"]) == (
        "alice", "20", "group:eng", "0", 0.0)
    assert "default budget" in run_cli(config, "budgets", "unset", "--default", expect=1)
    assert "unknown user 'bob'" in run_cli(config, "groups", "remove", "eng", "bob", expect=1)
    run_cli(config, "groups", "remove", "eng", "alice")
    assert "user 'alice' is not in group 'eng'" in run_cli(config, "groups", "remove", "eng", "alice", expect=1)
    run_cli(config, "groups", "delete", "eng")
    assert json.loads(run_cli(config, "groups", "list", "--format", "json")) == []
    csv_lines = run_cli(config, "budgets", "list", "--format", "csv").splitlines()
    assert csv_lines[0] == "username,user_id,month,budget_usd,budget,spent_usd,used_percent,resets_at"
    assert csv_lines[1].startswith("alice,") and ",,," in csv_lines[1]  # no budget: empty cells
