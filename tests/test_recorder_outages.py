"""The recorder through outages of its store, caused for real: nothing given up, nothing written twice.

The writer is driven directly here (its timings shortened); tests/test_faults_server.py does the same
through ``aibridge server`` processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil

import pytest
from support.faults import LockHolder, make_immutable, small_filesystem
from support.recorder_support import child_records, count_rows, ended, make_interception, read_rows, utc, wait_until

from aibridge.records import PromptUsage
from aibridge_plugins.recorder.last_resort import SHARED_MEMORY, last_resort_directory
from aibridge_plugins.recorder.writer import RecordWriter
from aibridge_plugins.storage import CHILD, END, START

FAST = dict(retry_interval=0.05, spill_after=0.1, linger=0.005, flush_timeout=2.0)
ALL_TABLES = {"interceptions", "token_usages", "user_prompts", "tool_usages", "model_thoughts", "tool_results"}
# Records of one whole interception: its start, one record of each child kind, its end.
PER = 2 + len(child_records(make_interception("count")))


def record(writer: RecordWriter, interception_id: str, minute: int = 0, prompt_size: int = 0) -> None:
    """One whole interception: start, a record of each kind, end (PER records); its prompt ``prompt_size`` long."""
    interception = make_interception(interception_id, started_at=utc(2025, 3, 1, 12, minute))
    writer.put(START, interception)
    for _, _, child in child_records(interception):
        if isinstance(child, PromptUsage) and prompt_size:
            child = dataclasses.replace(child, prompt="x" * prompt_size)
        writer.put(CHILD, child)
    writer.put(END, ended(interception))


def each(count: int) -> dict[str, int]:
    return dict.fromkeys(sorted(ALL_TABLES), count)


def spool_files(directory) -> list:
    return sorted(directory.glob("*.jsonl")) if directory.exists() else []


@contextlib.contextmanager
def nowhere_to_write(writer: RecordWriter):
    """Until the block ends, ``writer``'s database is locked by another process and its spool's filesystem is full.

    Neither frees room while it lasts. (With the database on the full filesystem too, SQLite dropping its
    journal or WAL after a failed write gave a few blocks back, and CI saw the spool take a record there.)
    """
    with small_filesystem(writer.spool_dir.parent) as fs, LockHolder(writer.database):
        writer.spool_dir.mkdir(mode=0o700)  # the mount hides the one the writer made at its start
        fs.fill()
        yield
        fs.free()


def shut_down_with_nowhere_to_write(tmp_path, caplog, interceptions: int) -> tuple[RecordWriter, object]:
    """A writer given ``interceptions`` whole interceptions, then closed while nothing can take them:
    (the writer, its last-resort directory). The spool said why it could not."""
    writer = RecordWriter(tmp_path / "aibridge.db", tmp_path / "small" / "spool", **{**FAST, "flush_timeout": 0.2})
    writer.start()
    with nowhere_to_write(writer):
        for n in range(interceptions):
            record(writer, f"kept-{n}", minute=n, prompt_size=10_000)
        caplog.set_level(logging.WARNING, logger="aibridge.recorder")
        writer.close()
    assert any("No space left on device" in r.getMessage() for r in caplog.records)
    return writer, last_resort_directory(writer.spool_dir)


@pytest.fixture
def started(tmp_path):
    writers = []

    def start(**settings) -> RecordWriter:
        writer = RecordWriter(tmp_path / "aibridge.db", **{**FAST, **settings})
        writer.start()
        writers.append(writer)
        return writer

    yield start
    for writer in writers:
        writer.close()


def test_a_lock_held_by_another_process_keeps_records_in_memory_then_the_spool_and_loses_none(
        tmp_path, started, caplog):
    caplog.set_level(logging.INFO, logger="aibridge.recorder")
    writer = started()
    record(writer, "before")
    wait_until(lambda: writer.written == PER, what="the first interception to be written")
    with LockHolder(tmp_path / "aibridge.db") as lock:
        for n in range(20):
            record(writer, f"locked-{n:02d}", minute=n)
        wait_until(lambda: writer.in_spool == PER * 20, what="every record to reach the spool")
        assert len(spool_files(tmp_path / "spool")) == 1 and not writer.store_up
        lock.release()
        wait_until(lambda: writer.written == PER * 21, what="the backlog to be written")
    wait_until(lambda: not spool_files(tmp_path / "spool"), what="the spool file to be deleted")
    assert count_rows(tmp_path / "aibridge.db") == each(21)
    assert writer.lost == 0 and writer.store_up
    lines = [r.getMessage() for r in caplog.records]
    assert sum("the store does not take records (database is locked)" in line for line in lines) == 1
    assert sum("the store takes records again" in line for line in lines) == 1


def test_the_outage_is_reported_once_a_minute_not_per_record(tmp_path, started, caplog):
    caplog.set_level(logging.WARNING, logger="aibridge.recorder")
    writer = started(warn_interval=0.2)
    with LockHolder(tmp_path / "aibridge.db") as lock:
        for n in range(50):
            record(writer, f"locked-{n:02d}", minute=n)
        wait_until(lambda: any("has not taken records for" in r.getMessage() for r in caplog.records),
                   what="the periodic warning")
        lock.release()
        wait_until(lambda: writer.written == PER * 50, what="the backlog to be written")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) < 50  # about one line per interval, never one per record
    periodic = [line for line in warnings if "has not taken records for" in line]
    assert periodic and all("records waiting" in line and "in the spool" in line for line in periodic)


def test_records_spooled_at_shutdown_are_written_by_the_next_start_and_a_replay_stores_nothing_twice(tmp_path):
    first = RecordWriter(tmp_path / "aibridge.db", **{**FAST, "flush_timeout": 0.2})
    first.start()
    with LockHolder(tmp_path / "aibridge.db"):
        for n in range(10):
            record(first, f"kept-{n}", minute=n)
        first.close()  # the store stays locked beyond the flush timeout: everything goes to the spool
    (spooled,) = spool_files(tmp_path / "spool")
    assert len(spooled.read_text().splitlines()) == PER * 10 and first.lost == 0
    assert count_rows(tmp_path / "aibridge.db") == each(0)
    copy = shutil.copy(spooled, tmp_path / "copy")

    second = RecordWriter(tmp_path / "aibridge.db", **FAST)
    second.start()
    wait_until(lambda: not spool_files(tmp_path / "spool"), what="the spool to be replayed at start")
    second.close()
    assert count_rows(tmp_path / "aibridge.db") == each(10)

    # A crash in the middle of a replay leaves the file to be replayed again: nothing is doubled.
    shutil.copy(copy, tmp_path / "spool" / "crashed-1.jsonl")
    third = RecordWriter(tmp_path / "aibridge.db", **FAST)
    third.start()
    wait_until(lambda: not spool_files(tmp_path / "spool"), what="the copy to be replayed")
    third.close()
    assert count_rows(tmp_path / "aibridge.db") == each(10)
    rows = read_rows(tmp_path / "aibridge.db", "interceptions")
    assert {row["status"] for row in rows} == {"completed"} and len({row["instance_id"] for row in rows}) == 1


def test_a_spool_file_held_by_a_live_process_is_left_alone(tmp_path, started):
    owner = started()
    with LockHolder(tmp_path / "aibridge.db"):
        record(owner, "owned")
        wait_until(lambda: owner.in_spool == PER, what="the record to reach the owner's spool")
        other = started()
        other._look_for_gone()  # noqa: SLF001 - what the writer does every minute
        assert other._backlog.spool.adopted == []  # noqa: SLF001


def test_a_database_that_disappears_is_waited_for_not_created_again(tmp_path, started):
    writer = started()
    record(writer, "before")
    wait_until(lambda: writer.written == PER, what="the first interception")
    database = tmp_path / "aibridge.db"
    aside = tmp_path / "moved-away"
    aside.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if (tmp_path / f"aibridge.db{suffix}").exists():
            (tmp_path / f"aibridge.db{suffix}").rename(aside / f"aibridge.db{suffix}")
    record(writer, "while-missing")
    wait_until(lambda: writer.in_spool == PER, what="the records to reach the spool")
    assert not database.exists()  # not recreated empty
    for path in aside.iterdir():
        path.rename(tmp_path / path.name)
    wait_until(lambda: writer.written == PER * 2, what="the records to be written once the database is back")
    assert sorted(row["id"] for row in read_rows(database, "interceptions")) == ["before", "while-missing"]


def test_a_full_filesystem_keeps_records_in_the_spool_on_another_one(tmp_path, started):
    with small_filesystem(tmp_path / "small", size=8 * 1024 * 1024) as fs:
        data = fs.path / "data"
        data.mkdir()
        writer = RecordWriter(data / "aibridge.db", spool_dir=tmp_path / "spool", **FAST)
        writer.start()
        try:
            fs.fill()
            # Prompts big enough that the database must grow.
            for n in range(40):
                record(writer, f"full-{n:02d}", minute=n, prompt_size=5_000)
            wait_until(lambda: writer.in_spool == PER * 40, what="the records to reach the spool")
            assert not writer.store_up and writer.lost == 0
            fs.free()
            wait_until(lambda: writer.written == PER * 40, what="the backlog to be written once there is space")
        finally:
            writer.close()
        assert count_rows(data / "aibridge.db") == each(40)
        assert not spool_files(tmp_path / "spool")


@pytest.mark.parametrize("overflow", ["refuse", "relay"])
def test_when_even_the_spool_is_full_new_interceptions_are_refused_or_counted_as_lost(tmp_path, overflow):
    with small_filesystem(tmp_path / "small") as fs:
        writer = RecordWriter(fs.path / "aibridge.db", overflow=overflow, memory_limit=50_000, **FAST)
        writer.start()
        try:
            fs.fill()
            for n in range(20):
                record(writer, f"full-{n:02d}", minute=n, prompt_size=5_000)
            if overflow == "refuse":
                wait_until(lambda: writer.refusing, what="the writer to refuse new interceptions")
                assert not writer.admits() and writer.refused_interceptions == 1 and writer.lost == 0
            else:
                wait_until(lambda: writer.dropped > 0, what="records to be dropped")
                assert writer.admits() and not writer.refusing
            fs.free()
            wait_until(lambda: writer.store_up and writer.in_memory == 0, what="the store to take records again")
            assert writer.admits()
        finally:
            writer.close()
        kept = count_rows(fs.path / "aibridge.db")["interceptions"]
        assert kept == 20 if overflow == "refuse" else 0 < kept < 20
        assert writer.lost == (0 if overflow == "refuse" else writer.dropped)


def test_records_the_spool_cannot_take_at_shutdown_are_kept_in_memory_backed_files_for_the_next_start(tmp_path, caplog):
    writer, last_resort = shut_down_with_nowhere_to_write(tmp_path, caplog, 3)
    database, spool = writer.database, writer.spool_dir
    assert writer.kept_in_last_resort == PER * 3 and writer.lost == writer.written == 0
    assert last_resort.parent == SHARED_MEMORY and len(spool_files(last_resort)) == 1
    assert (last_resort.stat().st_mode & 0o777, spool_files(last_resort)[0].stat().st_mode & 0o777) == (0o700, 0o600)
    restarted = RecordWriter(database, spool, **FAST)
    restarted.start()
    try:
        wait_until(lambda: restarted.written == PER * 3, what="the kept records to be written at the next start")
    finally:
        restarted.close()
    assert count_rows(database) == each(3)
    assert not last_resort.exists()


def test_a_last_resort_directory_someone_else_could_write_is_not_replayed(tmp_path, caplog):
    # Its name in /dev/shm is predictable: another user could make it first and plant records for us to replay.
    writer, last_resort = shut_down_with_nowhere_to_write(tmp_path, caplog, 1)
    database, spool = writer.database, writer.spool_dir
    assert writer.kept_in_last_resort == PER and writer.written == 0
    try:
        last_resort.chmod(0o777)
        caplog.clear()
        untrusting = RecordWriter(database, spool, **FAST)
        untrusting.start()
        untrusting.close()
        assert count_rows(database)["interceptions"] == 0
        assert any("is not this user's alone" in r.getMessage() for r in caplog.records)
        last_resort.chmod(0o700)  # ours alone again: replayed
        trusting = RecordWriter(database, spool, **FAST)
        trusting.start()
        trusting.close()
        assert count_rows(database) == each(1)
    finally:
        shutil.rmtree(last_resort, ignore_errors=True)


def test_records_nothing_takes_at_shutdown_are_logged_whole(tmp_path, caplog):
    with small_filesystem(tmp_path / "small") as fs:
        writer = RecordWriter(fs.path / "aibridge.db", **{**FAST, "flush_timeout": 0.2}, last_resort=False)
        writer.start()
        fs.fill()
        caplog.set_level(logging.ERROR, logger="aibridge.recorder")
        for n in range(3):
            record(writer, f"last-{n}", minute=n, prompt_size=10_000)
        writer.close()
    assert writer.lost == writer.lost_at_shutdown == PER * 3
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("not recorded: ")]
    assert len(logged) == PER * 3
    row = json.loads(logged[0].split(" ", 3)[3])
    assert row["kind"] == "start" and row["row"]["id"] == "last-0"


def test_a_spool_line_that_cannot_be_read_back_is_logged_whole_and_the_others_are_written(tmp_path, caplog):
    first = RecordWriter(tmp_path / "aibridge.db", **{**FAST, "flush_timeout": 0.2})
    first.start()
    with LockHolder(tmp_path / "aibridge.db"):
        record(first, "kept")
        first.close()
    (spooled,) = spool_files(tmp_path / "spool")
    lines = spooled.read_text().splitlines()
    forged = json.dumps({"kind": "child", "table": "sqlite_master", "row": {"sql": "DROP TABLE users"}})
    spooled.write_text("\n".join([lines[0], forged, *lines[1:]]) + "\n" + lines[-1][:30])  # and a line cut short

    caplog.set_level(logging.ERROR, logger="aibridge.recorder")
    second = RecordWriter(tmp_path / "aibridge.db", **FAST)
    second.start()
    wait_until(lambda: not spool_files(tmp_path / "spool"), what="the spool to be replayed")
    second.close()
    assert count_rows(tmp_path / "aibridge.db") == each(1)
    assert second.lost == 2
    logged = [r.getMessage() for r in caplog.records if "cannot be replayed" in r.getMessage()]
    assert len(logged) == 2 and "unknown row write 'child' to 'sqlite_master'" in logged[0]
    assert logged[0].endswith(forged)


def test_a_read_only_database_keeps_records_in_the_spool_until_it_is_writable_again(tmp_path, started):
    writer = started()
    record(writer, "before")
    wait_until(lambda: writer.written == PER, what="the first interception")
    # The database and its WAL; not the -shm file, which SQLite maps in memory (as on a read-only mount,
    # where it would be opened read-only).
    database_files = [tmp_path / "aibridge.db", tmp_path / "aibridge.db-wal"]
    make_immutable(database_files, True)
    try:
        for n in range(5):
            record(writer, f"read-only-{n}", minute=n)
        wait_until(lambda: writer.in_spool == PER * 5, what="the records to reach the spool")
        assert not writer.store_up
    finally:
        make_immutable(database_files, False)
    wait_until(lambda: writer.written == PER * 6, what="the records once the database is writable")
    assert count_rows(tmp_path / "aibridge.db") == each(6)
    assert writer.lost == 0
