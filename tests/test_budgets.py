"""Monthly budgets (docs/cost.md#budgets), over HTTP with the official SDKs against the fake upstream.

A person at or over the budget that applies to them gets 403 in their API's
error shape before anything goes upstream, and the refusal is recorded; the
requests already in flight finish; a budget raised with ``aibridge budgets
set`` lets them through again without a restart; a new month starts empty;
the 85 % and 100 % notices go out once.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import anthropic
import openai
import pytest
from support.budgets_support import budgets_json, keeper, refreshed, run_cli
from support.gateway import Gateway, gateway_config
from support.recorder_support import read_rows, wait_until

import aibridge

MESSAGE = dict(model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hello"}])
NANOS = 10**9


@pytest.fixture(scope="module")
def gw(tmp_path_factory, upstream):
    with Gateway(gateway_config(tmp_path_factory.mktemp("budgets"), upstream.url)) as gateway:
        yield gateway


@pytest.fixture
def records(gw, upstream):
    with gw.collecting(upstream) as collector:
        yield collector


def anthropic_client(gw, token) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=token, base_url=gw.bridge_url("anthropic"), max_retries=0)


def openai_client(gw, token) -> openai.OpenAI:
    return openai.OpenAI(api_key=token, base_url=gw.bridge_url("openai") + "/v1", max_retries=0)


def usd(nanos: int) -> str:
    return str(Decimal(nanos) / NANOS)


def ask(gw, upstream, token: str):
    upstream.queue("anthropic/blocking_text")
    return anthropic_client(gw, token).messages.create(**MESSAGE)


def cost_of_one_answer(gw, upstream, records) -> int:
    """What one anthropic/blocking_text answer costs (nano-dollars), asked by someone without a budget."""
    ask(gw, upstream, gw.create_token("meter"))
    (usage,) = records.of("token_usage")
    records.clear()
    assert usage.cost_usd_nanos and usage.cost_usd_nanos > 0, "the fixture's model must have a price"
    return usage.cost_usd_nanos


def test_over_budget_gets_403_in_the_anthropic_shape_and_is_recorded(gw, upstream, records):
    token = gw.create_token("zero-anthropic")
    run_cli(gw.config, "budgets", "set", "--user", "zero-anthropic", "--monthly-usd", "0")
    refreshed(gw)
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        ask(gw, upstream, token)
    body = refused.value.body
    assert refused.value.status_code == 403
    assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    message = body["error"]["message"]
    assert "budget exceeded: zero-anthropic has spent $0.00 this month" in message
    assert "the monthly budget of user zero-anthropic ($0.00)" in message
    resets = (dt.datetime.now(dt.timezone.utc).replace(day=28) + dt.timedelta(days=4)).strftime("%Y-%m-01 00:00 UTC")
    assert f"it resets on {resets}" in message
    assert upstream.requests == []  # nothing went upstream
    (ended,) = records.wait_for_ends(1)
    assert ended.status == "failed" and ended.error.kind == "budget" and ended.error.message == message
    assert ended.initiator_username == "zero-anthropic" and ended.model == "claude-sonnet-4-5"
    # Stored as such: the audit API and the dashboard show who was turned away, and why.
    stored = wait_until(lambda: [row for row in read_rows(gw.config.database_path, "interceptions")
                                 if row["id"] == ended.interception_id and row["ended_at"]], what="the refusal stored")
    assert stored[0]["status"] == "failed" and json.loads(stored[0]["error"])["kind"] == "budget"


def test_over_budget_gets_403_in_the_openai_shape(gw, upstream, records):
    token = gw.create_token("zero-openai")
    run_cli(gw.config, "budgets", "set", "--user", "zero-openai", "--monthly-usd", "0")
    refreshed(gw)
    client = openai_client(gw, token)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 403
    assert refused.value.code == "budget_exceeded" and refused.value.type == "permission_error"
    assert "budget exceeded: zero-openai has spent $0.00" in refused.value.message
    with pytest.raises(openai.PermissionDeniedError):
        client.responses.create(model="gpt-4o", input="hi", stream=True)
    assert upstream.requests == []
    assert [end.error.kind for end in records.wait_for_ends(2)] == ["budget", "budget"]


def test_raising_the_budget_lets_the_person_through_without_a_restart(gw, upstream, records):
    token = gw.create_token("raised")
    run_cli(gw.config, "groups", "create", "raised-team")
    run_cli(gw.config, "groups", "add", "raised-team", "raised")
    run_cli(gw.config, "budgets", "set", "--group", "raised-team", "--monthly-usd", "0")
    refreshed(gw)
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        ask(gw, upstream, token)
    assert "the monthly budget of group raised-team ($0.00)" in refused.value.message
    run_cli(gw.config, "budgets", "set", "--group", "raised-team", "--monthly-usd", "25")
    # Within the refresh interval (2 s; at most 5 s): polled, each refused try costs nothing upstream.
    wait_until(lambda: _allowed(gw, upstream, token), timeout=10, what="the raised budget to take effect")
    upstream.reset()


def _allowed(gw, upstream, token) -> bool:
    try:
        ask(gw, upstream, token)
    except anthropic.PermissionDeniedError:
        return False
    return True


def test_reaching_the_budget_blocks_the_next_request_not_the_one_in_flight(gw, upstream, records):
    price = cost_of_one_answer(gw, upstream, records)
    token = gw.create_token("dana")
    client = anthropic_client(gw, token)
    run_cli(gw.config, "budgets", "set", "--user", "dana", "--monthly-usd", usd(price))  # one answer's worth
    refreshed(gw)

    upstream.queue("anthropic/stream_text", hold_after=2)
    in_flight = client.messages.create(**MESSAGE, stream=True)
    events = iter(in_flight)
    assert next(events).type == "message_start"  # its answer has begun, and waits upstream
    ask(gw, upstream, token)  # spends the whole budget
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        ask(gw, upstream, token)  # the next one is refused at once: this process counted the spend itself
    assert f"dana has spent {_dollars(price)} this month of the monthly budget of user dana" in refused.value.message
    upstream.release_held()
    assert [event.type for event in events][-1] == "message_stop"  # the one in flight finished
    assert len(upstream.requests) == 3  # the meter's, the one in flight, the one that spent the budget
    ends = {end.interception_id: end for end in records.wait_for_ends(3)}
    assert sorted((end.status, end.error.kind if end.error else None) for end in ends.values()) == [
        ("completed", None), ("completed", None), ("failed", "budget")]
    # The overshoot is the answer that was in flight: two answers' worth against a budget of one.
    wait_until(lambda: budgets_json(gw.config)["dana"]["spent_usd"] == usd(2 * price), what="dana's spend stored")
    listed = budgets_json(gw.config)["dana"]
    assert (listed["budget_usd"], listed["budget"], listed["used_percent"]) == (usd(price), "user", 200.0)
    # In memory: the same, however the month's sum is split between its settled part and the newest records.
    running = keeper(gw)
    month = running.month_of(running.clock())
    refreshed(gw)
    assert running.spend.of(dana_id(gw), month) == 2 * price
    later = running.monotonic
    try:
        for minutes in (1, 2):  # the settled part read again, twice: its bound moves up to the newest records
            running.monotonic = lambda: later() + 61 * minutes
            refreshed(gw)
            assert running.spend.of(dana_id(gw), month) == 2 * price
        assert running.settled.bound >= max(row["id"] for row in _token_rows(gw))
    finally:
        running.monotonic = later


def dana_id(gw) -> str:
    from aibridge.db import open_database

    with open_database(gw.config.database_path) as db:
        return db.value("SELECT id FROM users WHERE username = 'dana'")


def _token_rows(gw) -> list[dict]:
    from aibridge.db import open_database

    with open_database(gw.config.database_path) as db:
        return db.query("SELECT id FROM token_usages")


def _dollars(nanos: int) -> str:
    amount = Decimal(nanos) / NANOS
    cents = amount.quantize(Decimal("0.01"))
    return f"${cents if cents == amount else amount.normalize():,f}"


def test_a_new_month_starts_with_nothing_spent(gw, upstream, records):
    price = cost_of_one_answer(gw, upstream, records)
    token = gw.create_token("monthly")
    run_cli(gw.config, "budgets", "set", "--user", "monthly", "--monthly-usd", usd(price))
    refreshed(gw)
    ask(gw, upstream, token)
    with pytest.raises(anthropic.PermissionDeniedError):
        ask(gw, upstream, token)
    running = keeper(gw)
    now = dt.datetime.now(dt.timezone.utc)
    next_month = (now.replace(day=28) + dt.timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0,
                                                                       microsecond=0)
    try:
        running.clock = lambda: next_month - dt.timedelta(microseconds=1)  # the month's very last moment
        refreshed(gw)
        with pytest.raises(anthropic.PermissionDeniedError):
            ask(gw, upstream, token)
        running.clock = lambda: next_month  # midnight UTC on the first: the budget starts again
        ask(gw, upstream, token)  # at once, before the next refresh
        refreshed(gw)
        ask(gw, upstream, token)  # and after it: last month's spend no longer counts
    finally:
        running.clock = lambda: dt.datetime.now(dt.timezone.utc)
        refreshed(gw)


class Notices:
    """A plugin that keeps every on_budget_threshold call."""

    def __init__(self):
        self.calls: list[dict] = []
        self.lock = threading.Lock()

    @aibridge.hookimpl
    def on_budget_threshold(self, user_id, username, percent, spent_usd, budget_usd, budget, resets_at):
        with self.lock:
            self.calls.append(dict(username=username, percent=percent, spent_usd=spent_usd, budget_usd=budget_usd,
                                   budget=budget, resets_at=resets_at))

    def of(self, username: str) -> list[dict]:
        with self.lock:
            return [call for call in self.calls if call["username"] == username]


def test_the_85_and_100_percent_notices_are_sent_once(gw, upstream, records, tmp_path, caplog):
    price = cost_of_one_answer(gw, upstream, records)
    token = gw.create_token("noticed")
    budget = price * 10 // 9  # one answer is 90 % of it, two are 180 %
    run_cli(gw.config, "groups", "create", "noticed-team")
    run_cli(gw.config, "groups", "add", "noticed-team", "noticed")
    run_cli(gw.config, "budgets", "set", "--group", "noticed-team", "--monthly-usd", usd(budget))
    refreshed(gw)
    notices = Notices()
    with gw.registered(notices, "test-notices"), caplog.at_level("WARNING", logger="aibridge.budgets"):
        ask(gw, upstream, token)
        wait_until(lambda: notices.of("noticed"), what="the 85 % notice")
        ask(gw, upstream, token)
        wait_until(lambda: len(notices.of("noticed")) == 2, what="the 100 % notice")
        with pytest.raises(anthropic.PermissionDeniedError):
            ask(gw, upstream, token)
        refreshed(gw)
        refreshed(gw)
    first, second = notices.of("noticed")
    assert (first["percent"], first["spent_usd"], first["budget_usd"], first["budget"]) == (
        85, Decimal(price) / NANOS, Decimal(budget) / NANOS, "group:noticed-team")
    assert (second["percent"], second["spent_usd"]) == (100, Decimal(2 * price) / NANOS)
    assert first["resets_at"].day == 1 and first["resets_at"] > dt.datetime.now(dt.timezone.utc)
    logged = [r.getMessage() for r in caplog.records if "noticed has spent" in r.getMessage()]
    assert len(logged) == 2 and "past 85%" in logged[0] and "past 100%" in logged[1]

    # Another gateway on the same database (or this one restarted) knows they were sent.
    other = Gateway(gateway_config(gw.config.data_dir, upstream.url))
    try:
        again = Notices()
        with other.registered(again, "test-notices"):
            refreshed(other)
            refreshed(other)
        assert again.of("noticed") == []
    finally:
        other.close()


def test_the_highest_applying_budget_wins_and_a_users_own_overrides(gw):
    gw.create_token("erin")
    run_cli(gw.config, "groups", "create", "small")
    run_cli(gw.config, "groups", "create", "large")
    run_cli(gw.config, "groups", "add", "small", "erin")
    run_cli(gw.config, "groups", "add", "large", "erin")
    run_cli(gw.config, "budgets", "set", "--group", "small", "--monthly-usd", "10")
    run_cli(gw.config, "budgets", "set", "--group", "large", "--monthly-usd", "30")
    assert (budgets_json(gw.config)["erin"]["budget"], budgets_json(gw.config)["erin"]["budget_usd"]) == (
        "group:large", "30")
    run_cli(gw.config, "budgets", "set", "--user", "erin", "--monthly-usd", "5")
    assert budgets_json(gw.config)["erin"]["budget"] == "user"  # lower, and still hers
    run_cli(gw.config, "budgets", "unset", "--user", "erin")
    run_cli(gw.config, "groups", "remove", "large", "erin")
    assert budgets_json(gw.config)["erin"]["budget_usd"] == "10"
    run_cli(gw.config, "groups", "delete", "small")
    assert budgets_json(gw.config)["erin"]["budget"] is None
