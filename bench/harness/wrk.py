"""Blocking-request load with wrk: a Lua script POSTs a JSON body; errors and requests sent are counted."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

# `sent` counts every request written (wrk calls request() once per request), so
# the requests still in flight when wrk stops are known too: the gateway saw them.
_SCRIPT = """\
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

local prepared

function init(args)
  sent = 0
  wrk.method = "POST"
  wrk.body = [==[{body}]==]
{headers}
  prepared = wrk.format()
end

function request()
  sent = sent + 1
  return prepared
end

function done(summary, latency, requests)
  local total_sent = 0
  for _, t in ipairs(threads) do
    total_sent = total_sent + t:get("sent")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {{"sent":%d,"completed":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"non_2xx":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}}\\n',
    total_sent, summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


@dataclass
class WrkResult:
    """One wrk run."""

    url: str
    connections: int
    seconds: float
    sent: int
    completed: int
    ok: int
    errors: int
    non_2xx: int
    socket_errors: int
    in_flight_at_stop: int
    rps: float
    ok_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    def as_dict(self) -> dict:
        return asdict(self)


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for ASCII


def write_script(path: Path, body: bytes, headers: dict[str, str]) -> Path:
    """The Lua script for one kind of request."""
    if b"]==]" in body:
        raise ValueError("request body cannot be embedded in the wrk script")
    lines = [f"  wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    # Bytes, not text: agent bodies carry raw UTF-8, whatever the locale says.
    path.write_bytes(_SCRIPT.format(body=body.decode(), headers="\n".join(lines)).encode())
    return path


_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")


def parse_output(text: str, url: str, connections: int) -> WrkResult:
    """Read the script's BENCH_JSON line and cross-check wrk's own Non-2xx line."""
    line = next((l for l in text.splitlines() if l.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{text}")
    raw = json.loads(line[len("BENCH_JSON ") :])
    printed = _NON_2XX.search(text)
    printed_non_2xx = int(printed.group(1)) if printed else 0
    if printed_non_2xx != raw["non_2xx"]:
        raise RuntimeError(f"wrk's Non-2xx line says {printed_non_2xx}, its summary {raw['non_2xx']}")
    seconds = raw["duration_us"] / 1e6
    socket_errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    # `completed` counts every response wrk parsed (non-2xx included); a request
    # cut by a socket error is in `sent` but not in `completed`.
    ok = raw["completed"] - raw["non_2xx"]
    return WrkResult(
        url=url,
        connections=connections,
        seconds=round(seconds, 3),
        sent=raw["sent"],
        completed=raw["completed"],
        ok=ok,
        errors=raw["non_2xx"] + socket_errors,
        non_2xx=raw["non_2xx"],
        socket_errors=socket_errors,
        in_flight_at_stop=raw["sent"] - raw["completed"],
        rps=round(raw["completed"] / seconds, 1),
        ok_rps=round(ok / seconds, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=round(raw["mean_us"] / 1000, 3),
        max_ms=raw["max_us"] / 1000,
    )


def run(url: str, script: Path, connections: int, seconds: float, threads: int = 1, timeout_s: int = 10) -> WrkResult:
    """Run wrk once; the wrapper adds a margin so a hung wrk cannot stall the benchmark."""
    binary = shutil.which("wrk") or "/usr/bin/wrk"
    argv = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()}")
    return parse_output(out.stdout, url, connections)


def version() -> str:
    out = subprocess.run([shutil.which("wrk") or "wrk", "-v"], capture_output=True, text=True)
    first = (out.stdout + out.stderr).splitlines()[0]
    return first.split()[1] if len(first.split()) > 1 else first
