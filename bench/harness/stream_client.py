"""Streaming load client: time to first and last byte of each SSE answer at a fixed concurrency.

Run as ``python -m harness.stream_client '<json spec>'``; prints one JSON result line.
Each of ``concurrency`` keep-alive connections sends a request, reads the whole
stream, and sends the next, until ``seconds`` have passed; requests already
started when time is up are finished, so every request sent is accounted for.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from .http11 import ResponseReader, build_request, count_events
from .stats import percentile

REQUEST_TIMEOUT = 60.0


class Tally:
    """What all connections saw."""

    def __init__(self):
        self.sent = 0
        self.ttfb: list[float] = []
        self.ttlb: list[float] = []
        self.events: list[int] = []
        self.errors: dict[str, int] = {}

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _one_request(reader, writer, request: bytes):
    """Send one request and read its answer; returns (reader state, ttfb, ttlb) in seconds."""
    started = time.perf_counter()
    writer.write(request)
    response = ResponseReader()
    first = None
    while True:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("connection closed mid-answer")
        if first is None:
            first = time.perf_counter()
        if response.feed(data):
            return response, first - started, time.perf_counter() - started


async def _connection(spec: dict, request: bytes, deadline: float, tally: Tally) -> None:
    """One client connection issuing requests back to back until the deadline."""
    marker = spec["end_marker"].encode()
    reader = writer = None
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
            tally.sent += 1
            response, ttfb, ttlb = await asyncio.wait_for(_one_request(reader, writer, request), REQUEST_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - a failed request is counted, the run goes on
            tally.error(type(exc).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        if response.status != 200:
            tally.error(f"http_{response.status}")
        elif marker not in response.body[-512:]:
            tally.error("incomplete_stream")
        else:
            tally.ttfb.append(ttfb)
            tally.ttlb.append(ttlb)
            tally.events.append(count_events(bytes(response.body)))
        if not response.keep_alive:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def run(spec: dict) -> dict:
    """Drive the load described by ``spec`` and summarise it."""
    request = build_request("POST", spec["host"], spec["port"], spec["path"], spec["headers"], spec["body"].encode())
    tally = Tally()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    deadline = started + spec["seconds"]
    await asyncio.gather(*(_connection(spec, request, deadline, tally) for _ in range(spec["concurrency"])))
    elapsed = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    ok = len(tally.ttlb)
    return {
        "concurrency": spec["concurrency"],
        "seconds": round(elapsed, 3),
        "sent": tally.sent,
        "ok": ok,
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
        "streams_per_s": round(ok / elapsed, 1),
        "ttfb_p50_ms": percentile(tally.ttfb, 50) * 1000,
        "ttfb_p99_ms": percentile(tally.ttfb, 99) * 1000,
        "ttlb_p50_ms": percentile(tally.ttlb, 50) * 1000,
        "ttlb_p99_ms": percentile(tally.ttlb, 99) * 1000,
        "events_min": min(tally.events, default=0),
        "events_max": max(tally.events, default=0),
        # Near 100 % means the client itself was the limit, not the server.
        "client_cpu_pct": round(100 * cpu / elapsed, 1),
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
