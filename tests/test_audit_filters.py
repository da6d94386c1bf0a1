"""The audit filters added for operators: client session, times relative to now or a UTC day, known users only."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
from click.testing import CliRunner
from support.recorder_support import RecordingApp, make_interception, user_with_token

from aibridge.cli import build_cli

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)  # long before NOW

# (id, started_at, session, user): an hour ago, three days ago, ten days ago, and on two fixed UTC days
RECORDED = [
    ("h1", NOW - dt.timedelta(hours=1), "sess-a", "alice"),
    ("d3", NOW - dt.timedelta(days=3), "sess-a", "alice"),
    ("d10", NOW - dt.timedelta(days=10), "sess-b", "alice"),
    ("jun1-late", DAY + dt.timedelta(hours=23, minutes=59), "sess-b", "sso-carol"),
    ("jun1-early", DAY, "sess-c", "alice"),
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("filters")
    recording = RecordingApp(data_dir)
    url = recording.serve_http()
    _, token = user_with_token(recording.database_path, "olivia", "owner")
    alice, _ = user_with_token(recording.database_path, "alice")
    for iid, started, session, user in RECORDED:
        # sso-carol has no user row: a plugin authenticated her (aibridge_authenticate), the records know her.
        initiator = alice if user == "alice" else "sso-carol-id"
        recording.record(make_interception(iid, initiator_id=initiator, username=user, started_at=started,
                                           client_session_id=session), children=False)  # fmt: skip
    recording.wait_written()
    yield url, token, data_dir
    recording.close()


def api(recorded, q: str) -> requests.Response:
    url, token, _ = recorded
    return requests.get(f"{url}/api/v2/aibridge/interceptions", params={"q": q},
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip


def api_ids(recorded, q: str) -> list[str]:
    response = api(recorded, q)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["results"]]


def cli(recorded, *args):
    _, _, data_dir = recorded
    argv = ["interceptions", "list", "--data-dir", str(data_dir), "--format", "json", *args]
    return CliRunner().invoke(build_cli({}), argv, env={}, catch_exceptions=False)


def cli_ids(recorded, *args) -> list[str]:
    result = cli(recorded, *args)
    assert result.exit_code == 0, result.output
    return [r["id"] for r in json.loads(result.stdout)["results"]]


@pytest.mark.parametrize("q, options, expected", [
    ("session:sess-a", ["--session", "sess-a"], ["h1", "d3"]),
    ("session:sess-b", ["--session", "sess-b"], ["d10", "jun1-late"]),
    ("session:nope", ["--session", "nope"], []),
    ("started_after:24h", ["--started-after", "24h"], ["h1"]),
    ("started_after:90m", ["--started-after", "90m"], ["h1"]),
    ("started_after:7d", ["--started-after", "7d"], ["h1", "d3"]),
    ("started_after:1w started_before:2h", ["--started-after", "1w", "--started-before", "2h"], ["d3"]),
    # A day is its 00:00 UTC: after it includes the day, before it excludes it.
    ("started_after:2025-06-01 started_before:2025-06-02", ["--started-after", "2025-06-01",
                                                            "--started-before", "2025-06-02"],
     ["jun1-late", "jun1-early"]),
    ("started_before:2025-06-01", ["--started-before", "2025-06-01"], []),
    ("started_after:2025-06-01T23:00:00Z started_before:2025-06-02", ["--started-after", "2025-06-01T23:00:00Z",
                                                                      "--started-before", "2025-06-02"],
     ["jun1-late"]),
    ("initiator:sso-carol", ["--initiator", "sso-carol"], ["jun1-late"]),
    ("initiator:sso-carol-id", ["--initiator", "sso-carol-id"], ["jun1-late"]),
    ("initiator:olivia", ["--initiator", "olivia"], []),  # a user who never used the gateway: nothing, no error
])
def test_filters_in_the_api_and_the_cli(recorded, q, options, expected):
    assert api_ids(recorded, q) == expected
    assert cli_ids(recorded, *options) == expected


def test_an_unknown_initiator_is_a_400_naming_the_user(recorded):
    response = api(recorded, "initiator:alcie")
    assert response.status_code == 400
    assert response.json() == {
        "message": "invalid q: initiator: no user 'alcie' (by username or id)",
        "validations": [{"field": "q", "detail": "initiator: no user 'alcie' (by username or id)"}],
    }


def test_an_unknown_initiator_ends_the_cli_with_status_1_naming_the_user(recorded):
    result = cli(recorded, "--initiator", "alcie")
    assert result.exit_code == 1
    assert result.output == "aibridge: error: --initiator: no user 'alcie' (by username or id)\n"


@pytest.mark.parametrize("value, message", [
    ("7 days", "'7 days' is not a time: use a duration before now (7d, 24h, 90m), a UTC day (2026-12-01) or an "
               "RFC 3339 time (2025-01-02T15:04:05Z)"),
    ("7", "'7' is not a time: use a duration before now"),
    ("20261201", "'20261201' is not a time: use a duration before now"),
    ("2026-13-01", "'2026-13-01' is not a day of the calendar"),
    ("2026-12-01T10:00", "'2026-12-01T10:00' has no time zone: add Z for UTC or an offset"),
])
def test_times_that_mean_nothing_are_clear_errors(recorded, value, message):
    result = cli(recorded, "--started-before", value)
    assert result.exit_code == 2
    assert result.output.startswith(f"aibridge: error: --started-before: {message}")
    response = api(recorded, f"started_before:'{value}'")
    assert response.status_code == 400 and message in response.json()["message"]


def test_usage_takes_the_same_times(recorded):
    url, token, data_dir = recorded
    response = requests.get(f"{url}/api/v2/aibridge/usage", params={"started_after": "7d", "group_by": "day"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["interceptions"] == 2
    result = CliRunner().invoke(build_cli({}), ["usage", "--data-dir", str(data_dir), "--started-after", "2025-06-01",
                                                "--started-before", "2025-06-02", "--format", "json"], env={})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["interceptions"] == 2
