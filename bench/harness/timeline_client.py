"""Load over time for the fault runs: answers per second per lane, long streams, a health probe.

Run as ``python -m harness.timeline_client '<json spec>'`` (or ``@spec.json``); prints one JSON result line.
A lane is one kind of traffic between ``start`` and ``stop`` seconds:

- ``blocking``: ``concurrency`` keep-alive connections sending POSTs back to back;
- ``stream``: ``concurrency`` long streams (the slow upstream's), reopened after a failure
  when ``reopen`` is set; the number open is sampled every second;
- ``probe``: one GET every ``interval`` seconds (e.g. /healthz), each one's latency kept.

Every answer is bucketed by the second it completed in (seconds since ``t0``, the
wall-clock start printed in the result, so the caller can place its faults on the
same axis). A connection that fails is reopened after a short pause, so the load
resumes by itself after a gateway restart. At the end, ``finish`` (a POST to the slow
upstream) ends the open streams and they get ``finish_timeout`` seconds to complete.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from .http11 import ResponseReader, build_request
from .stats import percentile

RETRY_PAUSE = 0.1


class Lane:
    """What one lane saw."""

    def __init__(self, spec: dict, seconds: float):
        self.spec = spec
        self.sent = 0
        self.ok = 0
        self.errors: dict[str, int] = {}
        self.ok_per_second = [0] * (int(seconds) + 2)
        self.errors_per_second = [0] * (int(seconds) + 2)
        self.latencies: list[list[float]] = [[] for _ in range(int(seconds) + 2)]
        self.samples: list[list[float]] = []  # probe: [t, ms, status]
        self.open_streams = 0
        self.open_per_second: list[int] = []
        self.completed_streams = 0

    def _bucket(self, at: float) -> int:
        return min(max(int(at), 0), len(self.ok_per_second) - 1)

    def answered(self, at: float, seconds: float, status: int) -> None:
        if 200 <= status < 300:
            self.ok += 1
            self.ok_per_second[self._bucket(at)] += 1
            self.latencies[self._bucket(at)].append(seconds * 1000)
        else:
            self.failed(at, f"http_{status}")

    def failed(self, at: float, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.errors_per_second[self._bucket(at)] += 1

    def summary(self) -> dict:
        out = {
            "kind": self.spec["kind"],
            "sent": self.sent,
            "ok": self.ok,
            "errors": sum(self.errors.values()),
            "error_kinds": self.errors,
            "ok_per_second": self.ok_per_second,
            "errors_per_second": self.errors_per_second,
            "p50_ms_per_second": [round(percentile(v, 50), 2) if v else None for v in self.latencies],
            "max_ms_per_second": [round(max(v), 2) if v else None for v in self.latencies],
        }
        if self.spec["kind"] == "probe":
            out["samples"] = self.samples
        if self.spec["kind"] == "stream":
            out["open_per_second"] = self.open_per_second
            out["completed"] = self.completed_streams
        return out


async def _exchange(reader, writer, request: bytes) -> ResponseReader:
    writer.write(request)
    response = ResponseReader()
    while True:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("closed mid-answer")
        if response.feed(data):
            return response


async def _blocking(spec: dict, lane: Lane, t0: float, stop_at: float, timeout: float) -> None:
    request = build_request("POST", spec["host"], spec["port"], lane.spec["path"], lane.spec["headers"], lane.spec["body"].encode())
    reader = writer = None
    while time.monotonic() < stop_at:
        began = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(spec["host"], spec["port"]), timeout)
            lane.sent += 1
            response = await asyncio.wait_for(_exchange(reader, writer, request), timeout)
        except Exception as exc:  # noqa: BLE001 - counted; the connection is reopened
            lane.failed(time.monotonic() - t0, type(exc).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(RETRY_PAUSE)
            continue
        now = time.monotonic()
        lane.answered(now - t0, now - began, response.status)
        if not response.keep_alive:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _stream(spec: dict, lane: Lane, t0: float, stop_at: float, finished: asyncio.Event) -> None:
    """One long stream at a time on this slot; reopened after a failure while the lane runs."""
    request = build_request("POST", spec["host"], spec["port"], lane.spec["path"], lane.spec["headers"], lane.spec["body"].encode())
    marker = lane.spec.get("end_marker", "data: [DONE]").encode()
    while time.monotonic() < stop_at:
        writer = None
        counted = False
        began = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(spec["host"], spec["port"]), 30)
            lane.sent += 1
            writer.write(request)
            response = ResponseReader()
            while not response.done:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("closed mid-stream")
                response.feed(data)
                if response.status and response.status != 200:
                    break
                if response.body and not counted:
                    lane.open_streams += 1
                    counted = True
            now = time.monotonic()
            if response.status == 200 and marker not in response.body[-512:]:
                lane.failed(now - t0, "incomplete_stream")
            else:
                lane.answered(now - t0, now - began, response.status)
                lane.completed_streams += response.status == 200
        except Exception as exc:  # noqa: BLE001
            lane.failed(time.monotonic() - t0, type(exc).__name__)
        finally:
            if counted:
                lane.open_streams -= 1
            if writer is not None:
                writer.close()
        if not lane.spec.get("reopen", True) or finished.is_set():
            return
        await asyncio.sleep(RETRY_PAUSE * 2)


async def _probe(spec: dict, lane: Lane, t0: float, stop_at: float) -> None:
    request = build_request("GET", spec["host"], spec["port"], lane.spec["path"], {"Connection": "close"}, b"")
    interval = lane.spec.get("interval", 0.5)
    while time.monotonic() < stop_at:
        began = time.monotonic()
        lane.sent += 1
        status = 0
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(spec["host"], spec["port"]), 30)
            try:
                status = (await asyncio.wait_for(_exchange(reader, writer, request), 30)).status
            finally:
                writer.close()
            lane.answered(time.monotonic() - t0, time.monotonic() - began, status)
        except Exception as exc:  # noqa: BLE001
            lane.failed(time.monotonic() - t0, type(exc).__name__)
        lane.samples.append([round(began - t0, 2), round((time.monotonic() - began) * 1000, 2), status])
        await asyncio.sleep(max(interval - (time.monotonic() - began), 0))


async def _sample_open(lanes: list[Lane], seconds: float) -> None:
    for _ in range(int(seconds) + 1):
        for lane in lanes:
            lane.open_per_second.append(lane.open_streams)
        await asyncio.sleep(1)


async def _post(host: str, port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        return (await asyncio.wait_for(_exchange(reader, writer, build_request("POST", host, port, path, {"Connection": "close"}, b"{}")), 10)).status
    finally:
        writer.close()


async def run(spec: dict) -> dict:
    seconds = spec["seconds"]
    timeout = spec.get("request_timeout", 30)
    wall_t0, t0 = time.time(), time.monotonic()
    lanes = {s["name"]: Lane(s, seconds + timeout + spec.get("finish_timeout", 10)) for s in spec["lanes"]}
    finished = asyncio.Event()
    waiting, streams = [], []
    for lane in lanes.values():
        start, stop = t0 + lane.spec.get("start", 0), t0 + min(lane.spec.get("stop") or seconds, seconds)
        for _ in range(lane.spec.get("concurrency", 1)):
            kind = lane.spec["kind"]
            if kind == "blocking":
                coro = _blocking(spec, lane, t0, stop, timeout)
            elif kind == "stream":
                coro = _stream(spec, lane, t0, stop, finished)
            else:
                coro = _probe(spec, lane, t0, stop)
            task = asyncio.create_task(_delayed(start, coro))
            (streams if kind == "stream" else waiting).append(task)
    stream_lanes = [lane for lane in lanes.values() if lane.spec["kind"] == "stream"]
    sampler = asyncio.create_task(_sample_open(stream_lanes, seconds)) if stream_lanes else None
    await asyncio.sleep(seconds)
    finish = spec.get("finish")
    if finish:
        finished.set()
        try:
            await _post(finish["host"], finish["port"], finish["path"])
        except OSError:
            pass
    if streams:
        await asyncio.wait(streams, timeout=spec.get("finish_timeout", 10))
        for task in streams:
            task.cancel()
    if waiting:
        await asyncio.wait(waiting, timeout=timeout + 5)
    if sampler:
        sampler.cancel()
    return {"t0": wall_t0, "seconds": round(time.monotonic() - t0, 2), "lanes": {name: lane.summary() for name, lane in lanes.items()}}


async def _delayed(at: float, coro) -> None:
    await asyncio.sleep(max(at - time.monotonic(), 0))
    await coro


def main() -> None:
    arg = sys.argv[1]
    spec = json.loads(open(arg[1:]).read() if arg.startswith("@") else arg)
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
