"""The recorder's writer thread: CPU time per interception, measured on the thread itself.

    .venv/bin/python bench/writer_cost.py [--interceptions 20000] [--rate 1000]
    bench/.work/baseline/<sha>/.venv/bin/python bench/writer_cost.py     # an earlier commit, for comparison

Feeds a real RecordWriter (SQLite in a temporary directory) with what a
blocking request records: its start, its prompt, its token usage and its end,
``--rate`` interceptions a second (about what one gateway serves at c=1), and
reads the writer thread's CPU time from /proc (``schedstat``, nanoseconds).
That time is what the writer takes from the request thread's two cores; the
part of it spent in Python (turning records into rows, binding parameters)
holds the GIL, which a request then waits for. Prints one line per round and
the median.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import os
import tempfile
import time
from pathlib import Path

from aibridge import Interception, PromptUsage, TokenUsage
from aibridge.relay.lifecycle import new_interception_id
from aibridge_plugins.recorder.writer import RecordWriter
from aibridge_plugins.storage import CHILD, END, START


def thread_cpu_ns(native_id: int) -> int:
    with open(f"/proc/self/task/{native_id}/schedstat") as stat:
        return int(stat.read().split()[0])


def one_interception(number: int) -> list:
    now = dt.datetime.now(dt.timezone.utc)
    start = Interception(new_interception_id(), "user-1", "alice", "anthropic", "anthropic", "claude-sonnet-4-6",
                         "Claude Code", None, "claude-cli/2.1.197", now, {}, "messages", False)
    end = dataclasses.replace(start, ended_at=now, status="completed", credential_kind="centralized",
                              credential_hint="sk-a...bcde")
    iid = start.interception_id
    return [(START, start), (CHILD, PromptUsage(iid, "msg_1", f"fix the failing test number {number}")),
            (CHILD, TokenUsage(iid, "msg_1", 1200, 340, 9000, 0, cost_usd_nanos=12_345_000)), (END, end)]


def run_round(count: int, rate: float) -> float:
    """CPU µs of the writer thread per interception, ``count`` interceptions at ``rate`` a second."""
    directory = Path(tempfile.mkdtemp(prefix="writer-cost-"))
    writer = RecordWriter(directory / "aibridge.db", data_dir=directory)
    tasks_before = set(os.listdir("/proc/self/task"))
    writer.start()
    # The writer's thread is started with the low-level thread API: find it as the one new task.
    (native_id,) = set(os.listdir("/proc/self/task")) - tasks_before
    records = [one_interception(number) for number in range(count)]
    began = thread_cpu_ns(native_id)
    interval, next_at = 1.0 / rate, time.monotonic()
    for interception in records:
        for kind, record in interception:
            writer.put(kind, record)
        next_at += interval
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    while writer.written + writer.lost < 4 * count:
        time.sleep(0.005)
    used = thread_cpu_ns(native_id) - began
    writer.close()
    if writer.lost:
        raise SystemExit(f"the writer lost {writer.lost} records")
    return used / count / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interceptions", type=int, default=20000, help="per round (default 20000)")
    parser.add_argument("--rate", type=float, default=1000.0, help="interceptions a second (default 1000)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = []
    for number in range(args.rounds):
        results.append(run_round(args.interceptions, args.rate))
        print(f"round {number + 1}: {results[-1]:.1f} µs of writer CPU per interception")
    print(f"median: {statistics.median(results):.1f} µs per interception "
          f"({args.interceptions:,} interceptions a round at {args.rate:,.0f} a second)")


if __name__ == "__main__":
    main()
