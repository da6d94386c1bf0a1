"""The load of a fault run: lanes for the timeline client, started in the background, and its result."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from ..targets import Request

BENCH_DIR = Path(__file__).resolve().parent.parent.parent


def blocking(name: str, request: Request, concurrency: int, start: float = 0, stop: float | None = None) -> dict:
    return {"name": name, "kind": "blocking", "path": request.path, "headers": request.headers, "body": request.body.decode(),
            "concurrency": concurrency, "start": start, "stop": stop}


def streams(name: str, request: Request, count: int) -> dict:
    """``count`` long streams (slow upstream), reopened after a failure."""
    return {"name": name, "kind": "stream", "path": request.path, "headers": request.headers, "body": request.body.decode(),
            "concurrency": count, "end_marker": request.end_marker, "reopen": True}


def probe(name: str = "healthz", path: str = "/healthz", interval: float = 0.5) -> dict:
    return {"name": name, "kind": "probe", "path": path, "interval": interval}


class Load:
    """``Load(...).start()``, do the fault, then ``result()``; ``at(wall)`` places a moment on its time axis."""

    def __init__(self, work: Path, name: str, port: int, seconds: float, lanes: list[dict], finish_port: int | None = None):
        self.spec = {"host": "127.0.0.1", "port": port, "seconds": seconds, "lanes": lanes, "request_timeout": 30, "finish_timeout": 15}
        if finish_port:
            self.spec["finish"] = {"host": "127.0.0.1", "port": finish_port, "path": "/control/finish"}
        self.spec_path = work / f"{name}-load.json"
        self.out_path = work / f"{name}-load.out"
        self.proc = None
        self.started_wall = 0.0

    def start(self) -> "Load":
        self.spec_path.write_text(json.dumps(self.spec))
        self.started_wall = time.time()
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "harness.timeline_client", f"@{self.spec_path}"],
                cwd=BENCH_DIR, stdout=out, stderr=subprocess.STDOUT,
            )
        return self

    def sleep_until(self, offset: float) -> None:
        """Sleep until ``offset`` seconds after the load started."""
        time.sleep(max(self.started_wall + offset - time.time(), 0))

    def result(self) -> dict:
        limit = self.spec["seconds"] + self.spec["request_timeout"] + self.spec["finish_timeout"] + 60
        try:
            self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        text = self.out_path.read_text(errors="replace")
        lines = [line for line in text.splitlines() if line.startswith("{")]
        if self.proc.returncode != 0 or not lines:
            raise RuntimeError(f"timeline client failed ({self.proc.returncode}):\n{text[-3000:]}")
        return json.loads(lines[-1])


def totals(result: dict, kinds=("blocking", "stream")) -> dict:
    """Requests sent and answered (2xx) over the lanes of ``kinds``."""
    lanes = [lane for lane in result["lanes"].values() if lane["kind"] in kinds]
    return {"sent": sum(lane["sent"] for lane in lanes), "ok": sum(lane["ok"] for lane in lanes), "errors": sum(lane["errors"] for lane in lanes)}
