"""The recorder, on SQLite and on PostgreSQL: every record stored, nothing lost on shutdown, under load, or across
processes."""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from support.recorder_support import (
    TABLES,
    RecordingApp,
    child_records,
    count_rows,
    ended,
    make_interception,
    read_rows,
    utc,
)

from aibridge import threads
from aibridge.db import read_database
from aibridge.records import PromptUsage, TokenUsage, ToolUsage
from aibridge_plugins.storage import CHILD, END, START
from aibridge_plugins.recorder.writer import RecordWriter


@pytest.fixture
def recording(tmp_path, store):
    app = RecordingApp(tmp_path, **store)
    yield app
    app.close()


def refuse_rows(database, table: str, interception_id: str | None = None) -> None:
    """Make the database refuse new rows of ``table`` (those of one interception, if given), as a constraint would."""
    if isinstance(database, str):
        import psycopg

        condition = f"NEW.interception_id = '{interception_id}'" if interception_id else "true"
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF {condition} THEN "
                         "RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$")
            conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse()")
        return
    condition = f"WHEN NEW.interception_id = '{interception_id}' " if interception_id else ""
    conn = sqlite3.connect(str(database))
    conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} {condition}BEGIN SELECT RAISE(ABORT, 'refused'); END")
    conn.commit()
    conn.close()


def test_every_field_of_every_record_is_stored(recording):
    interception = make_interception("int-1", client_session_id="sess-42", metadata={"route": "/v1/messages", "n": 2},
                                     credential_kind="centralized", credential_hint="sk-a...ey-1")
    recording.record(interception)
    recording.close()
    db = recording.database

    (row,) = read_rows(db, "interceptions")
    assert row == {
        "id": "int-1", "initiator_id": "user-1", "initiator_username": "alice", "provider": "anthropic",
        "provider_name": "anthropic", "model": "claude-sonnet-4-6", "client": "Claude Code",
        "client_session_id": "sess-42", "user_agent": "claude-cli/2.0.1", "api": "messages", "streaming": 1,
        "started_at": "2025-03-01T12:00:00.000000+00:00", "ended_at": "2025-03-01T12:00:03.000000+00:00",
        "status": "completed", "error": None, "metadata": '{"n": 2, "route": "/v1/messages"}',
        "credential_kind": "centralized", "credential_hint": "sk-a...ey-1",
        "instance_id": recording.writer.instance.id,
    }
    created = "2025-03-01T12:00:01.000000+00:00"
    record_ids = [row["record_id"] for table in TABLES[1:] for row in read_rows(db, table)]
    prefix = recording.writer.instance.id.replace("-", "")[:16]
    assert sorted(record_ids) == [f"{prefix}-{n}" for n in range(1, 6)]  # this process's, in the order taken
    (usage,) = read_rows(db, "token_usages")
    usage.pop("record_id")
    assert usage == {"id": usage["id"], "interception_id": "int-1", "msg_id": "msg_1", "input_tokens": 100,
                     "output_tokens": 20, "cache_read_input_tokens": 5, "cache_write_input_tokens": 7,
                     "metadata": '{"web_search_requests": 1}', "created_at": created,
                     "cost_usd_nanos": 417_021}
    (prompt,) = read_rows(db, "user_prompts")
    prompt.pop("record_id")
    assert prompt == {"id": prompt["id"], "interception_id": "int-1", "msg_id": "msg_1",
                      "prompt": "prompt of int-1", "created_at": created}
    (tool,) = read_rows(db, "tool_usages")
    tool.pop("record_id")
    assert tool == {"id": tool["id"], "interception_id": "int-1", "msg_id": "msg_1", "tool_call_id": "toolu_1",
                    "tool": "get_weather", "input": '{"city": "Paris"}', "server_url": None, "injected": 0,
                    "invocation_error": None, "created_at": created}
    (thought,) = read_rows(db, "model_thoughts")
    thought.pop("record_id")
    assert thought == {"id": thought["id"], "interception_id": "int-1", "content": "Let me think.",
                       "metadata": '{"source": "thinking"}', "created_at": created}
    (result,) = read_rows(db, "tool_results")
    result.pop("record_id")
    assert result == {"id": result["id"], "interception_id": "int-1", "tool_call_id": "toolu_0", "is_error": 1,
                      "content": "File does not exist.", "created_at": created}


def test_injected_tool_with_an_error_keeps_its_server_and_error(recording):
    interception = make_interception("int-tool")
    recording.notify("on_interception_start", interception=interception)
    tool = ToolUsage("int-tool", "msg_9", "call_9", "bmcp_docs_search", "{}", server_url="http://127.0.0.1:9/mcp",
                     injected=True, invocation_error="server unreachable")
    recording.notify("on_tool_usage", interception=interception, tool=tool)
    recording.close()
    (row,) = read_rows(recording.database, "tool_usages")
    assert (row["server_url"], row["injected"], row["invocation_error"]) == (
        "http://127.0.0.1:9/mcp", 1, "server unreachable")


RECORDER_MIGRATIONS = ["m001_create_tables", "m002_audit_indexes", "m003_interception_error", "m004_tool_results",
                       "m005_interception_credentials", "m006_record_identity", "m007_session_and_usage_indexes",
                       "m008_signing_keys", "m009_token_usage_cost"]


def test_schema_comes_from_the_recorder_migrations_with_indexes_and_wal(tmp_path):
    recording = RecordingApp(tmp_path)
    recording.close()
    conn = sqlite3.connect(str(recording.database))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [row[0] for row in conn.execute(
        "SELECT name FROM _sqlite_migrations WHERE migration_set = 'aibridge-recorder' ORDER BY id")]
    assert applied == RECORDER_MIGRATIONS
    indexes = {row[0]: row[1] for row in conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type='index'")}
    assert indexes["idx_interceptions_initiator_started_at"] == "interceptions"
    assert indexes["idx_interceptions_started_at"] == "interceptions"
    assert indexes["idx_interceptions_ended_at"] == "interceptions"
    assert indexes["idx_interceptions_session"] == "interceptions"
    assert indexes["idx_token_usages_interception_sums"] == "token_usages"  # by interception, with the token sums
    for child in ("token_usages", "user_prompts", "tool_usages", "model_thoughts", "tool_results"):
        if child != "token_usages":
            assert indexes[f"idx_{child}_interception_id"] == child
        assert indexes[f"idx_{child}_record_id"] == child
        unique = {row[1]: row[2] for row in conn.execute(f"PRAGMA index_list({child})")}
        assert unique[f"idx_{child}_record_id"] == 1
    plan = " ".join(row[3] for row in conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM interceptions WHERE initiator_id = 'x' ORDER BY started_at DESC, id DESC"))
    assert "idx_interceptions_initiator_started_at" in plan and "TEMP B-TREE" not in plan
    assert indexes["idx_interceptions_usage"] == "interceptions"


def test_on_postgres_the_same_migrations_make_the_same_tables_and_indexes(postgres_url, tmp_path):
    RecordingApp(tmp_path / "pg", postgres_url=postgres_url).close()
    RecordingApp(tmp_path / "sqlite").close()
    with read_database(tmp_path / "sqlite" / "aibridge.db") as db:
        sqlite_columns = {table: set(db.columns(table)) for table in TABLES}
    with read_database(postgres_url) as db:
        applied = [row["name"] for row in db.query(
            "SELECT name FROM _aibridge_migrations WHERE migration_set = 'aibridge-recorder' ORDER BY id")]
        indexes = {row["indexname"]: (row["tablename"], row["indexdef"]) for row in db.query(
            "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'")}
        assert {table: set(db.columns(table)) for table in TABLES} == sqlite_columns
    assert applied == RECORDER_MIGRATIONS
    assert indexes["idx_interceptions_initiator_started_at"][0] == "interceptions"
    assert indexes["idx_token_usages_interception_sums"][0] == "token_usages"  # m007 widened its lookup index
    for child in TABLES[2:]:
        assert indexes[f"idx_{child}_interception_id"][0] == child
    for child in TABLES[1:]:
        assert indexes[f"idx_{child}_record_id"][1].startswith("CREATE UNIQUE INDEX")
    assert indexes["idx_interceptions_usage"][1].startswith("CREATE INDEX")


def test_a_second_app_on_the_same_database_keeps_the_rows(tmp_path, store):
    first = RecordingApp(tmp_path, **store)
    first.record(make_interception("int-a"))
    first.close()
    second = RecordingApp(tmp_path, **store)
    second.record(make_interception("int-b"))
    second.close()
    assert [row["id"] for row in read_rows(second.database, "interceptions")] == ["int-a", "int-b"]


def test_what_the_end_learnt_replaces_the_start_values(recording):
    # A key failover or a fallback changes the instance, model, key and metadata after the start was written.
    start = make_interception("int-moved", credential_kind="centralized", credential_hint="sk-a...0001")
    recording.notify("on_interception_start", interception=start)
    deadline = time.monotonic() + 10
    while not read_rows(recording.database, "interceptions") and time.monotonic() < deadline:
        time.sleep(0.01)
    moved = dataclasses.replace(start, provider_name="anthropic-bedrock", model="us.anthropic.claude-sonnet-4-5",
                                credential_hint="AKIA...MPLE", metadata={"attempts": 3, "fallback_from": "anthropic"})
    recording.notify("on_interception_end", interception=ended(moved, status="completed"))
    recording.close()
    (row,) = read_rows(recording.database, "interceptions")
    assert (row["provider_name"], row["model"], row["credential_kind"], row["credential_hint"], row["status"]) == (
        "anthropic-bedrock", "us.anthropic.claude-sonnet-4-5", "centralized", "AKIA...MPLE", "completed")
    assert json.loads(row["metadata"]) == {"attempts": 3, "fallback_from": "anthropic"}


def test_one_batch_is_written_as_its_records_came_in_many_rows_a_statement(tmp_path, store):
    # SQLite gets multi-row inserts of at most 200 rows: 450 interceptions cross two statement boundaries,
    # and two ends of one interception in one statement must leave the later one, as one statement each did.
    from aibridge_plugins.storage import RecordIds, open_for_writing, row_write, write_rows

    instance, ids = "0123456789abcdef-instance", RecordIds("0123456789abcdef")
    database = store.get("postgres_url") or tmp_path / "aibridge.db"
    first_end = ended(make_interception("int-twice"), status="failed")
    writes = [row_write(START, make_interception(f"int-{n:03d}"), instance, ids) for n in range(450)]
    writes += [row_write(END, ended(make_interception(f"int-{n:03d}")), instance, ids) for n in range(0, 450, 2)]
    writes += [row_write(END, first_end, instance, ids),
               row_write(END, dataclasses.replace(first_end, status="completed"), instance, ids)]
    writes += [row_write(CHILD, TokenUsage(f"int-{n:03d}", "msg_1", n, 1), instance, ids) for n in range(450)]
    db = open_for_writing(database)
    try:
        write_rows(db, writes)
    finally:
        db.close()
    rows = {row["id"]: row for row in read_rows(database, "interceptions")}
    assert len(rows) == 451 and rows["int-twice"]["status"] == "completed"
    assert [rows[f"int-{n:03d}"]["status"] for n in (0, 1, 448, 449)] == ["completed", None, "completed", None]
    assert sorted(row["input_tokens"] for row in read_rows(database, "token_usages")) == list(range(450))


def test_an_end_without_its_start_and_children_without_an_interception_are_kept(recording):
    orphan = make_interception("int-orphan")
    recording.notify("on_interception_end", interception=ended(orphan, status="failed"))
    recording.notify("on_token_usage", interception=orphan, usage=TokenUsage("int-missing", "msg_1", 1, 2))
    recording.close()
    (row,) = read_rows(recording.database, "interceptions")
    assert (row["id"], row["status"], row["model"]) == ("int-orphan", "failed", "claude-sonnet-4-6")
    assert read_rows(recording.database, "token_usages")[0]["interception_id"] == "int-missing"


def test_text_json_cannot_encode_as_utf8_is_stored_replaced(recording):
    interception = make_interception("int-surrogate")
    recording.notify("on_interception_start", interception=interception)
    recording.notify("on_prompt_usage", interception=interception,
                     prompt=PromptUsage("int-surrogate", "msg_1", "half an emoji: \ud83d"))
    recording.close()
    assert read_rows(recording.database, "user_prompts")[0]["prompt"] == "half an emoji: ?"


def test_hooks_return_while_the_database_is_locked_and_shutdown_writes_the_full_queue(tmp_path):
    recording = RecordingApp(tmp_path)
    locker = sqlite3.connect(str(recording.database), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    for n in range(500):
        recording.record(make_interception(f"int-{n:04d}", started_at=utc(2025, 3, 1, 12, n // 60, n % 60)))
    # Nothing can have been written: the hooks only queued, and the queue is full at shutdown.
    assert recording.writer.written == 0
    locker.execute("ROLLBACK")
    locker.close()
    recording.close()
    assert count_rows(recording.database) == {
        "interceptions": 500, "token_usages": 500, "user_prompts": 500, "tool_usages": 500, "model_thoughts": 500,
        "tool_results": 500}
    assert recording.writer.written == recording.sent and recording.writer.lost == 0


def test_records_are_written_while_the_app_runs(recording):
    recording.record(make_interception("int-live"))
    recording.wait_written()
    assert count_rows(recording.database)["interceptions"] == 1


def test_the_writer_runs_on_its_own_os_thread(recording):
    recording.record(make_interception("int-thread"))
    recording.wait_written()
    assert recording.writer.thread_ident not in (None, threads.thread_ident())


def test_a_record_the_database_refuses_is_logged_whole_and_the_others_are_written(tmp_path, store, caplog):
    database = store.get("postgres_url") or tmp_path / "aibridge.db"
    writer = RecordWriter(database, data_dir=tmp_path)
    writer.start()
    refuse_rows(database, "tool_usages")
    interception = make_interception("int-refused")
    caplog.set_level(logging.WARNING, logger="aibridge.recorder")
    writer.put(START, interception)
    for _, _, record in child_records(interception):
        writer.put(CHILD, record)
    writer.put(END, ended(interception))
    writer.close()

    assert (writer.written, writer.lost) == (6, 1)
    counts = count_rows(database)
    assert counts == {"interceptions": 1, "token_usages": 1, "user_prompts": 1, "tool_usages": 0, "model_thoughts": 1,
                      "tool_results": 1}
    # Refused is not an outage: no retries, no spool, one line with the whole record.
    (lost,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    message = lost.getMessage()
    assert lost.levelno == logging.ERROR
    assert "could not record tool_usage, the database refuses it (refused" in message
    record = json.loads(message[message.index("{"):])
    assert record["interception_id"] == "int-refused" and record["tool_call_id"] == "toolu_1"
    assert record["input"] == '{"city": "Paris"}'
    assert not (tmp_path / "spool").exists() or not list((tmp_path / "spool").iterdir())


def test_an_end_that_cannot_become_a_row_is_logged_as_an_end_and_its_start_is_kept(tmp_path, caplog):
    writer = RecordWriter(tmp_path / "aibridge.db", data_dir=tmp_path)
    writer.start()
    caplog.set_level(logging.ERROR, logger="aibridge.recorder")
    broken = make_interception("int-broken-end")
    writer.put(START, broken)
    writer.put(END, dataclasses.replace(ended(broken), metadata={1: "one", "two": 2}))  # keys JSON cannot sort
    writer.close()

    assert (writer.written, writer.lost) == (1, 1)
    (row,) = read_rows(tmp_path / "aibridge.db", "interceptions")
    assert (row["id"], row["status"]) == ("int-broken-end", "interrupted")  # ended by the writer's own shutdown
    (lost,) = caplog.records
    assert lost.getMessage().startswith("could not record interception_end (")
    assert '"interception_id": "int-broken-end"' in lost.getMessage()
    writer.put(END, ended(broken))  # after shutdown: named as what it is too
    assert caplog.records[-1].getMessage().startswith("recorder is stopped: interception_end record not recorded")


def test_a_record_after_shutdown_is_reported_not_silently_dropped(recording, caplog):
    recording.close()
    with caplog.at_level(logging.ERROR, logger="aibridge.recorder"):
        recording.notify("on_interception_start", interception=make_interception("int-late"))
    assert any("not recorded" in r.getMessage() and "int-late" in r.getMessage() for r in caplog.records)


GEVENT_SCRIPT = textwrap.dedent(
    """
    import sys
    from gevent import monkey
    monkey.patch_all()

    import json, logging, sqlite3, pathlib
    import gevent
    sys.path.insert(0, sys.argv[2])
    from support.recorder_support import RecordingApp, make_interception, utc
    from aibridge import threads

    from test_recorder import refuse_rows

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    data_dir = pathlib.Path(sys.argv[1])
    recording = RecordingApp(data_dir, **({"postgres_url": sys.argv[3]} if len(sys.argv) > 3 else {}))
    refuse_rows(recording.database, "model_thoughts", "g-0-0")
    def client(n):
        for i in range(20):
            recording.record(make_interception(f"g-{n}-{i}", started_at=utc(2025, 3, 1, 12, n, i)))
            gevent.sleep(0)

    gevent.joinall([gevent.spawn(client, n) for n in range(25)])
    recording.close()
    print(json.dumps({
        "patched": threads.gevent_patched(),
        "writer_on_other_thread": recording.writer.thread_ident != threads.thread_ident(),
        "written": recording.writer.written, "lost": recording.writer.lost, "sent": recording.sent,
    }))
    """
)


def test_under_gevent_monkey_patching_the_writer_is_a_real_thread_and_nothing_is_lost(tmp_path, store):
    script = tmp_path / "gevent_recording.py"
    script.write_text(GEVENT_SCRIPT)
    tests_dir = str(Path(__file__).parent)
    done = subprocess.run([sys.executable, str(script), str(tmp_path), tests_dir, *store.values()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["patched"] and result["writer_on_other_thread"]
    assert result["sent"] == 500 * 7 and result["written"] == result["sent"] - 1 and result["lost"] == 1
    # The writer thread's error went through the hub to the log handlers.
    assert "could not record model_thought" in done.stderr and "g-0-0" in done.stderr
    counts = count_rows(store.get("postgres_url") or tmp_path / "aibridge.db")
    assert counts == {"interceptions": 500, "token_usages": 500, "user_prompts": 500, "tool_usages": 500,
                      "model_thoughts": 499, "tool_results": 500}


PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys
    if sys.argv[4] == "gevent":
        from gevent import monkey
        monkey.patch_all()
    import pathlib, time
    sys.path.insert(0, sys.argv[5])
    from support.recorder_support import RecordingApp, make_interception, utc

    data_dir, prefix, go = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
    while not go.exists():  # start together, so both migrate and write at the same time
        time.sleep(0.001)
    recording = RecordingApp(data_dir, **({"postgres_url": sys.argv[6]} if len(sys.argv) > 6 else {}))
    for i in range(1000):
        recording.record(make_interception(f"{prefix}-{i}", started_at=utc(2025, 3, 1, 12, i // 60, i % 60)))
    recording.close()
    print(recording.writer.written, recording.writer.lost)
    """
)


def test_two_processes_writing_one_database_lose_no_row(tmp_path, store):
    script = tmp_path / "process_recording.py"
    script.write_text(PROCESS_SCRIPT)
    go = tmp_path / "go"
    tests_dir = str(Path(__file__).parent)
    processes = [
        subprocess.Popen([sys.executable, str(script), str(tmp_path), prefix, str(go), mode, tests_dir,
                          *store.values()],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for prefix, mode in (("a", "plain"), ("b", "gevent"))
    ]
    go.touch()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.split() == ["7000", "0"]
    database = store.get("postgres_url") or tmp_path / "aibridge.db"
    assert count_rows(database) == {
        "interceptions": 2000, "token_usages": 2000, "user_prompts": 2000, "tool_usages": 2000,
        "model_thoughts": 2000, "tool_results": 2000}
    ids = {row["id"] for row in read_rows(database, "interceptions")}
    assert ids == {f"{p}-{i}" for p in "ab" for i in range(1000)}
