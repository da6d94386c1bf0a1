"""The record writer: hooks only enqueue; one OS thread writes batches to SQLite."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import aibridge

from ..storage import close_quietly, ensure_tables, is_busy, needs_new_connection, open_for_writing, write_batch

log = logging.getLogger("aibridge.recorder")

MAX_BATCH = 500
# How long the writer waits for more records after the first of a batch: a few
# transactions a second instead of one per record, records on disk within it.
LINGER_SECONDS = 0.02
RETRY_DELAYS = (0.05, 0.25, 1.0)  # seconds before each retry of a failed write

_STOP = object()


class RecordWriter:
    """Queue of records and the one OS thread that writes them in short transactions."""

    def __init__(self, database_path: Path | str, retry_delays: tuple[float, ...] = RETRY_DELAYS,
                 max_batch: int = MAX_BATCH, linger: float = LINGER_SECONDS):
        self.database_path = Path(database_path)
        self.retry_delays = retry_delays
        self.max_batch = max_batch
        self.linger = linger
        self.written = 0  # records stored (read by anyone, changed by the writer thread only)
        self.lost = 0  # records given up after every retry
        self.thread_ident: int | None = None
        self._queue = aibridge.new_queue()
        self._done = aibridge.new_lock()
        self._db = None
        self._log = None
        self._state = "new"

    def start(self) -> None:
        """Create or migrate the tables now (errors surface at startup), then start the thread."""
        ensure_tables(self.database_path)
        self._log = aibridge.ThreadSafeLogger(log)
        self._done.acquire()
        self._state = "running"
        aibridge.start_thread(self._run)

    def put(self, kind: str, record: Any) -> None:
        """Hand a record to the writer thread; never blocks."""
        if self._state != "running":
            log.error("recorder is %s: %s record not recorded: %s", self._state, record.record_type,
                      _describe(record))
            return
        self._queue.put((kind, record))

    def close(self) -> None:
        """Write everything queued so far, then stop the thread."""
        if self._state != "running":
            return
        self._state = "stopped"
        self._queue.put(_STOP)
        aibridge.wait_for_release(self._done)
        self._log.flush()

    def _run(self) -> None:
        self.thread_ident = aibridge.thread_ident()
        try:
            stopping = False
            while True:
                try:
                    item = self._queue.get(block=not stopping)
                except aibridge.QueueEmpty:
                    break  # stopping, and nothing is left
                batch = []
                deadline = time.monotonic() + self.linger
                while True:
                    if item is _STOP:
                        stopping = True
                    else:
                        batch.append(item)
                    if len(batch) >= self.max_batch:
                        break
                    try:
                        if stopping:
                            item = self._queue.get_nowait()  # drain what is left, no waiting
                        else:
                            item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                    except aibridge.QueueEmpty:
                        break
                if batch:
                    self._write(batch)
        except BaseException as error:  # the thread must always signal that it is done
            self._log.error("recorder writer thread stopped: %s", error, exc_info=error)
        finally:
            self._close_connection()
            self._done.release()

    def _write(self, batch: list) -> None:
        error = self._attempt(batch)
        for delay in self.retry_delays:
            if error is None:
                break
            self._log.warning("writing %d records failed, retrying in %ss: %s", len(batch), delay, error)
            aibridge.os_sleep(delay)
            error = self._attempt(batch)
        if error is None:
            self.written += len(batch)
        elif len(batch) > 1 and not is_busy(error):
            # A record the database refuses must not take the rest of its batch with it.
            for item in batch:
                self._write_alone(item)
        else:
            for _, record in batch:
                self._give_up(record, error)

    def _write_alone(self, item) -> None:
        error = self._attempt([item])
        if error is None:
            self.written += 1
        else:
            self._give_up(item[1], error)

    def _attempt(self, batch: list) -> Exception | None:
        try:
            if self._db is None:
                self._db = open_for_writing(self.database_path)
            write_batch(self._db, batch)
        except Exception as error:
            if needs_new_connection(error):
                self._close_connection()  # reopen next time, in case the connection is broken
            return error
        return None

    def _give_up(self, record, error: Exception) -> None:
        self.lost += 1
        self._log.error("could not record %s after %d attempts (%s): %s", record.record_type,
                        1 + len(self.retry_delays), error, _describe(record))

    def _close_connection(self) -> None:
        if self._db is not None:
            close_quietly(self._db)
            self._db = None


def _describe(record) -> str:
    try:
        return json.dumps(record.as_dict(), default=str, ensure_ascii=False)
    except Exception:  # describing a record must never fail the caller
        return repr(record)
