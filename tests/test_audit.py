"""The audit API (GET /api/v2/aibridge/interceptions) over real HTTP, and its CLI twin."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from conftest import STORES
from support.recorder_support import NEWEST_FIRST, Audit, RecordingApp, make_interception, user_with_token, utc

from aibridge.cli import build_cli
from aibridge.config import ProviderConfig

@pytest.fixture(scope="module", params=STORES)
def audit(request, tmp_path_factory):
    store = {"postgres_url": request.getfixturevalue("module_postgres_url")} if request.param == "postgres" else {}
    served = Audit(tmp_path_factory.mktemp("audit"), **store)
    yield served
    served.recording.close()


def test_an_owner_sees_everyone_newest_first(audit):
    answer = audit.list()
    assert answer["count"] == 7
    assert [r["id"] for r in answer["results"]] == NEWEST_FIRST


def test_each_interception_carries_its_records(audit):
    (a3,) = [r for r in audit.list()["results"] if r["id"] == "a3"]
    created = "2025-03-03T10:00:01.000000+00:00"
    children = {key: a3.pop(key) for key in ("token_usages", "user_prompts", "tool_usages", "model_thoughts",
                                             "tool_results")}
    assert a3 == {
        "id": "a3",
        "initiator": {"id": audit.users["alice"], "username": "alice"},
        "provider": "anthropic", "provider_name": "anthropic", "model": "claude-haiku-4-5", "client": "Claude Code",
        "client_session_id": "session-1", "user_agent": "claude-cli/2.0.1", "api": "messages", "streaming": True,
        "status": "completed", "error": None, "started_at": "2025-03-03T10:00:00.000000+00:00",
        "ended_at": "2025-03-03T10:00:03.000000+00:00", "metadata": {"route": "/v1/messages"},
        "credential_kind": None, "credential_hint": None,
        "cost_usd": 0.000417021, "cost_usd_nanos": 417_021, "unpriced_records": 0,
    }
    (usage,) = children["token_usages"]
    assert {k: v for k, v in usage.items() if k != "id"} == {
        "interception_id": "a3", "msg_id": "msg_1", "input_tokens": 400, "output_tokens": 40,
        "cache_read_input_tokens": 5, "cache_write_input_tokens": 6, "metadata": {"web_search_requests": 1},
        "created_at": created, "cost_usd_nanos": 417_021, "cost_usd": 0.000417021}
    (prompt,) = children["user_prompts"]
    assert {k: v for k, v in prompt.items() if k != "id"} == {
        "interception_id": "a3", "msg_id": "msg_1", "prompt": "prompt of a3", "created_at": created}
    (tool,) = children["tool_usages"]
    assert {k: v for k, v in tool.items() if k != "id"} == {
        "interception_id": "a3", "msg_id": "msg_1", "tool_call_id": "toolu_1", "tool": "get_weather",
        "input": '{"city": "Paris"}', "server_url": None, "injected": False, "invocation_error": None,
        "created_at": created}
    (thought,) = children["model_thoughts"]
    assert {k: v for k, v in thought.items() if k != "id"} == {
        "interception_id": "a3", "content": "Let me think.", "metadata": {"source": "thinking"}, "created_at": created}
    (result,) = children["tool_results"]
    assert {k: v for k, v in result.items() if k != "id"} == {
        "interception_id": "a3", "tool_call_id": "toolu_0", "is_error": True, "content": "File does not exist.",
        "created_at": created}


def test_a_member_sees_only_their_own(audit):
    assert audit.ids("alice") == ["a3", "a2", "a1"]
    assert audit.list("alice")["count"] == 3
    assert audit.ids("alice", q="initiator:bob") == []
    assert audit.ids("bob", q="initiator:me") == ["t2", "t1", "b2", "b1"]


@pytest.mark.parametrize("q, expected", [
    ("initiator:alice", ["a3", "a2", "a1"]),
    ("initiator:me", []),  # the owner made none
    ("provider:openai", ["b1", "a2"]),  # provider type
    ("provider:openai-eu", ["b1"]),  # or instance name
    ("model:gpt-4o", ["b1", "a2"]),
    ('client:"Claude Code"', ["t2", "t1", "a3", "a1"]),
    ("client:'GitHub Copilot (VS Code)'", ["b2"]),
    ("started_after:2025-03-02T12:00:00Z", ["t2", "t1", "b2", "a3", "b1"]),  # inclusive
    ("started_before:2025-03-02T12:00:00Z", ["a2", "a1"]),  # exclusive
    ("started_after:2025-03-02T13:00:00+02:00 started_before:2025-03-04T00:00:00Z", ["a3", "b1"]),
    ("initiator:alice model:gpt-4o", ["a2"]),
    ("  provider:anthropic   initiator:bob ", ["t2", "t1"]),
    ("model:no-such-model", []),
    ("status:completed initiator:alice", ["a3", "a2", "a1"]),
    ("status:failed", []),
])
def test_filters(audit, q, expected):
    answer = audit.list(q=q)
    assert [r["id"] for r in answer["results"]] == expected
    assert answer["count"] == len(expected)


def test_initiator_by_id(audit):
    assert audit.ids(q=f"initiator:{audit.users['alice']}") == ["a3", "a2", "a1"]


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_follow_the_cursor_without_gaps_or_repeats(audit, limit):
    seen, after_id = [], None
    while True:
        params = {"limit": limit} | ({"after_id": after_id} if after_id else {})
        answer = audit.list(**params)
        assert answer["count"] == 7
        page = [r["id"] for r in answer["results"]]
        if not page:
            break
        assert len(page) <= limit
        seen += page
        after_id = page[-1]
    assert seen == NEWEST_FIRST


def test_cursor_with_filters(audit):
    assert audit.ids(q="initiator:bob", after_id="t1", limit=1) == ["b2"]
    assert audit.ids("alice", after_id="a2") == ["a1"]


def test_default_limit_is_100_and_limit_bounds(audit):
    assert len(audit.ids(limit=1)) == 1
    assert len(audit.ids(limit=1000)) == 7


@pytest.mark.parametrize("params, field, detail", [
    ({"limit": "0"}, "limit", "must be between 1 and 1000, got 0"),
    ({"limit": "1001"}, "limit", "must be between 1 and 1000, got 1001"),
    ({"limit": "ten"}, "limit", "'ten' is not a whole number between 1 and 1000"),
    ({"q": "colour:blue"}, "q", "unknown filter 'colour'; known: initiator, provider, model, client, status, "
                                "session, started_after, started_before, text"),
    ({"q": "alice"}, "q", "'alice' is not a filter: write key:value, keys: initiator, provider, model, client, "
                          "status, session, started_after, started_before, text"),
    ({"q": 'client:"Claude Code'}, "q", "cannot split into filters (No closing quotation); "
                                        "quote values with spaces"),
    ({"q": "model:a model:b"}, "q", "filter 'model' is given twice"),
    ({"q": "model:"}, "q", "model: is empty"),
    ({"q": "started_after:yesterday"}, "q", "started_after: 'yesterday' is not a time: use a duration before now "
                                            "(7d, 24h, 90m), a UTC day (2026-12-01) or an RFC 3339 time "
                                            "(2025-01-02T15:04:05Z)"),
    ({"q": "started_before:2025-03-01T00:00:00"}, "q", "started_before: '2025-03-01T00:00:00' has no time zone: add "
                                                       "Z for UTC or an offset, e.g. 2025-01-02T15:04:05Z"),
    ({"q": "started_after:2025-02-30"}, "q", "started_after: '2025-02-30' is not a day of the calendar (use a "
                                             "duration before now (7d, 24h, 90m), a UTC day (2026-12-01) or an RFC "
                                             "3339 time (2025-01-02T15:04:05Z))"),
    ({"q": "status:done"}, "q", "status: unknown status 'done'; known: completed, failed, client_disconnected, "
                                "interrupted"),
    ({"q": "initiator:ghost"}, "q", "initiator: no user 'ghost' (by username or id)"),
    ({"q": "started_after:2025-03-02T00:00:00Z started_before:2025-03-01T00:00:00Z"}, "q",
     "started_before: must be later than started_after"),
    ({"after_id": "nope"}, "after_id", "no interception 'nope' matches these filters"),
])
def test_bad_parameters_are_400_naming_them(audit, params, field, detail):
    response = audit.get("/api/v2/aibridge/interceptions", **params)
    assert response.status_code == 400
    assert response.json() == {"message": f"invalid {field}: {detail}",
                               "validations": [{"field": field, "detail": detail}]}


def test_a_member_cannot_page_from_someone_elses_interception(audit):
    response = audit.get("/api/v2/aibridge/interceptions", "alice", after_id="b1")
    assert response.status_code == 400
    assert response.json()["validations"] == [{"field": "after_id",
                                               "detail": "no interception 'b1' matches these filters"}]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer aib_0123456789abcdef_" + "x" * 43},
                                     {"Authorization": "Basic b2xpdmlhOnNlY3JldA=="}])
def test_without_a_valid_token_401(audit, headers):
    for path in ("/api/v2/aibridge/interceptions", "/api/v2/aibridge/usage"):
        response = requests.get(audit.url + path, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json() == {"message": "a valid AI Bridge token is required"}


def test_the_audit_route_wins_over_a_provider_of_the_same_name(tmp_path):
    provider = ProviderConfig(type="openai", name="interceptions", base_url="http://127.0.0.1:9/v1")
    recording = RecordingApp(tmp_path, providers=(provider,))
    url = recording.serve_http()
    try:
        _, token = user_with_token(recording.database, "olivia", "owner")
        response = requests.get(url + "/api/v2/aibridge/interceptions",
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200 and response.json() == {"count": 0, "results": []}
        # The provider's own routes are untouched.
        bridge = requests.get(url + "/api/v2/aibridge/interceptions/v1/nowhere",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert bridge.status_code == 404 and "has no route GET /v1/nowhere" in bridge.text
    finally:
        recording.close()


def cli(*args, env=None):
    return CliRunner().invoke(build_cli({}), list(args), env=env or {}, catch_exceptions=False)


def test_cli_prints_what_the_api_answers_to_an_owner(audit):
    result = cli("interceptions", "list", *audit.where)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == audit.list()


@pytest.mark.parametrize("options, q", [
    (["--initiator", "alice"], "initiator:alice"),
    (["--provider", "openai", "--model", "gpt-4o"], "provider:openai model:gpt-4o"),
    (["--client", "Claude Code"], 'client:"Claude Code"'),
    (["--started-after", "2025-03-02T12:00:00Z", "--started-before", "2025-03-05T00:00:00Z"],
     "started_after:2025-03-02T12:00:00Z started_before:2025-03-05T00:00:00Z"),
])
def test_cli_filters_match_the_api(audit, options, q):
    result = cli("interceptions", "list", *audit.where, *options)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == audit.list(q=q)


def test_cli_pages(audit):
    first = json.loads(cli("interceptions", "list", *audit.where, "--limit", "3").stdout)
    assert [r["id"] for r in first["results"]] == NEWEST_FIRST[:3]
    rest = cli("interceptions", "list", *audit.where, "--after-id", NEWEST_FIRST[2])
    assert [r["id"] for r in json.loads(rest.stdout)["results"]] == NEWEST_FIRST[3:]


def test_cli_jsonl_export_has_one_interception_per_line(audit):
    result = cli("interceptions", "list", *audit.where, "--format", "jsonl")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == audit.list()["results"]


def test_cli_all_follows_every_page(tmp_path):
    recording = RecordingApp(tmp_path)
    for n in range(1203):
        recording.record(make_interception(f"bulk-{n:04d}", started_at=utc(2025, 1, 1, n // 60 // 60,
                                                                            n // 60 % 60, n % 60)),
                         children=False, end=False)
    recording.close()
    result = cli("interceptions", "list", "--data-dir", str(tmp_path), "--all", "--format", "jsonl")
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == [f"bulk-{n:04d}" for n in reversed(range(1203))]
    whole = json.loads(cli("interceptions", "list", "--data-dir", str(tmp_path), "--all").stdout)
    assert whole["count"] == 1203 and [r["id"] for r in whole["results"]] == ids


def test_cli_csv_export(audit):
    result = cli("interceptions", "list", *audit.where, "--format", "csv", "--initiator", "alice")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["id"] for row in rows] == ["a3", "a2", "a1"]
    a3 = rows[0]
    assert (a3["initiator_id"], a3["initiator_username"], a3["model"]) == (audit.users["alice"], "alice",
                                                                         "claude-haiku-4-5")
    assert (a3["input_tokens"], a3["output_tokens"], a3["cache_read_input_tokens"],
            a3["cache_write_input_tokens"]) == ("400", "40", "5", "6")
    assert (a3["prompt"], a3["tools"], a3["model_thoughts"]) == ("prompt of a3", "get_weather", "1")
    assert json.loads(a3["metadata"]) == {"route": "/v1/messages"}


def test_cli_csv_without_results_still_has_its_header(audit):
    result = cli("interceptions", "list", *audit.where, "--format", "csv", "--model", "none")
    assert result.stdout.startswith("id,initiator_id,initiator_username,provider,") and result.stdout.count("\n") == 1


@pytest.mark.parametrize("options, message", [
    (["--limit", "0"], "aibridge: error: --limit: must be between 1 and 1000, got 0"),
    (["--started-after", "tomorrow"], "aibridge: error: --started-after: 'tomorrow' is not a time: use a duration "
                                      "before now (7d, 24h, 90m), a UTC day (2026-12-01) or an RFC 3339 time "
                                      "(2025-01-02T15:04:05Z)"),
    (["--status", "done"], "aibridge: error: --status: unknown status 'done'; known: completed, failed, "
                           "client_disconnected, interrupted"),
    (["--initiator", "me"], "aibridge: error: --initiator: 'me' only means something to the API, where you are "
                            "signed in"),
    (["--after-id", "nope"], "aibridge: error: --after-id: no interception 'nope' matches these filters"),
])
def test_cli_bad_options_are_one_line_and_status_2(audit, options, message):
    result = cli("interceptions", "list", *audit.where, *options)
    assert result.exit_code == 2
    assert result.output == message + "\n"


def test_cli_without_a_database_says_where_it_looked(tmp_path):
    result = cli("interceptions", "list", "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == (f"aibridge: error: no database at {tmp_path / 'aibridge.db'}: nothing has been "
                             "recorded there (check --data-dir)\n")


def test_the_installed_command_reads_the_environment(audit):
    env = {**audit.environ, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(Path(sys.executable).parent / "aibridge"), "interceptions", "list", "--limit", "2"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in json.loads(done.stdout)["results"]] == NEWEST_FIRST[:2]
