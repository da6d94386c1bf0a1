"""Many idle streams: open N slow streams through a server, hold them, sample its memory, end them.

Run as ``python -m harness.idle_streams '<json spec>'``; prints one JSON result line.
The slow upstream sends one event per second per stream until told to finish;
the client checks every stream stays alive while all N are open and that each
one then ends normally with ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from .http11 import ResponseReader, build_request
from .procs import rss_kib

CONNECT_PARALLELISM = 100  # handshakes in flight at once while opening streams


class Stream:
    """One client stream's progress."""

    __slots__ = ("opened", "events", "done", "error", "_scanned")

    def __init__(self):
        self.opened = asyncio.Event()
        self.events = 0
        self.done = False
        self.error = None
        self._scanned = 0

    def count_new_events(self, body: bytearray) -> None:
        start = max(self._scanned - 1, 0)
        self.events += body.count(b"\n\n", start)
        self._scanned = len(body)


async def _run_stream(spec: dict, request: bytes, gate: asyncio.Semaphore, stream: Stream, timeout: float) -> None:
    writer = None
    try:
        async with gate:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(spec["host"], spec["port"]), 30)
            writer.write(request)
            response = ResponseReader()
            while not stream.events:
                data = await asyncio.wait_for(reader.read(65536), 30)
                if not data:
                    raise ConnectionError("closed before the first event")
                response.feed(data)
                if response.status and response.status != 200:
                    raise ConnectionError(f"http_{response.status}")
                stream.count_new_events(response.body)
        stream.opened.set()
        deadline = time.monotonic() + timeout
        while not response.done:
            data = await asyncio.wait_for(reader.read(65536), max(deadline - time.monotonic(), 0.1))
            if not data:
                raise ConnectionError("closed mid-stream")
            response.feed(data)
            stream.count_new_events(response.body)
        if b"data: [DONE]" not in response.body[-256:]:
            raise ConnectionError("ended without [DONE]")
        stream.done = True
    except Exception as exc:  # noqa: BLE001 - every failure is one stream's error, never the run's
        stream.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        stream.opened.set()
        if writer is not None:
            writer.close()


async def _post(host: str, port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(build_request("POST", host, port, path, {"Connection": "close"}, b"{}"))
    response = ResponseReader()
    while not response.done:
        data = await reader.read(65536)
        if not data:
            break
        response.feed(data)
    writer.close()
    return response.status


def _rss_mib(pid: int) -> float | None:
    """The server's RSS, or None once it has exited (the report then shows the crash)."""
    try:
        return round(rss_kib(pid) / 1024, 1)
    except OSError:
        return None


async def run(spec: dict) -> dict:
    """Open ``spec['streams']`` streams, hold them ``hold_seconds``, finish them, report."""
    count = spec["streams"]
    request = build_request("POST", spec["host"], spec["port"], spec["path"], spec["headers"], spec["body"].encode())
    pid = spec["rss_pid"]
    rss_before = _rss_mib(pid)
    gate = asyncio.Semaphore(CONNECT_PARALLELISM)
    streams = [Stream() for _ in range(count)]
    started = time.monotonic()
    tasks = [asyncio.create_task(_run_stream(spec, request, gate, s, spec["max_seconds"])) for s in streams]
    ramp_deadline = started + spec["ramp_timeout"]
    for stream in streams:
        try:
            await asyncio.wait_for(stream.opened.wait(), max(ramp_deadline - time.monotonic(), 0.01))
        except asyncio.TimeoutError:
            break
    ramp_seconds = time.monotonic() - started
    open_now = sum(1 for s in streams if s.events and s.error is None and not s.done)

    # Hold: all streams open; sample memory and check every stream keeps receiving.
    events_before = [s.events if s.events and s.error is None else None for s in streams]
    samples = [_rss_mib(pid)]
    hold_until = time.monotonic() + spec["hold_seconds"]
    while time.monotonic() < hold_until:
        await asyncio.sleep(0.25)
        samples.append(_rss_mib(pid))
    server_exited = None in samples
    rss_peak = max((s for s in samples if s is not None), default=None)
    # A stream open when the hold began should get about one event per second of it.
    stalled = sum(
        1
        for s, before in zip(streams, events_before)
        if before is not None and (s.error is not None or s.events - before < spec["hold_seconds"] - 1.5)
    )
    open_after_hold = sum(1 for s in streams if s.events and s.error is None and not s.done)

    finish_status = await _post(spec["upstream_host"], spec["upstream_port"], "/control/finish")
    await asyncio.wait(tasks, timeout=spec["finish_timeout"])
    for task in tasks:
        task.cancel()
    errors: dict[str, int] = {}
    if server_exited:
        errors["server process exited"] = 1
    for s in streams:
        if s.error is not None or not s.done:
            kind = s.error or "not finished"
            errors[kind] = errors.get(kind, 0) + 1
    return {
        "streams": count,
        "opened": sum(1 for s in streams if s.events),
        "open_during_hold": min(open_now, open_after_hold),
        "completed": sum(1 for s in streams if s.done),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "stalled_during_hold": stalled,
        "ramp_seconds": round(ramp_seconds, 2),
        "rss_before_mib": rss_before,
        "rss_peak_mib": rss_peak,
        "rss_after_mib": _rss_mib(pid),
        "finish_status": finish_status,
        "server_exited": server_exited,
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
