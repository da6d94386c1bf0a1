"""Fault (d): memory over a few minutes of steady load (blocking requests and long streams).

The gateway's resident memory is sampled every ``soak_interval`` seconds; the
report shows it next to the answers per second of each interval, and the growth
per minute over the second half (after warm-up), which a leak keeps positive.
"""

from __future__ import annotations

from ..rss import RssSampler
from .context import FaultContext
from .load import Load, blocking, streams, totals


def run(ctx: FaultContext) -> dict:
    s = ctx.settings
    gateway = ctx.gateway("soak")
    gateway.start()
    target = gateway.target()
    mark = ctx.upstream_mark()
    load = Load(ctx.work, gateway.name, gateway.port, s.soak_seconds, [
        blocking("blocking", target.messages(), s.concurrency),
        streams("streams", target.chat_stream(), s.streams),
    ], finish_port=ctx.slow.port)
    with RssSampler(gateway.pid, interval=s.soak_interval) as rss:
        result = load.start().result()
    exited, stop_seconds = gateway.terminate(s.shutdown_grace + 30)
    exit_status = gateway.stop()
    per_second = result["lanes"]["blocking"]["ok_per_second"]
    samples = []
    for at, mib in rss.samples:
        start = max(int(at - s.soak_interval), 0)
        window = per_second[start:int(at)]
        samples.append({"t": at, "rss_mib": mib, "ok_per_s": round(sum(window) / len(window), 1) if window else None})
    out = {
        "seconds": s.soak_seconds,
        "interval": s.soak_interval,
        "samples": samples,
        "rss_first_mib": rss.first,
        "rss_peak_mib": rss.peak,
        "rss_last_mib": samples[-1]["rss_mib"] if samples else None,
        "growth_mib_per_min_second_half": _slope([(x["t"], x["rss_mib"]) for x in samples if x["t"] >= s.soak_seconds / 2]),
        "client": totals(result),
        "upstream_answered": ctx.upstream_calls_since(mark),
        "records": gateway.recorded(),
        "stopped_on_sigterm": exited,
        "stop_seconds": stop_seconds,
        "exit_status": exit_status,
    }
    ctx.log(f"  {ctx.leg} soak: RSS {out['rss_first_mib']} -> {out['rss_last_mib']} MiB (peak {out['rss_peak_mib']}), "
            f"{out['growth_mib_per_min_second_half']} MiB/min over the second half; answered {out['client']['ok']:,}, "
            f"recorded {out['records']['interceptions']:,}")
    return out


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope in MiB per minute."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    return round(60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var, 2)
