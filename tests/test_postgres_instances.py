"""Several real ``aibridge server`` processes on one PostgreSQL database, as on several hosts behind a load balancer.

Each has a data directory of its own (nothing shared but the database). Tokens
made anywhere work everywhere; revocations and suspensions reach every instance
within the cache's refresh; the audit API of any instance shows every
instance's records; a killed instance's open interceptions are ended
``interrupted`` by a live one once its heartbeat is older than the timeout,
never the live one's own; PostgreSQL cut off leaves the relay working and loses
no record.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests
from click.testing import CliRunner
from support.faults import AIBRIDGE, ServerProcess, data_dir, upstream  # noqa: F401 - fixtures
from support.tcp_proxy import TcpProxy
from support.recorder_support import Audit, read_rows, user_with_token, wait_until

from aibridge.cli import build_cli
from aibridge.db import open_database
from aibridge.db.core_schema import core_migrations
from aibridge.cost.schema import cost_migrations
from aibridge.people.users import UserStore
from aibridge_plugins.budgets.schema import migrations as budgets_migrations
from aibridge_plugins.storage.schema import migrations as recorder_migrations

TIMEOUT = "2s"  # --postgres-instance-timeout: heartbeats every third of a second


def instance(spawn, process_environ, tmp_path, upstream, postgres_url, name, *args) -> ServerProcess:
    """An instance with its own data directory (its own host), on the shared database."""
    own_dir = tmp_path / name
    own_dir.mkdir(exist_ok=True)
    return ServerProcess(spawn, process_environ, own_dir, upstream.url, "--postgres-url", postgres_url,
                         "--postgres-instance-timeout", TIMEOUT, *args)


def ask(server: ServerProcess, upstream, token: str) -> requests.Response:
    upstream.queue("anthropic/blocking_text")
    return server.post(token, timeout=10)


def audit(server: ServerProcess, token: str) -> dict:
    response = requests.get(server.url + "/api/v2/ai-gateway/interceptions", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_tokens_revocations_and_records_are_shared_by_every_instance(spawn, process_environ, tmp_path, upstream,
                                                                     postgres_url):
    a = instance(spawn, process_environ, tmp_path, upstream, postgres_url, "a")
    b = instance(spawn, process_environ, tmp_path, upstream, postgres_url, "b")
    # Made after both started, outside either (as `aibridge tokens create` does): B reads it on first use.
    _, owner = user_with_token(postgres_url, "olivia", "owner")
    _, alice = user_with_token(postgres_url, "alice")
    assert ask(a, upstream, alice).status_code == 200
    assert ask(b, upstream, alice).status_code == 200
    wait_until(lambda: audit(b, owner)["count"] == 2, what="both instances' records in one answer")
    answer = audit(a, owner)
    assert {row["instance_id"] for row in read_rows(postgres_url, "interceptions")} == {*_instance_ids(postgres_url)}
    assert [result["initiator"]["username"] for result in answer["results"]] == ["alice", "alice"]

    store = UserStore(open_database(postgres_url))
    try:
        token_id = store.list_tokens("alice")[0].id
        store.revoke_token(token_id)
        for server in (b, a):  # within the revocation window (5 s), polled with room to spare on a busy machine
            wait_until(lambda: ask(server, upstream, alice).status_code == 401, timeout=10,
                       what="every instance to refuse the revoked token")
        _, bob = user_with_token(postgres_url, "bob")
        assert ask(a, upstream, bob).status_code == 200
        store.suspend_user("bob")
        wait_until(lambda: ask(a, upstream, bob).status_code == 401, timeout=10, what="A to refuse a suspended user")
    finally:
        store.close()
    for server in (a, b):
        ready = requests.get(server.url + "/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["store"] == "postgresql", ready.text
        assert server.stop() == 0
    with open_database(postgres_url) as db:  # a clean stop leaves no heartbeat behind
        assert db.query("SELECT id FROM gateway_instances") == []


def _instance_ids(postgres_url) -> set[str]:
    with open_database(postgres_url) as db:
        return {row["id"] for row in db.query("SELECT id FROM gateway_instances")}


def test_a_killed_instance_interceptions_are_ended_by_a_live_one_after_the_timeout(
        spawn, process_environ, tmp_path, upstream, postgres_url):
    _, alice = user_with_token(postgres_url, "alice")
    killed = instance(spawn, process_environ, tmp_path, upstream, postgres_url, "killed")
    alive = instance(spawn, process_environ, tmp_path, upstream, postgres_url, "alive")
    streams = [server.open_stream(alice, upstream) for server in (killed, alive)]
    wait_until(lambda: len(read_rows(postgres_url, "interceptions")) == 2, what="both interceptions recorded")

    killed.process.proc.kill()
    killed.process.wait()
    rows = wait_until(lambda: [r for r in read_rows(postgres_url, "interceptions") if r["status"] == "interrupted"],
                      timeout=30, what="the killed instance's interception to end")
    (interrupted,) = rows
    assert json.loads(interrupted["error"])["kind"] == "interrupted"
    assert interrupted["ended_at"] >= interrupted["started_at"]
    alive.process.wait_for_line(r"1 gateway instances sharing this database sent no heartbeat for 2s")
    # The live instance's stream outlived several timeouts: its interception is still open, and its own.
    (still_open,) = [row for row in read_rows(postgres_url, "interceptions") if row["ended_at"] is None]
    assert still_open["instance_id"] != interrupted["instance_id"]
    streams[1][0].close()
    upstream.stop()
    wait_until(lambda: all(row["ended_at"] for row in read_rows(postgres_url, "interceptions")),
               what="the live instance's interception to end")
    statuses = {row["id"]: row["status"] for row in read_rows(postgres_url, "interceptions")}
    assert statuses[still_open["id"]] != "interrupted"
    assert alive.stop() == 0


def test_postgres_cut_off_leaves_the_relay_working_and_loses_no_record(spawn, process_environ, tmp_path, upstream,
                                                                       postgres_url):
    _, alice = user_with_token(postgres_url, "alice")
    host, port = postgres_url.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = TcpProxy((host, int(port)))
    try:
        through_proxy = postgres_url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        server = instance(spawn, process_environ, tmp_path, upstream, through_proxy, "gw", "--shutdown-grace", "2s")
        assert ask(server, upstream, alice).status_code == 200
        wait_until(lambda: len(read_rows(postgres_url, "interceptions")) == 1, what="the first record")

        proxy.cut()
        ready = wait_until(lambda: _not_ready(server), what="/readyz to say the store is down")
        assert ready["checks"]["recorder"]["store"] == "down"
        for _ in range(5):
            assert ask(server, upstream, alice).status_code == 200  # the token is checked from memory
        assert requests.get(server.url + "/healthz", timeout=2).status_code == 200
        backlog = wait_until(lambda: _backlog(server), what="the records kept to show in /readyz")
        assert backlog >= 1

        proxy.restore()
        wait_until(lambda: len(read_rows(postgres_url, "interceptions")) == 6, timeout=30,
                   what="the kept records to be written once the store is back")
        wait_until(lambda: requests.get(server.url + "/readyz", timeout=5).status_code == 200, what="ready again")
        assert all(row["ended_at"] for row in read_rows(postgres_url, "interceptions"))
        assert server.stop() == 0
        assert not server.log_lines(r"not recorded: ")
    finally:
        proxy.close()


def _not_ready(server: ServerProcess) -> dict | None:
    response = requests.get(server.url + "/readyz", timeout=5)
    return response.json() if response.status_code == 503 else None


def _backlog(server: ServerProcess) -> int:
    backlog = requests.get(server.url + "/readyz", timeout=5).json()["checks"]["recorder"]["backlog"]
    return backlog["memory"] + backlog["spool"]


def test_ten_processes_migrating_at_once_apply_each_migration_once(process_environ, postgres_url):
    processes = [subprocess.Popen([AIBRIDGE, "db", "migrate", "--postgres-url", postgres_url], env=process_environ,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(10)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * 10, outputs
    applied_by = [out for out, _ in outputs if "aibridge-recorder: applied" in out]
    assert len(applied_by) == 1
    with open_database(postgres_url) as db:
        rows = db.query("SELECT migration_set, name FROM _aibridge_migrations ORDER BY id")
    every_set = (core_migrations, cost_migrations, recorder_migrations, budgets_migrations)
    expected = {(migrations.name, name) for migrations in every_set for name in migrations.names}
    assert {(row["migration_set"], row["name"]) for row in rows} == expected and len(rows) == len(expected)


def test_db_copy_moves_a_sqlite_deployment_and_a_second_copy_adds_nothing(tmp_path, postgres_url):
    sqlite = Audit(tmp_path / "sqlite")
    sqlite.recording.close()

    def copy(*args):
        return CliRunner().invoke(build_cli({}), ["db", "copy", "--to", postgres_url, "--data-dir",
                                                  str(tmp_path / "sqlite"), "--format", "json", *args],
                                  catch_exceptions=False)

    first = copy()
    assert first.exit_code == 0, first.output
    copied = {table["table"]: (table["rows"], table["copied"]) for table in json.loads(first.stdout)["results"]}
    assert copied["users"] == (3, 3) and copied["api_tokens"] == (3, 3) and copied["interceptions"] == (7, 7)
    assert copied["token_usages"] == (7, 7)
    again = copy()
    assert {table["copied"] for table in json.loads(again.stdout)["results"]} == {0}

    # The same answers from the copy, with the same tokens, as from the SQLite database it came from.
    served = [Audit.serving(tmp_path / "sqlite", sqlite), Audit.serving(tmp_path / "pg", sqlite,
                                                                         postgres_url=postgres_url)]
    try:
        for as_user in ("olivia", "alice"):
            assert served[0].list(as_user) == served[1].list(as_user)
        usage = [gateway.get("/api/v2/aibridge/usage", group_by="day").json() for gateway in served]
        assert usage[0] == usage[1] and usage[0]["totals"]["interceptions"] == 7
    finally:
        for gateway in served:
            gateway.recording.close()


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url"])
def test_a_postgres_url_that_is_not_one_is_a_startup_error_that_does_not_quote_it(process_environ, tmp_path, url):
    done = subprocess.run([AIBRIDGE, "users", "list", "--data-dir", str(tmp_path)], capture_output=True, text=True,
                          env={**process_environ, "CODER_PG_CONNECTION_URL": url}, timeout=60)
    assert done.returncode == 2
    assert "CODER_PG_CONNECTION_URL" in done.stderr and url not in done.stderr


def test_the_password_of_the_url_never_reaches_the_log(spawn, process_environ, tmp_path, upstream, postgres_url):
    with_password = postgres_url.replace("postgres@", "postgres:s3cret-pw@")  # trust authentication ignores it
    server = instance(spawn, process_environ, tmp_path, upstream, with_password, "gw")
    assert server.stop() == 0
    assert "s3cret-pw" not in server.process.stderr
    assert "postgres:***@" in server.process.stderr  # the banner names the database without it


def test_an_audit_query_waiting_on_postgres_leaves_the_hub_free(spawn, process_environ, tmp_path, upstream,
                                                                  postgres_url):
    import concurrent.futures

    import psycopg

    _, owner = user_with_token(postgres_url, "olivia", "owner")
    server = instance(spawn, process_environ, tmp_path, upstream, postgres_url, "gw")
    assert ask(server, upstream, owner).status_code == 200  # the token is cached: the relay needs no database
    wait_until(lambda: len(read_rows(postgres_url, "interceptions")) == 1, what="the first record")
    with psycopg.connect(postgres_url) as locker, concurrent.futures.ThreadPoolExecutor(1) as pool:
        locker.execute("LOCK TABLE interceptions IN ACCESS EXCLUSIVE MODE")  # held until the block ends
        waiting = pool.submit(audit, server, owner)
        wait_until(lambda: _waits_for_lock(postgres_url), what="the audit query to wait for the lock")
        # While that request's query waits in PostgreSQL, the same process serves others.
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        assert ask(server, upstream, owner).status_code == 200
        assert not waiting.done()
        locker.rollback()
        assert waiting.result(timeout=30)["count"] >= 1
    assert server.stop() == 0


def _waits_for_lock(postgres_url) -> bool:
    with open_database(postgres_url) as db:
        return bool(db.value("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             "AND datname = current_database()"))
