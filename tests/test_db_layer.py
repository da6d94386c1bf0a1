"""The database layer plugins use (aibridge.Database, Migrations, migrate), on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import json

import pytest
import requests
import sqlite_utils
from click.testing import CliRunner
from support.recorder_support import RecordingApp

import aibridge
from aibridge.cli import build_cli
from aibridge.db.sql import to_pyformat
from aibridge_plugins.storage.schema import migrations as recorder_migrations


@pytest.fixture
def database(tmp_path, store):
    return store.get("postgres_url") or tmp_path / "aibridge.db"


@pytest.mark.parametrize("sqlite, psycopg", [
    ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
    ("SELECT * FROM t WHERE a = :who OR b = :who", "SELECT * FROM t WHERE a = %(who)s OR b = %(who)s"),
    ("SELECT 'is it? :no' AS q, \"odd?name\" FROM t WHERE c LIKE 'x%' AND d = ?",
     "SELECT 'is it? :no' AS q, \"odd?name\" FROM t WHERE c LIKE 'x%%' AND d = %s"),
    ("SELECT a::text, 5 % 2 FROM t WHERE e = :e", "SELECT a::text, 5 %% 2 FROM t WHERE e = %(e)s"),
])
def test_sqlite_placeholders_become_psycopg_ones(sqlite, psycopg):
    assert to_pyformat(sqlite) == psycopg


PLUGIN_MIGRATIONS = aibridge.Migrations("test-budgets")


@PLUGIN_MIGRATIONS()
def m001_create_budgets(db):
    db.execute(f"CREATE TABLE budgets (id {db.serial_key}, user_id {db.text} NOT NULL UNIQUE, usd_cents INTEGER)")


@PLUGIN_MIGRATIONS()
def m002_add_note(db):
    db.execute("ALTER TABLE budgets ADD COLUMN note TEXT")


def test_a_plugin_keeps_its_tables_on_either_store_with_the_same_code(database):
    with aibridge.open_database(database) as db:
        assert aibridge.migrate(db, PLUGIN_MIGRATIONS) == ["m001_create_budgets", "m002_add_note"]
        assert aibridge.migrate(db, PLUGIN_MIGRATIONS) == []
        assert PLUGIN_MIGRATIONS.pending(db) == [] and [n for n, _ in PLUGIN_MIGRATIONS.applied(db)] == [
            "m001_create_budgets", "m002_add_note"]
        with db.transaction():
            db.execute("INSERT INTO budgets (user_id, usd_cents, note) VALUES (?, ?, ?)", ["alice", 500, "50% off"])
            db.execute("INSERT INTO budgets (user_id, usd_cents) VALUES (:user, :cents) "
                       "ON CONFLICT (user_id) DO UPDATE SET usd_cents = excluded.usd_cents",
                       {"user": "alice", "cents": 700})
        assert db.query("SELECT id, user_id, usd_cents, note FROM budgets") == [
            {"id": 1, "user_id": "alice", "usd_cents": 700, "note": "50% off"}]
        assert db.value("SELECT " + db.greatest("'b'", "'a'") + " AS g") == "b"
        with pytest.raises(aibridge.Database.errors()) as refused:
            with db.transaction():
                db.execute("INSERT INTO budgets (user_id) VALUES (NULL)")
        assert aibridge.Database.refuses(refused.value)


def test_many_rows_are_inserted_once_whatever_the_batch_size(database):
    with aibridge.open_database(database) as db:
        aibridge.migrate(db, PLUGIN_MIGRATIONS)
        for size in (3, 250):  # a few rows, and enough for PostgreSQL's COPY
            rows = [[f"user-{size}-{n}", n] for n in range(size)]
            with db.transaction():
                db.insert_rows("budgets", ("user_id", "usd_cents"), rows, skip_duplicates_of="user_id")
            with db.transaction():  # written again: nothing twice
                db.insert_rows("budgets", ("user_id", "usd_cents"), rows + [[f"new-{size}", 1]],
                               skip_duplicates_of="user_id")
        assert db.value("SELECT count(*) AS n FROM budgets") == 3 + 250 + 2


def test_a_sqlite_utils_migration_set_works_on_sqlite_only(tmp_path, postgres_url):
    old_style = sqlite_utils.Migrations("old-plugin")

    @old_style()
    def m001(db):
        db["notes"].create({"id": int, "text": str}, pk="id")

    with aibridge.open_database(tmp_path / "aibridge.db") as db:
        aibridge.migrate(db, old_style)
        assert db.has_table("notes")
    with aibridge.open_database(postgres_url) as db, pytest.raises(TypeError, match="aibridge.Migrations"):
        aibridge.migrate(db, old_style)


def test_only_one_instance_holds_an_exclusive_lock_on_postgres(postgres_url):
    with aibridge.open_database(postgres_url) as first, aibridge.open_database(postgres_url) as second:
        with first.exclusive("job") as held:
            assert held
            with second.exclusive("job") as also:
                assert not also
        with second.exclusive("job") as now:
            assert now


def test_readyz_says_ready_with_the_store_and_the_backlog(tmp_path, store):
    recording = RecordingApp(tmp_path, **store)
    try:
        response = requests.get(recording.serve_http() + "/readyz", timeout=5)
        assert response.status_code == 200
        answer = response.json()
        assert answer["status"] == "ready" and answer["store"] == ("postgresql" if store else "sqlite")
        assert answer["checks"]["recorder"] == {"ready": True, "store": "up", "backlog": {"memory": 0, "spool": 0}}
        assert answer["checks"]["token-store"] == {"ready": True, "store": "up"}
    finally:
        recording.close()


def db_command(*args):
    return CliRunner().invoke(build_cli({}), ["db", *args, "--format", "json"], catch_exceptions=False)


def test_db_status_and_migrate(tmp_path, store):
    where = ["--data-dir", str(tmp_path), *(["--postgres-url", store["postgres_url"]] if store else [])]
    with aibridge.open_database(store.get("postgres_url") or tmp_path / "aibridge.db"):
        pass  # the core's tables only, as `aibridge users create` leaves a new database
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool" / "gone-1.jsonl").write_text('{"kind": "start"}\n{"kind": "end"}\n')
    before = db_command("status", *where)
    assert before.exit_code == 0, before.output
    status = json.loads(before.stdout)
    assert status["store"] == ("postgresql" if store else "sqlite")
    assert status["spool"]["files"] == 1 and status["spool"]["records"] == 2
    sets = {entry["set"]: entry for entry in status["results"]}
    assert sets["aibridge-core"]["pending"] == [] and sets["aibridge-recorder"]["pending"] == recorder_migrations.names
    migrated = CliRunner().invoke(build_cli({}), ["db", "migrate", *where], catch_exceptions=False)
    lines = migrated.output.splitlines()
    assert lines[0] == "aibridge-core: up to date"
    assert sorted(lines[1:]) == ["aibridge-budgets: applied m001_groups_budgets_notifications, m002_token_usages_by_time",
                                 "aibridge-cost: applied m001_model_prices",
                                 "aibridge-recorder: applied " + ", ".join(recorder_migrations.names)]
    after = json.loads(db_command("status", *where).stdout)
    assert all(entry["pending"] == [] for entry in after["results"])


READS_FROM_OS_THREADS = r"""
import sys
from gevent import monkey
monkey.patch_all()
import aibridge
from aibridge.threads import wait_until

url, errors, done = sys.argv[1], [], []

def read():
    try:
        with aibridge.read_database(url) as db:
            db.query("SELECT pg_sleep(0.3)")
        done.append(1)
    except Exception as error:
        errors.append(repr(error))

aibridge.start_thread(read)  # the modules a read needs imported once, as in a running server
wait_until(lambda: done or errors, 60)
done.clear()
for _ in range(40):
    aibridge.start_thread(read)
wait_until(lambda: len(done) + len(errors) == 40, 60)
print(len(done), errors[:1])
"""


def test_reads_from_os_threads_under_gevent_do_not_wait_on_the_greenlets_pool(postgres_url, process_environ):
    # The dashboard reads the store on real OS threads; the read pool's waits are gevent's and stall there.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", READS_FROM_OS_THREADS, postgres_url], env=process_environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "40", done.stdout
