"""The record writer: hooks only enqueue; one OS thread writes batches to the store, or keeps them until it is back.

While the store takes writes, records go straight from the queue to the store
in batches (the spool is not touched). When it does not (locked, full,
read-only, missing), records wait in memory; past ``spill_after`` seconds of
outage or ``memory_limit`` bytes they go to the spool; the thread tries the
store again every ``retry_interval`` seconds and, once it is back, writes the
backlog in order before anything new. Nothing is given up: a record leaves the
writer only into the store, or (a record the database itself refuses, or one
that neither the store nor the spool could take by the end of the shutdown)
into the log, whole, at error level.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import aibridge

from ..storage import (
    END,
    Instance,
    InstanceAbout,
    RecordIds,
    RecordStore,
    ensure_tables,
    gone_instances,
    is_refused,
    others_alive,
    record_type_of,
    row_write,
)
from .backlog import INTERRUPTED_MESSAGE, Backlog
from .last_resort import keep_or_log, last_resort_directory
from .reports import OutageReport
from .spool import Spool
from .writing import StoreUnavailable, StoreWriter, describe_error

log = logging.getLogger("aibridge.recorder")

MAX_BATCH = 500
# How long the writer waits for more records after the first of a batch: a few
# transactions a second instead of one per record, records on disk within it.
LINGER_SECONDS = 0.02
RETRY_INTERVAL = 1.0  # seconds between two tries of a store that is away
SPILL_AFTER = 2.0  # seconds of outage before what waits in memory goes to the spool
MEMORY_LIMIT = 32 * 1024 * 1024  # bytes of row text kept in memory before the spool takes them
CATCH_UP_CHUNKS = 20  # transactions of backlog between two looks at the queue
LOOK_FOR_GONE_INTERVAL = 60.0  # seconds between two looks for processes that are gone
INSTANCE_TIMEOUT = 30.0  # PostgreSQL: seconds without a heartbeat before an instance is taken for gone
HEARTBEATS_PER_TIMEOUT = 6
OVERFLOWS = ("refuse", "relay")


class RecordWriter:
    """Queue of records and the one OS thread that writes them, keeps them through outages, and flushes them."""

    def __init__(self, database: Path | str, spool_dir: Path | str | None = None, *, data_dir: Path | str | None = None,
                 overflow: str = "refuse", flush_timeout: float = 30.0, memory_limit: int = MEMORY_LIMIT,
                 max_batch: int = MAX_BATCH, linger: float = LINGER_SECONDS, retry_interval: float = RETRY_INTERVAL,
                 spill_after: float = SPILL_AFTER, warn_interval: float | None = None,
                 instance_timeout: float = INSTANCE_TIMEOUT, last_resort: bool = True):
        """``database``: the SQLite file (its directory is the data directory unless given) or a PostgreSQL URL."""
        if overflow not in OVERFLOWS:
            raise ValueError(f"overflow must be one of {', '.join(OVERFLOWS)}")
        self.database = database if aibridge.Database.is_postgres_url(database) else Path(database)
        self.data_dir = Path(data_dir) if data_dir is not None else Path(database).parent
        self.spool_dir = Path(spool_dir) if spool_dir else self.data_dir / "spool"
        self.overflow = overflow
        self.flush_timeout = flush_timeout
        self.max_batch = max_batch
        self.linger = linger
        self.retry_interval = retry_interval
        self.spill_after = spill_after
        self.instance_timeout = instance_timeout
        self.last_resort = last_resort  # at shutdown, keep in /dev/shm what the spool cannot take (last_resort.py)
        self.instance = Instance(self.data_dir)
        self._record_ids = RecordIds(self.instance.id)
        self.thread_ident: int | None = None
        # Read by anyone, changed by the writer thread only.
        self.refusing = False  # memory is full and neither the store nor the spool takes records
        self.in_memory = 0
        self.in_spool = 0
        self.dropped = 0  # records dropped with overflow "relay"
        self.lost_at_shutdown = 0  # records nothing took by the end, not even the last resort (logged whole)
        self.kept_in_last_resort = 0  # records only the last-resort spool took at shutdown
        self.unreadable = 0  # spool lines that could not be read back (logged whole)
        self.refused_interceptions = 0  # counted on the app's thread(s)
        self._refused_lock = aibridge.new_lock()
        self._memory_limit = memory_limit
        self._warn_interval = warn_interval
        self._thread = aibridge.BackgroundThread()
        self._queue = self._thread.queue
        self._state = "new"
        self._deadline = 0.0  # when the shutdown flush gives up on the store (monotonic)
        self._next_try = 0.0
        self._next_spill = 0.0
        self._next_look = 0.0
        self._ended_own = False  # at shutdown, every record is in the store and nothing of ours is open
        self._next_beat = float("inf")  # PostgreSQL: when to write our heartbeat next
        self._beating_since: float | None = None  # since when our heartbeats reach the store without a gap
        self._about: InstanceAbout | None = None
        self._log = None
        self._writer: StoreWriter | None = None
        self._backlog: Backlog | None = None
        self._report: OutageReport | None = None
        # Asked (``wanted()``) and called on the writer thread after each batch that carries interception ends
        # (see plugin.py).
        self.on_written = None

    # On the app's thread

    def start(self) -> None:
        """Create or migrate the tables and claim this process's instance now (errors surface at startup)."""
        ensure_tables(self.database)
        self._log = aibridge.ThreadSafeLogger(log)
        spool = Spool(self.spool_dir, self.instance.id, self._log,
                      last_resort_directory(self.spool_dir) if self.last_resort else None)
        try:
            spool.prepare()
        except OSError as error:
            raise aibridge.ConfigError(f"--aibridge-spool-dir / CODER_AIBRIDGE_SPOOL_DIR: cannot create "
                                       f"{self.spool_dir}: {error.strerror or error}") from None
        started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        store = RecordStore(self.database)
        if store.is_postgres:
            # Registered before it serves: its interceptions are never without a heartbeat row.
            self._about = InstanceAbout(self.instance.id, socket.gethostname(), os.getpid(), started_at)
            store.beat(self._about)
            self._next_beat = time.monotonic() + self.instance_timeout / HEARTBEATS_PER_TIMEOUT
            self._beating_since = time.monotonic()
        else:
            self.instance.claim(started_at)
        self._writer = StoreWriter(store, self._log)
        self._backlog = Backlog(spool, self._memory_limit, self.max_batch)
        self._report = OutageReport(self._log, self.spool_dir, self.overflow,
                                    *(() if self._warn_interval is None else (self._warn_interval,)))
        self._state = "running"
        self._thread.start(self._run, self._log)

    def put(self, kind: str, record: Any) -> None:
        """Hand a record to the writer thread; never blocks."""
        if self._state != "running":
            log.error("recorder is %s: %s record not recorded: %s", self._state, record_type_of(kind, record),
                      _describe(record))
            return
        self._queue.put((kind, record))

    def admits(self) -> bool:
        """False (and counted) when a new interception must be refused: nothing could keep its records."""
        if not self.refusing:
            return True
        with self._refused_lock:
            self.refused_interceptions += 1
        return False

    def close(self) -> None:
        """Write everything queued (giving the store up to ``flush_timeout`` seconds), spool the rest, stop."""
        if self._state != "running":
            return
        self._state = "stopped"
        self._deadline = time.monotonic() + self.flush_timeout
        self._thread.stop()

    @property
    def written(self) -> int:
        return self._writer.written if self._writer else 0

    @property
    def lost(self) -> int:
        """Records that are not in the store and never will be (each one logged whole, or counted as dropped)."""
        refused = self._writer.refused if self._writer else 0
        return refused + self.unreadable + self.dropped + self.lost_at_shutdown

    @property
    def store_up(self) -> bool:
        return self._report is None or self._report.store_up

    @property
    def is_postgres(self) -> bool:
        return isinstance(self.database, str)

    # On the writer thread

    def _run(self) -> None:
        self.thread_ident = aibridge.thread_ident()
        try:
            self._look_for_gone(at_start=True)
            stopping = False
            while not stopping:
                batch, stopping = self._take(self._wait_time())
                if batch:
                    self._handle(batch)
                self._tend()
            self._flush_for_shutdown()
        except BaseException as error:  # the thread must always signal that it is done
            self._state = "broken"  # records put from now on are logged whole, not queued for no one
            self._log.error("recorder writer thread stopped: %s", error, exc_info=error)
            self._save_what_is_left()
        finally:
            self._release()

    def _count(self) -> None:
        """What the app's thread reads: the backlog where it waits, and the spool lines that could not be read."""
        spool = self._backlog.spool
        self.in_memory, self.in_spool = len(self._backlog.memory), spool.pending
        self.unreadable = spool.unreadable

    def _take(self, timeout: float | None) -> tuple[list, bool]:
        """The next batch from the queue (waiting at most ``timeout``), and whether the writer is to stop."""
        try:
            first = self._queue.get(timeout=timeout)
        except aibridge.QueueEmpty:
            return [], False
        if first is not aibridge.BackgroundThread.STOP and self.linger and self._queue.qsize() < self.max_batch - 1:
            # Sleep rather than wait on the queue: a waiting thread is woken by every record put, and each
            # wake takes the GIL from the request thread. A full batch already waiting goes at once.
            aibridge.os_sleep(self.linger)
        batch, stopping, item = [], False, first
        while True:
            if item is aibridge.BackgroundThread.STOP:
                stopping = True
            else:
                batch.append(item)
            if len(batch) >= self.max_batch:
                return batch, stopping
            try:
                item = self._queue.get_nowait()
            except aibridge.QueueEmpty:
                return batch, stopping

    def _wait_time(self) -> float:
        """How long the thread may wait for records before it has something else to do."""
        now = time.monotonic()
        if self._backlog.empty:
            return max(0.0, min(self._next_look, self._next_beat) - now)
        due = self._next_try
        if self._backlog.memory and self._next_spill:
            due = min(due, self._next_spill)
        return max(0.0, due - now)

    def _rows(self, batch: list) -> list:
        """The row writes of queued records; a record that cannot become a row is logged whole."""
        writes = []
        for kind, record in batch:
            try:
                writes.append(row_write(kind, record, self.instance.id, self._record_ids))
            except Exception as error:
                self._writer.refused += 1
                self._log.error("could not record %s (%s): %s", record_type_of(kind, record), describe_error(error),
                                _describe(record))
        return writes

    def _handle(self, batch: list) -> None:
        writes = self._rows(batch)
        tell = self.on_written is not None and self.on_written.wanted()
        started_at, started = (dt.datetime.now(dt.timezone.utc), time.monotonic()) if tell else (None, 0.0)
        if self._backlog.empty:
            stored = self._write_now(writes)
        else:
            self._backlog.keep(writes)  # after what waits already: records stay in order
            stored = False
        if tell:
            self._tell_written(batch, len(writes), started_at, time.monotonic() - started, stored)

    def _write_now(self, writes: list) -> bool:
        """Write straight to the store; False when it is away (what it did not take waits in the backlog)."""
        try:
            self._writer.write(writes)
            return True
        except StoreUnavailable as outage:
            self._store_failed(outage)
            self._backlog.keep(outage.unwritten)
            return False

    def _tell_written(self, batch: list, rows: int, started_at, duration: float, stored: bool) -> None:
        """Tell ``on_written`` which interceptions' ends this batch carried; its failure never stops the writer."""
        ended = [record.interception_id for kind, record in batch if kind == END]
        if not ended:
            return
        try:
            self.on_written(ended, rows, started_at, duration * 1000, stored)
        except Exception as error:
            self._log.error("recorder: telling the plugins about a written batch failed: %s", error)

    def _tend(self) -> None:
        """Between batches: catch up when it is time, bound memory, report, look for gone processes."""
        now = time.monotonic()
        if not self._backlog.empty and now >= self._next_try:
            self._catch_up(CATCH_UP_CHUNKS)
        self._bound_memory(now)
        self._count()
        self._report.tick(now, self.in_memory, self.in_spool, self.dropped)
        if now >= self._next_look and self._backlog.empty:
            self._look_for_gone()
        if now >= self._next_beat:
            self._keep_alive(now)

    def _keep_alive(self, now: float) -> None:
        """PostgreSQL: write our heartbeat; end the open interceptions of instances whose heartbeats stopped.

        Only once our own heartbeats have reached the store for a whole timeout
        without a gap: after an outage every instance's heartbeat is old, and
        none of them is gone for that.
        """
        self._next_beat = now + self.instance_timeout / HEARTBEATS_PER_TIMEOUT
        store = self._writer.store
        try:
            store.beat(self._about)
            if self._beating_since is None:
                self._beating_since = now
            taken = None
            if now - self._beating_since >= self.instance_timeout:
                taken = store.take_over_gone(self.instance.id, self.instance_timeout, INTERRUPTED_MESSAGE)
        except Exception as error:
            if is_refused(error):
                raise
            self._beating_since = None
            self._store_failed(StoreUnavailable(error, []))
            return
        if taken is not None and taken.instances:
            self._log.info("recorder: %d gateway instances sharing this database sent no heartbeat for %ds: ended "
                           "their %d open interceptions \"interrupted\"", len(taken.instances),
                           self.instance_timeout, taken.interceptions)
        if self._backlog.empty:
            self._report.store_back(0, now)

    def _catch_up(self, budget: int) -> None:
        waiting = len(self._backlog.memory) + self._backlog.spool.pending
        try:
            self._backlog.catch_up(self._writer, budget)
        except StoreUnavailable as outage:
            self._store_failed(outage)
            return
        self._report.store_back(waiting, time.monotonic())
        self._next_spill = 0.0  # the store is back: memory goes to the spool only when it is full
        self._next_try = time.monotonic()  # what is left, after a look at the queue

    def _store_failed(self, outage: StoreUnavailable) -> None:
        now = time.monotonic()
        self._report.store_failed(describe_error(outage.error), now)
        self._next_try = now + self.retry_interval
        if not self._next_spill:
            self._next_spill = now + self.spill_after

    def _bound_memory(self, now: float) -> None:
        """Move what waits in memory to the spool once the outage lasts or memory is full; else refuse or drop."""
        backlog = self._backlog
        if self.refusing and not backlog.over_limit:
            self.refusing = False
        if not backlog.memory or not (backlog.over_limit or (self._next_spill and now >= self._next_spill)):
            return
        try:
            backlog.spill()
        except OSError as error:
            self._report.spool_failed(describe_error(error), now)
            self._next_spill = now + self.retry_interval
            if backlog.over_limit:
                if self.overflow == "relay":
                    self.dropped += len(backlog.drop_over_limit())
                else:
                    self.refusing = True
            return
        self._report.spool_back()
        self.refusing = False
        if self._next_spill:  # the outage goes on: what comes next waits in memory as long, no longer
            self._next_spill = now + self.spill_after

    def _look_for_gone(self, at_start: bool = False) -> None:
        """Take over the spool files and open interceptions of processes that are gone."""
        self._next_look = time.monotonic() + LOOK_FOR_GONE_INTERVAL
        backlog = self._backlog
        try:
            found = []
            if not self.is_postgres:  # on PostgreSQL, heartbeats say which instances are gone (_keep_alive)
                if at_start:
                    backlog.end_unattributed = not others_alive(self.data_dir, self.instance.id)
                held = {instance.id for instance in backlog.gone}
                found = gone_instances(self.data_dir, self.instance.id, held)
            records = backlog.spool.adopt_orphans()
        except OSError as error:
            self._log.warning("recorder: cannot look for the records of gateway processes that are gone: %s", error)
            return
        backlog.gone.extend(found)
        if found or records:
            self._log.info("recorder: %d gateway processes using this store are gone; writing the %d records they "
                           "left in the spool, then ending their open interceptions \"interrupted\"",
                           len(found), records)
        self._next_try = 0.0

    def _flush_for_shutdown(self) -> None:
        """Give the store until the deadline for the backlog; what it did not take goes to the spool."""
        while not self._backlog.empty:
            now = time.monotonic()
            if now >= self._deadline:
                break
            if now < self._next_try:
                aibridge.os_sleep(min(self._next_try, self._deadline) - now)
                continue
            self._catch_up(budget=1_000_000)
        self._save_what_is_left()
        if self._backlog.empty:
            try:
                # Nothing of ours is in flight any more: an interception still open was cut without an end.
                self._writer.end_interrupted([self.instance.id], "the gateway stopped before this interception "
                                             "ended", include_unattributed=False)
                if self.is_postgres:
                    self._writer.store.leave(self.instance.id)  # nothing of ours is left for others to end
                self._ended_own = True
            except StoreUnavailable:
                pass
            except Exception as error:  # leaving is a courtesy: the row would time out anyway
                self._log.warning("recorder: could not remove this instance's heartbeat: %s", error)

    def _save_what_is_left(self) -> None:
        """Spool every record still in memory or queued; log whole what even the spool cannot take."""
        backlog = self._backlog
        if backlog is None:
            return
        queued = []
        while True:
            try:
                item = self._queue.get_nowait()
            except aibridge.QueueEmpty:
                break
            if item is not aibridge.BackgroundThread.STOP:
                queued.append(item)
        backlog.keep(self._rows(queued))
        try:
            backlog.spill()
        except OSError as error:
            self._keep_in_last_resort(backlog, describe_error(error))

    def _keep_in_last_resort(self, backlog: Backlog, why: str) -> None:
        """The spool refused the records left at shutdown: keep them in memory-backed files, else log them whole."""
        writes = list(backlog.memory)
        backlog.memory.clear()
        backlog.memory_weight = 0
        if keep_or_log(backlog.spool, writes, self._log, f"the spool {self.spool_dir} ({why})"):
            self.kept_in_last_resort += len(writes)
        else:
            self.lost_at_shutdown += len(writes)

    def _release(self) -> None:
        """Let go of the spool files, gone processes and our instance; left files are for the next start."""
        if self._backlog is None:
            return
        self._count()
        left = self._backlog.spool.close()
        for instance in self._backlog.gone:
            instance.keep()
        self._backlog.gone = []
        if left:
            self._log.warning("recorder: %d records are kept in the spool %s; the next start writes them",
                              self.in_spool, self.spool_dir)
        if not self.is_postgres:
            self.instance.release(remove=not left and self._ended_own)
        self._writer.store.close()


def _describe(record) -> str:
    try:
        return json.dumps(record.as_dict(), default=str, ensure_ascii=False)
    except Exception:  # describing a record must never fail the caller
        return repr(record)
