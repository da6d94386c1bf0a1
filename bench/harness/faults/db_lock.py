"""Fault (a): another process holds BEGIN EXCLUSIVE on the gateway's database for 15 s under load.

User A sends blocking requests throughout; user B starts 1 s into the lock (a user
who starts work during the outage: their token's last use is due to be recorded,
as every token's is once a minute, which in a busy deployment is some user every
second). /healthz is probed twice a second. After the load the gateway gets
SIGTERM and the records are counted from its database.
"""

from __future__ import annotations

import subprocess
import sys

from . import windows
from .context import FaultContext
from .load import BENCH_DIR, Load, blocking, probe, totals


def run(ctx: FaultContext) -> dict:
    s = ctx.settings
    gateway = ctx.gateway("lock")
    gateway.data_dir.mkdir(parents=True, exist_ok=True)
    token_b = gateway.add_user("late")
    gateway.start()
    target = gateway.target()
    request_a = target.messages()
    request_b = type(request_a)(request_a.port, request_a.path, {**request_a.headers, "Authorization": f"Bearer {token_b}"}, request_a.body)
    lock_at, seconds = s.calm_seconds, 2 * s.calm_seconds + s.lock_seconds
    mark = ctx.upstream_mark()
    load = Load(ctx.work, gateway.name, gateway.port, seconds, [
        blocking("user A", request_a, max(s.concurrency - 2, 1)),
        blocking("user B", request_b, 2, start=lock_at + 1),
        probe(),
    ]).start()
    load.sleep_until(lock_at)
    holder = subprocess.run(
        [sys.executable, "-m", "harness.faults.lock_holder", str(gateway.data_dir / "aibridge.db"), str(s.lock_seconds)],
        cwd=BENCH_DIR, capture_output=True, text=True, timeout=s.lock_seconds + 60,
    )
    times = dict(line.split() for line in holder.stdout.splitlines() if line.startswith(("locked", "released")))
    result = load.result()
    exited, stop_seconds = gateway.terminate(s.shutdown_grace + 30)
    exit_status = gateway.stop()
    t0 = result["t0"]
    locked = float(times["locked"]) - t0 if "locked" in times else None
    released = float(times["released"]) - t0 if "released" in times else None
    out = {
        "seconds": seconds,
        "lock": {"held_from": _round(locked), "held_until": _round(released), "holder_status": holder.returncode, "holder_error": holder.stderr[-500:]},
        "timeline": {name: _lane_timeline(lane) for name, lane in result["lanes"].items()},
        "client": totals(result),
        "upstream_answered": ctx.upstream_calls_since(mark),
        "records": gateway.recorded(),
        "stopped_on_sigterm": exited,
        "stop_seconds": stop_seconds,
        "exit_status": exit_status,
    }
    if locked is not None and released is not None:
        out["windows"] = _windows(result, locked, released, seconds)
    ctx.log(f"  {ctx.leg} lock: {_brief(out)}")
    return out


def _round(value):
    return None if value is None else round(value, 2)


def _lane_timeline(lane: dict) -> dict:
    keep = ("kind", "sent", "ok", "errors", "error_kinds", "ok_per_second", "errors_per_second", "max_ms_per_second", "samples")
    return {k: lane[k] for k in keep if k in lane}


def _windows(result: dict, locked: float, released: float, seconds: float) -> dict:
    """Before, during and after the lock: answers/s per user, seconds without an answer, /healthz latency."""
    lanes = result["lanes"]
    spans = {"before": (1, locked), "during": (locked, released), "after": (released + 1, seconds)}
    out = {}
    for span, (start, end) in spans.items():
        out[span] = {
            "user A ok/s": windows.rate(lanes["user A"]["ok_per_second"], start, end),
            "user A lowest ok/s": windows.lowest(lanes["user A"]["ok_per_second"], start, end),
            "user A seconds without an answer": windows.zero_seconds(lanes["user A"]["ok_per_second"], start, end),
            "user B ok": windows.total(lanes["user B"]["ok_per_second"], start, end),
            "healthz": windows.probe(lanes["healthz"]["samples"], start, end),
        }
    return out


def _brief(out: dict) -> str:
    w = out.get("windows")
    if not w:
        return f"lock not taken: {out['lock']['holder_error']}"
    r = out["records"]
    return (
        f"user A {w['before']['user A ok/s']} ok/s before, {w['during']['user A ok/s']} during "
        f"({w['during']['user A seconds without an answer']} s without an answer), {w['after']['user A ok/s']} after; "
        f"healthz max {w['during']['healthz']['max_ms']} ms during; answered {out['client']['ok']:,}, upstream {out['upstream_answered']:,}, "
        f"recorded {r['interceptions']:,} ({r['not_ended']} without an end); SIGTERM {'ok' if out['stopped_on_sigterm'] else 'HUNG'} in {out['stop_seconds']} s"
    )
