"""Usage summaries (GET /api/v2/aibridge/usage and `aibridge usage`): interceptions and token sums per group."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from conftest import STORES
from support.recorder_support import Audit, make_interception, utc

from aibridge.cli import build_cli
from aibridge.records import TokenUsage


RECORD_COST = 417_021  # nano-dollars of each token record the support code records (a3's second one is unpriced)


def tokens(interceptions, input_tokens, output_tokens, cache_read, cache_write, priced=None, unpriced=0) -> dict:
    """A group's sums; ``priced`` token records (default: one per interception) and ``unpriced`` ones."""
    priced = interceptions if priced is None else priced
    nanos = priced * RECORD_COST if priced or not unpriced else None
    return {"interceptions": interceptions, "input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read, "cache_write_input_tokens": cache_write,
            "cost_usd_nanos": nanos, "cost_usd": None if nanos is None else nanos / 10**9,
            "unpriced_records": unpriced}


@pytest.fixture(scope="module", params=STORES)
def usage(request, tmp_path_factory):
    """The audit data, plus a second token record on a3 and an interception n1 without any token record."""
    store = {"postgres_url": request.getfixturevalue("module_postgres_url")} if request.param == "postgres" else {}
    served = Audit(tmp_path_factory.mktemp("usage"), **store)
    recording = served.recording
    a3 = make_interception("a3", initiator_id=served.users["alice"], username="alice")
    recording.notify("on_token_usage", interception=a3, usage=TokenUsage("a3", "msg_2", 1000, 100))
    n1 = make_interception("n1", initiator_id=served.users["alice"], username="alice", model="claude-haiku-4-5",
                           started_at=utc(2025, 3, 6, 8))
    recording.record(n1, children=False)
    recording.wait_written()
    yield served
    recording.close()


def summary(usage, as_user="olivia", **params) -> dict:
    response = usage.get("/api/v2/aibridge/usage", as_user, **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_per_user(usage):
    answer = summary(usage, group_by="user")
    assert answer["group_by"] == "user"
    assert answer["results"] == [
        {"initiator": {"id": usage.users["alice"], "username": "alice"}, **tokens(4, 1700, 170, 9, 8, 3, 1)},
        {"initiator": {"id": usage.users["bob"], "username": "bob"}, **tokens(4, 803, 83, 0, 0)},
    ]
    assert answer["totals"] == tokens(8, 2503, 253, 9, 8, 7, 1)


def test_user_is_the_default_group(usage):
    assert summary(usage) == summary(usage, group_by="user")


def test_per_model(usage):
    assert summary(usage, group_by="model")["results"] == [
        {"model": "claude-sonnet-4-6", **tokens(3, 103, 13, 1, 2)},
        {"model": "claude-haiku-4-5", **tokens(2, 1400, 140, 5, 6, 1, 1)},
        {"model": "gpt-4o", **tokens(2, 500, 50, 3, 0)},
        {"model": "gpt-4.1", **tokens(1, 500, 50, 0, 0)},
    ]


def test_per_provider_instance(usage):
    assert summary(usage, group_by="provider")["results"] == [
        {"provider": "anthropic", "provider_name": "anthropic", **tokens(5, 1503, 153, 6, 8, 4, 1)},
        {"provider": "copilot", "provider_name": "copilot", **tokens(1, 500, 50, 0, 0)},
        {"provider": "openai", "provider_name": "openai", **tokens(1, 200, 20, 3, 0)},
        {"provider": "openai", "provider_name": "openai-eu", **tokens(1, 300, 30, 0, 0)},
    ]


def test_per_client(usage):
    assert summary(usage, group_by="client")["results"] == [
        {"client": "Claude Code", **tokens(5, 1503, 153, 6, 8, 4, 1)},
        {"client": "Codex", **tokens(2, 500, 50, 3, 0)},
        {"client": "GitHub Copilot (VS Code)", **tokens(1, 500, 50, 0, 0)},
    ]


def test_per_utc_day(usage):
    assert summary(usage, group_by="day")["results"] == [
        {"day": "2025-03-01", **tokens(1, 100, 10, 1, 2)},
        {"day": "2025-03-02", **tokens(2, 500, 50, 3, 0)},
        {"day": "2025-03-03", **tokens(1, 1400, 140, 5, 6, 1, 1)},
        {"day": "2025-03-04", **tokens(1, 500, 50, 0, 0)},
        {"day": "2025-03-05", **tokens(2, 3, 3, 0, 0)},
        {"day": "2025-03-06", **tokens(1, 0, 0, 0, 0, 0)},  # no token record: it cost nothing
    ]


def test_time_bounds(usage):
    answer = summary(usage, group_by="day", started_after="2025-03-03T00:00:00Z",
                     started_before="2025-03-05T01:00:00+01:00")
    assert answer["results"] == [{"day": "2025-03-03", **tokens(1, 1400, 140, 5, 6, 1, 1)},
                                 {"day": "2025-03-04", **tokens(1, 500, 50, 0, 0)}]
    assert answer["totals"] == tokens(2, 1900, 190, 5, 6, 2, 1)


def test_a_member_sees_only_their_own(usage):
    answer = summary(usage, "alice", group_by="model")
    assert answer["results"] == [
        {"model": "claude-haiku-4-5", **tokens(2, 1400, 140, 5, 6, 1, 1)},
        {"model": "claude-sonnet-4-6", **tokens(1, 100, 10, 1, 2)},
        {"model": "gpt-4o", **tokens(1, 200, 20, 3, 0)},
    ]
    assert summary(usage, "bob", group_by="user")["results"] == [
        {"initiator": {"id": usage.users["bob"], "username": "bob"}, **tokens(4, 803, 83, 0, 0)}]


@pytest.mark.parametrize("params, field, detail", [
    ({"group_by": "week"}, "group_by", "'week' is not one of user, model, provider, client, day"),
    ({"started_after": "last monday"}, "started_after",
     "'last monday' is not a time: use a duration before now (7d, 24h, 90m), a UTC day (2026-12-01) or an RFC 3339 "
     "time (2025-01-02T15:04:05Z)"),
    ({"started_before": "2025-03-01T00:00"}, "started_before",
     "'2025-03-01T00:00' has no time zone: add Z for UTC or an offset, e.g. 2025-01-02T15:04:05Z"),
    ({"started_after": "2025-03-02T00:00:00Z", "started_before": "2025-03-02T00:00:00Z"}, "started_before",
     "must be later than started_after"),
])
def test_bad_parameters_are_400_naming_them(usage, params, field, detail):
    response = usage.get("/api/v2/aibridge/usage", **params)
    assert response.status_code == 400
    assert response.json() == {"message": f"invalid {field}: {detail}",
                               "validations": [{"field": field, "detail": detail}]}


def cli(*args):
    return CliRunner().invoke(build_cli({}), list(args), env={}, catch_exceptions=False)


@pytest.mark.parametrize("group_by", ["user", "model", "provider", "client", "day"])
def test_cli_prints_what_the_api_answers_to_an_owner(usage, group_by):
    result = cli("usage", *usage.where, "--group-by", group_by,
                 "--started-after", "2025-03-02T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == summary(usage, group_by=group_by, started_after="2025-03-02T00:00:00Z")


def test_cli_csv_and_jsonl(usage):
    rows = list(csv.DictReader(io.StringIO(cli("usage", *usage.where, "--format", "csv").stdout)))
    assert rows == [
        {"initiator_id": usage.users["alice"], "initiator_username": "alice", "interceptions": "4",
         "input_tokens": "1700", "output_tokens": "170", "cache_read_input_tokens": "9",
         "cache_write_input_tokens": "8", "cost_usd": "0.001251063", "cost_usd_nanos": "1251063",
         "unpriced_records": "1"},
        {"initiator_id": usage.users["bob"], "initiator_username": "bob", "interceptions": "4",
         "input_tokens": "803", "output_tokens": "83", "cache_read_input_tokens": "0",
         "cache_write_input_tokens": "0", "cost_usd": "0.001668084", "cost_usd_nanos": "1668084",
         "unpriced_records": "0"},
    ]
    lines = cli("usage", *usage.where, "--group-by", "client", "--format", "jsonl").stdout
    assert [json.loads(line) for line in lines.splitlines()] == summary(usage, group_by="client")["results"]


def test_cli_bad_time_is_one_line_and_status_2(usage):
    result = cli("usage", *usage.where, "--started-before", "soon")
    assert result.exit_code == 2
    assert result.output == ("aibridge: error: --started-before: 'soon' is not a time: use a duration before now "
                             "(7d, 24h, 90m), a UTC day (2026-12-01) or an RFC 3339 time (2025-01-02T15:04:05Z)\n")
