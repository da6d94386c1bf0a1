"""The recorder's writer thread: CPU time per interception, measured on the thread itself.

    .venv/bin/python bench/writer_cost.py [--interceptions 20000] [--rate 1000] [--latency 0.5] [--rounds 3]
    .venv/bin/python bench/writer_cost.py --per-record                  # Python per record, turned into a row
    bench/.work/baseline/<sha>/.venv/bin/python bench/writer_cost.py    # an earlier commit, for comparison

Feeds a real RecordWriter (SQLite in a temporary directory) with what a
blocking request records, ``--rate`` interceptions a second (about what one
gateway serves at c=1): its start, then ``--latency`` seconds later (the
upstream's answer time) its prompt, its token usage and its end, so that a
start and its end fall in different batches, as they do in front of a real
provider. Reads the writer thread's CPU time from /proc (``schedstat``,
nanoseconds): what the writer takes from the machine's cores. The part of it
spent in Python (turning records into rows, binding parameters) holds the
GIL, which a request then waits for; ``--per-record`` times that part alone.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import os
import statistics
import tempfile
import time
import timeit
from pathlib import Path

from aibridge import Interception, PromptUsage, TokenUsage
from aibridge.relay.lifecycle import new_interception_id
from aibridge_plugins.recorder.writer import RecordWriter
from aibridge_plugins.storage import CHILD, END, START, RecordIds, row_write

WRITE_TIMEOUT = 120.0  # seconds for the writer to store a round's records once all are put


def thread_cpu_ns(native_id: str) -> int:
    with open(f"/proc/self/task/{native_id}/schedstat") as stat:
        return int(stat.read().split()[0])


def one_interception(number: int) -> tuple[list, list]:
    """What a blocking request records: (its start), (its prompt, its token usage, its end)."""
    now = dt.datetime.now(dt.timezone.utc)
    start = Interception(new_interception_id(), "user-1", "alice", "anthropic", "anthropic", "claude-sonnet-4-6",
                         "Claude Code", None, "claude-cli/2.1.197", now, {}, "messages", False)
    end = dataclasses.replace(start, ended_at=now, status="completed", credential_kind="centralized",
                              credential_hint="sk-a...bcde")
    iid = start.interception_id
    return [(START, start)], [(CHILD, PromptUsage(iid, "msg_1", f"fix the failing test number {number}")),
                              (CHILD, TokenUsage(iid, "msg_1", 1200, 340, 9000, 0, cost_usd_nanos=12_345_000)),
                              (END, end)]


def run_round(count: int, rate: float, latency: float) -> float:
    """CPU µs of the writer thread per interception, ``count`` interceptions at ``rate`` a second."""
    with tempfile.TemporaryDirectory(prefix="writer-cost-") as directory:
        writer = RecordWriter(Path(directory) / "aibridge.db", data_dir=directory)
        tasks_before = set(os.listdir("/proc/self/task"))
        writer.start()
        # The writer's thread is started with the low-level thread API: find it as the one new task.
        (native_id,) = set(os.listdir("/proc/self/task")) - tasks_before
        interceptions = [one_interception(number) for number in range(count)]
        behind = max(1, round(latency * rate))  # how many interceptions are between their start and their end
        began = thread_cpu_ns(native_id)
        interval, next_at = 1.0 / rate, time.monotonic()
        in_flight: collections.deque = collections.deque()
        for started, rest in interceptions:
            for kind, record in started:
                writer.put(kind, record)
            in_flight.append(rest)
            if len(in_flight) >= behind:
                for kind, record in in_flight.popleft():
                    writer.put(kind, record)
            next_at += interval
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        for rest in in_flight:
            for kind, record in rest:
                writer.put(kind, record)
        deadline = time.monotonic() + WRITE_TIMEOUT
        while writer.written + writer.lost < 4 * count:
            if time.monotonic() > deadline:
                raise SystemExit(f"the writer stored {writer.written} of {4 * count} records in {WRITE_TIMEOUT:.0f} s")
            time.sleep(0.005)
        used = thread_cpu_ns(native_id) - began
        writer.close()
    if writer.lost:
        raise SystemExit(f"the writer lost {writer.lost} records")
    return used / count / 1000


def per_record() -> None:
    """µs of Python to turn each of a blocking request's records into its row (timeit, best of 5)."""
    ids = RecordIds(new_interception_id())
    started, rest = one_interception(1)
    total = 0.0
    for kind, record in started + rest:
        number = 20000
        seconds = min(timeit.repeat(lambda: row_write(kind, record, "instance", ids), number=number, repeat=5))
        total += seconds / number * 1e6
        name = "interception_" + kind if kind in (START, END) else record.record_type
        print(f"{name:20s} {seconds / number * 1e6:5.2f} µs")
    print(f"{'the four':20s} {total:5.2f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interceptions", type=int, default=20000, help="per round (default 20000)")
    parser.add_argument("--rate", type=float, default=1000.0, help="interceptions a second (default 1000)")
    parser.add_argument("--latency", type=float, default=0.5,
                        help="seconds between an interception's start and its other records (default 0.5)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-record", action="store_true", help="only time turning each record into a row")
    args = parser.parse_args()
    if args.per_record:
        per_record()
        return
    results = []
    for number in range(args.rounds):
        results.append(run_round(args.interceptions, args.rate, args.latency))
        print(f"round {number + 1}: {results[-1]:.1f} µs of writer CPU per interception")
    print(f"median: {statistics.median(results):.1f} µs per interception, range {min(results):.1f}–"
          f"{max(results):.1f} ({args.interceptions:,} interceptions a round at {args.rate:,.0f} a second)")


if __name__ == "__main__":
    main()
