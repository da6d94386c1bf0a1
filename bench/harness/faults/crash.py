"""Fault (b): kill -9 of the gateway under load, then a restart on the same data directory.

Blocking requests and long streams (slow upstream) run through the gateway; at the
kill, the streams and any request in flight are open interceptions. The database
is read right after the kill (what the dead process had written) and again after
the restarted gateway ran the rest of the load and stopped cleanly: interceptions
the dead process started and nobody ended are the ones left without an end.
"""

from __future__ import annotations

import time

from .. import records
from .context import FaultContext
from .load import Load, blocking, streams, totals

DOWN_SECONDS = 2


def run(ctx: FaultContext) -> dict:
    s = ctx.settings
    gateway = ctx.gateway("crash")
    gateway.start()
    target = gateway.target()
    kill_at, seconds = s.calm_seconds, 2 * s.calm_seconds + DOWN_SECONDS
    mark = ctx.upstream_mark()
    load = Load(ctx.work, gateway.name, gateway.port, seconds, [
        blocking("blocking", target.messages(), s.concurrency),
        streams("streams", target.chat_stream(), s.streams),
    ], finish_port=ctx.slow.port).start()
    load.sleep_until(kill_at)
    killed_wall = time.time()
    kill_status = gateway.kill()
    upstream_before_kill = ctx.upstream_calls_since(mark)
    at_kill = records.read(gateway.data_dir)
    time.sleep(DOWN_SECONDS)
    restart_seconds = round(gateway.launch(), 2)
    result = load.result()
    exited, stop_seconds = gateway.terminate(s.shutdown_grace + 30)
    exit_status = gateway.stop()
    final = records.read(gateway.data_dir, split_at=killed_wall)
    out = {
        "seconds": seconds,
        "killed_at": round(killed_wall - result["t0"], 2),
        "kill_status": kill_status,
        "restart_seconds": restart_seconds,
        "upstream_calls_before_kill": upstream_before_kill,
        "records_at_kill": at_kill,
        "records_final": final,
        "open_streams_at_kill": _open_at(result["lanes"]["streams"], killed_wall - result["t0"]),
        "client": totals(result),
        "upstream_answered": ctx.upstream_calls_since(mark),
        "timeline": {name: {k: lane[k] for k in ("kind", "sent", "ok", "errors", "error_kinds", "ok_per_second", "open_per_second") if k in lane}
                     for name, lane in result["lanes"].items()},
        "stopped_on_sigterm": exited,
        "stop_seconds": stop_seconds,
        "exit_status": exit_status,
    }
    ctx.log(f"  {ctx.leg} crash: {_brief(out)}")
    return out


def _open_at(lane: dict, moment: float) -> int | None:
    samples = lane.get("open_per_second", [])
    index = int(moment) - 1
    return samples[index] if 0 <= index < len(samples) else None


def _brief(out: dict) -> str:
    at_kill, final = out["records_at_kill"], out["records_final"]
    return (
        f"{out['upstream_calls_before_kill']:,} upstream calls before the kill, {at_kill['interceptions']:,} recorded by then "
        f"({at_kill['not_ended']} open); after restart and stop: {final.get('started_before_not_ended')} of the killed process's "
        f"{final.get('started_before')} interceptions without an end, statuses {final.get('started_before_by_status')}"
    )
