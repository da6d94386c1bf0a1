"""The recorder's batch reports (``on_records_written``): which interceptions' ends a batch carried, and whether
the database took it, also through an outage caused for real (a lock held by another process)."""

from __future__ import annotations

import threading

from support.faults import LockHolder
from support.recorder_support import ended, make_interception, wait_until

from aibridge_plugins.recorder.writer import RecordWriter
from aibridge_plugins.storage import END, START


class Reports:
    """What the writer tells (the recorder plugin's notice hands it to the ``on_records_written`` hook)."""

    def __init__(self, wanted: bool = True):
        self.is_wanted = wanted
        self.batches: list[tuple] = []
        self._lock = threading.Lock()

    def wanted(self) -> bool:
        return self.is_wanted

    def __call__(self, interception_ids, rows, started_at, duration_ms, stored):
        with self._lock:
            self.batches.append((tuple(interception_ids), rows, started_at, duration_ms, stored))

    def stored(self) -> dict[str, bool]:
        with self._lock:
            return {iid: batch[4] for batch in self.batches for iid in batch[0]}


def start_writer(tmp_path, reports: Reports) -> RecordWriter:
    writer = RecordWriter(tmp_path / "aibridge.db", retry_interval=0.05, spill_after=0.1, linger=0.005,
                          flush_timeout=2.0)
    writer.on_written = reports
    writer.start()
    return writer


def interception(writer: RecordWriter, interception_id: str) -> None:
    started = make_interception(interception_id)
    writer.put(START, started)
    writer.put(END, ended(started))


def test_each_batch_with_an_interception_end_is_reported_stored_or_kept_for_later(tmp_path):
    reports = Reports()
    writer = start_writer(tmp_path, reports)
    try:
        # At its start the writer first ends what an earlier process left open: records put that early wait
        # behind it in the backlog (reported not stored) and are written right after.
        interception(writer, "at-start")
        wait_until(lambda: writer.written == 2 and "at-start" in reports.stored(), what="the first records' report")
        reports.batches.clear()
        interception(writer, "first")
        wait_until(lambda: "first" in reports.stored(), what="the first batch's report")
        assert reports.stored()["first"] is True
        [(ids, rows, started_at, duration_ms, _)] = reports.batches
        assert ids == ("first",) and rows == 2 and duration_ms >= 0 and started_at.tzinfo is not None
        with LockHolder(tmp_path / "aibridge.db") as lock:
            interception(writer, "while-locked")
            wait_until(lambda: "while-locked" in reports.stored(), what="the locked batch's report")
            assert reports.stored()["while-locked"] is False  # kept in memory or the spool, not lost
            lock.release()
            wait_until(lambda: writer.written == 6, what="the kept records to be written")
        interception(writer, "after")
        wait_until(lambda: "after" in reports.stored(), what="the report after the outage")
        assert reports.stored()["after"] is True
    finally:
        writer.close()


def test_nothing_is_reported_or_timed_when_no_plugin_listens(tmp_path):
    reports = Reports(wanted=False)
    writer = start_writer(tmp_path, reports)
    try:
        interception(writer, "quiet")
        wait_until(lambda: writer.written == 2, what="the records to be written")
    finally:
        writer.close()
    assert reports.batches == []
