"""Retention: interceptions past the retention period go, with their records, in batches; 0 keeps all."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3

import pytest
from click.testing import CliRunner
from support.recorder_support import TABLES, RecordingApp, ended, make_interception, read_rows, utc, wait_until

from aibridge.cli import build_cli
from aibridge_plugins.retention.job import RetentionJob
from aibridge_plugins.storage import count_expired, open_for_writing, purge

NOW = utc(2025, 6, 1, 12)
RETENTION = dt.timedelta(days=30)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


def seed(data_dir, ended_days_ago: dict[str, float | None], started_days_ago: float = 0, store=None):
    """Record interceptions ending that many days before NOW (None: never ended), each with four children.

    Returns the database (SQLite file, or the PostgreSQL URL of ``store``)."""
    recording = RecordingApp(data_dir, **(store or {}))
    for interception_id, days in ended_days_ago.items():
        if days is None:
            interception = make_interception(interception_id, started_at=NOW - dt.timedelta(days=started_days_ago))
            recording.record(interception, end=False)
        else:
            interception = make_interception(interception_id, started_at=NOW - dt.timedelta(days=days, seconds=3))
            recording.record(interception)
    recording.close()
    return recording.database


def ids(database) -> list[str]:
    return sorted(row["id"] for row in read_rows(database, "interceptions"))


def children_of(database) -> set[str]:
    return {row["interception_id"] for table in TABLES[1:] for row in read_rows(database, table)}


def test_purge_removes_old_interceptions_with_their_records_and_keeps_new_ones(tmp_path, store):
    db = seed(tmp_path, {"old": 45, "just-expired": 30.01, "recent": 29.9, "new": 1}, store=store)
    with open_for_writing(db) as connection:
        result = purge(connection, NOW - RETENTION)
    assert ids(db) == ["new", "recent"]
    assert children_of(db) == {"new", "recent"}
    assert result.rows == {"interceptions": 2, "token_usages": 2, "user_prompts": 2, "tool_usages": 2,
                           "model_thoughts": 2, "tool_results": 2}
    assert result.total == 12


def test_an_interception_that_never_ended_expires_by_its_start(tmp_path, store):
    db = seed(tmp_path / "a", {"crashed-long-ago": None}, started_days_ago=40, store=store)
    seed(tmp_path / "a", {"still-running": None}, started_days_ago=0, store=store)
    with open_for_writing(db) as connection:
        purge(connection, NOW - RETENTION)
    assert ids(db) == ["still-running"]


def test_purge_works_in_batches_until_nothing_is_left(tmp_path, store):
    db = seed(tmp_path, {f"old-{n}": 40 + n for n in range(7)} | {"new": 2}, store=store)
    batches = []
    with open_for_writing(db) as connection:
        result = purge(connection, NOW - RETENTION, batch_size=3,
                       removed=lambda interceptions: batches.append((interceptions, sorted(ids(db)))))
    assert result.interceptions == 7 and result.total == 42
    # Each batch is committed before the next (another connection sees it): 3 + 3 + 1.
    assert [(removed, len(left)) for removed, left in batches] == [(3, 5), (3, 2), (1, 1)]
    assert ids(db) == ["new"]


def test_on_postgres_one_instance_purges_at_a_time(tmp_path, postgres_url):
    import psycopg

    from aibridge.db.database import lock_key
    from aibridge_plugins.storage.purge import PURGE_LOCK

    db = seed(tmp_path, {"old": 45}, store={"postgres_url": postgres_url})
    with psycopg.connect(postgres_url, autocommit=True) as other_instance:
        other_instance.execute("SELECT pg_advisory_lock(%s)", [lock_key(PURGE_LOCK)])
        with open_for_writing(db) as connection:
            skipped = purge(connection, NOW - RETENTION)
        assert skipped.skipped and skipped.total == 0 and ids(db) == ["old"]
        assert skipped.describe() == "nothing: another gateway instance is purging the same database"
    with open_for_writing(db) as connection:
        assert purge(connection, NOW - RETENTION).interceptions == 1


def test_dry_run_counts_without_removing(tmp_path, store):
    db = seed(tmp_path, {"old": 45, "new": 1}, store=store)
    with open_for_writing(db) as connection:
        result = count_expired(connection, NOW - RETENTION)
    assert result.rows == {"interceptions": 1, "token_usages": 1, "user_prompts": 1, "tool_usages": 1,
                           "model_thoughts": 1, "tool_results": 1}
    assert ids(db) == ["new", "old"]


def test_the_job_purges_at_start_and_again_as_time_passes(tmp_path, store, caplog):
    db = seed(tmp_path, {"old": 45, "middle": 20, "new": 1}, store=store)
    clock = FakeClock(NOW)
    job = RetentionJob(db, RETENTION, clock=clock, interval=0.001)
    caplog.set_level(logging.INFO, logger="aibridge.retention")
    job.start()
    try:
        wait_until(lambda: job.runs >= 1, what="the first purge")
        assert ids(db) == ["middle", "new"]
        clock.advance(dt.timedelta(days=15))
        wait_until(lambda: "middle" not in ids(db), what="a later purge")
        assert ids(db) == ["new"]
    finally:
        job.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "aibridge.retention"]
    assert messages[0].startswith("retention purge removed 6 rows (interceptions 1, token_usages 1, user_prompts 1, "
                                  "tool_usages 1, model_thoughts 1, tool_results 1) of interceptions that ended "
                                  "before 2025-05-02")


def test_the_job_stops_promptly_between_runs(tmp_path):
    db = seed(tmp_path, {"new": 1})
    job = RetentionJob(db, RETENTION, clock=FakeClock(NOW))  # ten minutes between runs
    job.start()
    wait_until(lambda: job.runs >= 1, what="the first purge")
    job.stop()
    assert job.runs == 1 and job.last_error is None


def test_a_failed_run_is_logged_and_retried(tmp_path, caplog):
    db = seed(tmp_path, {"old": 45})
    conn = sqlite3.connect(str(db))
    conn.execute("CREATE TRIGGER keep BEFORE DELETE ON interceptions BEGIN SELECT RAISE(ABORT, 'kept'); END")
    conn.commit()
    job = RetentionJob(db, RETENTION, clock=FakeClock(NOW), interval=0.001)
    caplog.set_level(logging.ERROR, logger="aibridge.retention")
    job.start()
    try:
        wait_until(lambda: job.runs >= 2, what="two failed runs")
        conn.execute("DROP TRIGGER keep")
        conn.commit()
        wait_until(lambda: ids(db) == [], what="a run after the fix")
    finally:
        job.stop()
    assert any("retention purge failed" in r.getMessage() and "kept" in r.getMessage() for r in caplog.records)


def test_zero_retention_cannot_make_a_job():
    with pytest.raises(ValueError, match="keeps records forever"):
        RetentionJob("unused.db", dt.timedelta(0))


def test_the_app_purges_once_at_startup(tmp_path, store, caplog):
    # Real time here: records that ended 100 days ago, with the default 60 days of retention.
    now = dt.datetime.now(dt.timezone.utc)
    recording = RecordingApp(tmp_path, **store)
    recording.record(make_interception("ancient", started_at=now - dt.timedelta(days=100)))
    recording.record(make_interception("fresh", started_at=now - dt.timedelta(days=1)))
    recording.close()
    caplog.set_level(logging.INFO, logger="aibridge.retention")
    app = RecordingApp(tmp_path, retention=dt.timedelta(days=60), **store)
    try:
        job = app.app.extensions["aibridge.retention"]
        wait_until(lambda: job.runs >= 1, what="the startup purge")
        assert ids(app.database) == ["fresh"]
    finally:
        app.close()
    assert any(r.getMessage().startswith("retention purge removed 6 rows") for r in caplog.records)


def test_the_app_with_zero_retention_keeps_everything(tmp_path, caplog):
    now = dt.datetime.now(dt.timezone.utc)
    caplog.set_level(logging.INFO, logger="aibridge.retention")
    app = RecordingApp(tmp_path, retention=dt.timedelta(0))
    try:
        app.record(make_interception("ancient", started_at=now - dt.timedelta(days=3650)))
        assert "aibridge.retention" not in app.app.extensions
    finally:
        app.close()
    assert ids(tmp_path / "aibridge.db") == ["ancient"]
    assert "retention is 0: recorded interceptions are kept forever" in caplog.text


def run_cli(*args, env=None):
    result = CliRunner().invoke(build_cli({}), list(args), env=env or {}, catch_exceptions=False)
    return result


def seed_real_time(data_dir, store=None):
    now = dt.datetime.now(dt.timezone.utc)
    recording = RecordingApp(data_dir, **(store or {}))
    recording.record(make_interception("ancient", started_at=now - dt.timedelta(days=100)))
    recording.record(make_interception("fresh", started_at=now - dt.timedelta(days=1)))
    recording.close()
    return recording.database


def test_cli_dry_run_then_purge(tmp_path, store):
    db = seed_real_time(tmp_path, store)
    where = ["--data-dir", str(tmp_path), *(["--postgres-url", db] if store else [])]
    dry = run_cli("retention", "purge", "--dry-run", *where)
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("would remove 6 rows (interceptions 1, token_usages 1, user_prompts 1, tool_usages 1, "
                                 "model_thoughts 1, tool_results 1) of interceptions that ended before ")
    assert ids(db) == ["ancient", "fresh"]
    done = run_cli("retention", "purge", *where)
    assert done.exit_code == 0, done.output
    assert done.output.startswith("removed 6 rows")
    assert ids(db) == ["fresh"]
    again = run_cli("retention", "purge", *where)
    assert again.output.startswith("removed 0 rows")


def test_cli_reads_retention_from_flag_environment_and_yaml(tmp_path):
    db = seed_real_time(tmp_path)
    yaml = tmp_path / "aibridge.yaml"
    yaml.write_text("aibridge:\n  retention: 200d\n")
    from_yaml = run_cli("retention", "purge", "--dry-run", "--data-dir", str(tmp_path), "--config", str(yaml))
    assert from_yaml.output.startswith("would remove 0 rows")
    from_env = run_cli("retention", "purge", "--dry-run", "--config", str(yaml),
                       env={"CODER_AIBRIDGE_RETENTION": "12h", "CODER_DATA_DIR": str(tmp_path)})
    assert from_env.output.startswith("would remove 12 rows")
    from_flag = run_cli("retention", "purge", "--data-dir", str(tmp_path), "--aibridge-retention", "0")
    assert from_flag.output == "retention is 0: recorded interceptions are kept forever, nothing to purge\n"
    assert ids(db) == ["ancient", "fresh"]


def test_cli_bad_retention_is_one_line_and_status_2(tmp_path):
    result = run_cli("retention", "purge", "--data-dir", str(tmp_path), "--aibridge-retention", "soon")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "--aibridge-retention" in result.output


def test_cli_without_a_database_says_so(tmp_path):
    result = run_cli("retention", "purge", "--data-dir", str(tmp_path))
    assert result.exit_code == 0
    assert result.output == f"no database at {tmp_path / 'aibridge.db'}: nothing to purge\n"
    assert not (tmp_path / "aibridge.db").exists()


def test_cli_rows_of_ended_records_use_their_end_time(tmp_path):
    # A long interception that started before the cutoff but ended after it is kept.
    now = dt.datetime.now(dt.timezone.utc)
    recording = RecordingApp(tmp_path)
    long_one = make_interception("long", started_at=now - dt.timedelta(days=61))
    recording.notify("on_interception_start", interception=long_one)
    recording.notify("on_interception_end", interception=ended(long_one, at=now - dt.timedelta(days=59)))
    recording.close()
    result = run_cli("retention", "purge", "--data-dir", str(tmp_path))
    assert result.output.startswith("removed 0 rows")
    assert ids(tmp_path / "aibridge.db") == ["long"]
