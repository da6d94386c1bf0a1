"""The background purge: once at startup, then about every 10 minutes, on its own OS thread."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Callable

import aibridge

from ..storage import BATCH_SIZE, PurgeResult, open_for_writing, purge

log = logging.getLogger("aibridge.retention")

INTERVAL_SECONDS = 600.0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def cutoff_for(now: dt.datetime, retention: dt.timedelta) -> dt.datetime:
    """Interceptions that ended before this time are past retention."""
    return now - retention


class RetentionJob:
    """Purge records older than ``retention`` now and every ``interval`` seconds until stopped."""

    def __init__(self, database: Path | str, retention: dt.timedelta,
                 clock: Callable[[], dt.datetime] = utcnow, interval: float = INTERVAL_SECONDS,
                 batch_size: int = BATCH_SIZE):
        if retention <= dt.timedelta(0):
            raise ValueError("a retention of 0 keeps records forever: there is nothing to purge")
        self.database = database  # a SQLite path or a PostgreSQL URL
        self.retention = retention
        self.clock = clock
        self.interval = interval
        self.batch_size = batch_size
        self.runs = 0  # completed purge runs, successful or not
        self.last_result: PurgeResult | None = None
        self.last_error: Exception | None = None
        self._thread = aibridge.BackgroundThread()
        self._log = None
        self._stop_requested = False

    def run_once(self) -> PurgeResult:
        """Purge what is past retention at ``clock()``, and log what was removed."""
        db = open_for_writing(self.database)
        try:
            result = purge(db, cutoff_for(self.clock(), self.retention), self.batch_size,
                           keep_going=lambda: not self._stop_requested)
        finally:
            db.close()
        self.last_result = result
        (self._log or log).info("retention purge removed %s", result.describe())
        return result

    def start(self) -> None:
        self._log = aibridge.ThreadSafeLogger(log)
        self._thread.start(self._run, self._log)

    def stop(self) -> None:
        """Stop the thread; a purge in progress stops after its current batch."""
        if not self._thread.running:
            return
        self._stop_requested = True
        self._thread.stop()

    def _run(self) -> None:
        while True:
            self._run_logged()
            try:
                self._thread.queue.get(timeout=self.interval)
                return  # the only thing ever queued is the stop request
            except aibridge.QueueEmpty:
                continue

    def _run_logged(self) -> None:
        try:
            self.run_once()
            self.last_error = None
        except Exception as error:  # a failed run is retried at the next interval
            self.last_error = error
            self._log.error("retention purge failed, retrying in %ds: %s", self.interval, error, exc_info=error)
        finally:
            self.runs += 1
