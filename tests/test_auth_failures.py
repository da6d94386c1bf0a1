"""Failed authentication against ``aibridge server``: the log says why (never the secret), and past a few a
minute from one address the answer is 429 in the API's shape; valid tokens and successes are not held back."""

from __future__ import annotations

import datetime as dt

import requests
from support.faults import AIBRIDGE, ServerProcess, data_dir, free_port, metric, upstream  # noqa: F401 (fixtures)
from support.recorder_support import user_with_token

from aibridge.db import open_database
from aibridge.people.users import UserStore

SECRET = "A" * 43


def token_id(token: str) -> str:
    return token.split("_")[1]


def test_each_401_is_logged_with_why_and_the_token_id_never_the_secret(spawn, process_environ, upstream, data_dir):
    database = data_dir / "aibridge.db"
    store = UserStore(open_database(database))
    tokens = {}
    for username in ("alice", "eve", "rob", "sam"):
        store.create_user(username)
        tokens[username] = store.create_token(username)[1]
    store.revoke_token(token_id(tokens["rob"]))
    store.suspend_user("sam")
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).isoformat()
    with open_database(database) as db, db.transaction():
        db.execute("UPDATE api_tokens SET expires_at = ? WHERE id = ?", [past, token_id(tokens["eve"])])
    wrong_secret = tokens["alice"][:-43] + SECRET
    unknown = f"aib_0123456789abcdef_{SECRET}"
    pasted_key = "sk-ant-api03-a-provider-key-pasted-by-mistake"

    server = ServerProcess(spawn, process_environ, data_dir, upstream.url)
    presented = [unknown, wrong_secret, tokens["eve"], tokens["rob"], tokens["sam"], pasted_key, None]
    for token in presented:
        response = server.post(token)
        assert response.status_code == 401
        assert response.json() == {"type": "error", "error": {"type": "authentication_error",
                                                              "message": "a valid AI Bridge token is required"}}
    assert server.stop() == 0
    lines = server.log_lines(r"authentication refused for POST /api/v2/aibridge/anthropic/v1/messages from 127\.0\.0\.1: ")
    reasons = [line.split("127.0.0.1: ", 1)[1].strip() for line in lines]
    assert reasons == [
        "unknown token (token 0123456789abcdef)",
        f"wrong secret (token {token_id(tokens['alice'])} of alice)",
        f"expired (token {token_id(tokens['eve'])} of eve)",
        f"revoked (token {token_id(tokens['rob'])} of rob)",
        f"suspended user (token {token_id(tokens['sam'])} of sam)",
        "malformed token",
        "no token",
    ]
    log = server.process.stderr
    for token in [*tokens.values(), wrong_secret]:
        assert token.split("_", 2)[2] not in log
    assert SECRET not in log and pasted_key not in log


def test_past_the_limit_of_failures_an_address_gets_429_but_known_tokens_still_pass(
        spawn, process_environ, upstream, data_dir):
    _, alice = user_with_token(data_dir / "aibridge.db", "alice")
    _, bob = user_with_token(data_dir / "aibridge.db", "bob")  # never used before the limit is reached
    metrics_port = free_port()
    server = ServerProcess(spawn, process_environ, data_dir, upstream.url, "--aibridge-auth-failure-limit", "5",
                           "--prometheus-enable", "--prometheus-address", f"127.0.0.1:{metrics_port}")
    for _ in range(10):  # successes take nothing from the allowance
        upstream.queue("anthropic/blocking_text")
        assert server.post(alice).status_code == 200
    guesses = [server.post(f"aib_{n:016x}_{SECRET}").status_code for n in range(8)]
    assert guesses == [401] * 5 + [429] * 3

    limited = server.post(f"aib_{99:016x}_{SECRET}")
    assert limited.status_code == 429
    assert limited.json() == {"type": "error", "error": {
        "type": "rate_limit_error", "message": "too many failed authentications from this address; retry later"}}
    assert 1 <= int(limited.headers["Retry-After"]) <= 12
    # A token the gateway knows is checked in memory and passes; a token it must look up waits its turn.
    upstream.queue("anthropic/blocking_text")
    assert server.post(alice).status_code == 200
    assert server.post(bob).status_code == 429
    # The audit API (a plugin's route) answers 429 too, in its own shape.
    audit = requests.get(server.url + "/api/v2/aibridge/interceptions", headers={"x-api-key": "nope"}, timeout=10)
    assert audit.status_code == 429 and audit.json() == {
        "message": "too many failed authentications from this address; retry later"}
    assert audit.headers["Retry-After"]

    exported = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    assert metric(exported, "coder_aibridged_auth_failures_total", reason="unknown token") == 5
    assert metric(exported, "coder_aibridged_auth_limited_total") == 6
    assert server.stop() == 0
    assert len(server.log_lines(r"client 127\.0\.0\.1 is over the limit of 5 failed authentications a minute")) == 1
    assert len(server.log_lines(r"authentication refused for")) == 5  # the 429s are not one line each


def test_the_limit_can_be_turned_off(spawn, process_environ, upstream, data_dir):
    server = ServerProcess(spawn, process_environ, data_dir, upstream.url, "--aibridge-auth-failure-limit", "0")
    assert {server.post(f"aib_{n:016x}_{SECRET}").status_code for n in range(30)} == {401}
    assert server.stop() == 0


def test_the_failure_limit_option_is_checked_at_startup(spawn, process_environ, data_dir):
    process = spawn([AIBRIDGE, "server", "--http-address", "127.0.0.1:0", "--data-dir", data_dir,
                     "--aibridge-auth-failure-limit", "-3"], process_environ)
    assert process.wait() == 2
    assert process.stderr == "aibridge: error: --aibridge-auth-failure-limit: must be at least 0, got -3\n"
