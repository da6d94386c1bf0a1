"""Fault (c): the data directory on a small filesystem that fills up under load.

The gateway's data directory is on a tmpfs; once it runs, a filler file leaves
about 1 MiB free, which the records fill within seconds. After the load: SIGTERM,
and does it finish within the shutdown grace? If not, the filler is removed and
the wait goes on (does freeing space let it finish?), then kill -9. Records are
counted after it stopped, and again after a restart with space (a gateway that
kept records aside writes them then).
"""

from __future__ import annotations

from .context import FaultContext
from .load import Load, blocking, probe, totals
from .small_fs import SmallFs

WAIT_AFTER_FREEING = 30


def run(ctx: FaultContext) -> dict:
    s = ctx.settings
    with SmallFs(ctx.work / f"{ctx.leg}-small-fs", s.tmpfs_mib) as fs:
        gateway = ctx.gateway("disk", data_dir=fs.path / "data")
        try:
            return _run(ctx, gateway, fs)
        finally:
            if gateway.proc is not None:  # nothing may keep the mount busy
                ctx.procs.stop(gateway.proc, timeout=10)


def _run(ctx: FaultContext, gateway, fs: SmallFs) -> dict:
    s = ctx.settings
    gateway.start()
    left = fs.fill(s.free_kib * 1024)
    mark = ctx.upstream_mark()
    load = Load(ctx.work, gateway.name, gateway.port, s.disk_seconds, [blocking("blocking", gateway.target().messages(), s.concurrency), probe()]).start()
    result = load.result()
    left_after = fs.available()
    wait = s.shutdown_grace + 15
    exited, stop_seconds = gateway.terminate(wait)
    freed_then_exited = None
    if not exited:
        fs.free()
        freed_then_exited, more = gateway.terminate(WAIT_AFTER_FREEING)
        stop_seconds += more
    exit_status = gateway.stop()  # kill -9 if it is still there
    after_stop = gateway.recorded()
    fs.free()
    try:
        restart_seconds = round(gateway.launch(), 2)
        gateway.terminate(s.shutdown_grace + 30)
        gateway.stop()
        after_restart = gateway.recorded()
    except RuntimeError as exc:
        restart_seconds, after_restart = None, {"error": str(exc)[-500:], "interceptions": None}
    out = {
        "seconds": s.disk_seconds,
        "tmpfs_mib": s.tmpfs_mib,
        "free_bytes_at_start": left,
        "free_bytes_after_load": left_after,
        "client": totals(result),
        "timeline": {name: {k: lane[k] for k in ("kind", "sent", "ok", "errors", "error_kinds", "ok_per_second", "samples") if k in lane}
                     for name, lane in result["lanes"].items()},
        "upstream_answered": ctx.upstream_calls_since(mark),
        "stopped_on_sigterm": exited,
        "stopped_after_freeing_space": freed_then_exited,
        "stop_seconds": stop_seconds,
        "exit_status": exit_status,
        "records_after_stop": after_stop,
        "restart_seconds": restart_seconds,
        "records_after_restart": after_restart,
    }
    ctx.log(f"  {ctx.leg} disk: {_brief(out)}")
    return out


def _brief(out: dict) -> str:
    stop = "exited" if out["stopped_on_sigterm"] else ("exited once space was freed" if out["stopped_after_freeing_space"] else "HUNG, killed")
    return (
        f"answered {out['client']['ok']:,} (upstream {out['upstream_answered']:,}), recorded {out['records_after_stop']['interceptions']:,} "
        f"after stop, {out['records_after_restart'].get('interceptions')} after a restart with space; SIGTERM: {stop} ({out['stop_seconds']} s)"
    )
