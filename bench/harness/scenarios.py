"""The measurements every leg goes through: blocking latency and throughput, streams, idle streams."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import wrk
from .cpu import CpuMeter
from .rss import RssSampler
from .targets import Request, Target

BENCH_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Settings:
    """How long and how hard each part of a run goes."""

    seconds: float = 10.0
    stream_seconds: float = 8.0
    warmup_seconds: float = 2.0
    idle_counts: list[int] = field(default_factory=lambda: [1000, 10000])
    litellm_idle_counts: list[int] = field(default_factory=lambda: [1000])
    hold_seconds: float = 5.0
    ramp_timeout: float = 60.0
    # A gateway holds two descriptors per stream (client and upstream side): no more streams than its limit allows.
    max_idle_streams: int = 1_000_000


def _python_module(module: str, spec: dict, timeout: float) -> dict:
    """Run one of the harness's load clients in its own process; returns its JSON line."""
    out = subprocess.run(
        [sys.executable, "-m", f"harness.{module}", json.dumps(spec)],
        cwd=BENCH_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{module} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def stream_run(request: Request, concurrency: int, seconds: float, server_pid: int | None) -> dict:
    """TTFB / TTLB of SSE answers at ``concurrency``."""
    spec = {
        "host": "127.0.0.1",
        "port": request.port,
        "path": request.path,
        "headers": request.headers,
        "body": request.body.decode(),
        "end_marker": request.end_marker,
        "concurrency": concurrency,
        "seconds": seconds,
    }
    meter = CpuMeter(server_pid)
    result = _python_module("stream_client", spec, timeout=seconds + 120)
    result["server_cpu_pct"] = meter.percent()
    return result


def wrk_run(request: Request, script: Path, connections: int, seconds: float, server_pid: int | None) -> dict:
    """One wrk run; also the server's CPU and its resident memory (process tree) during the run."""
    meter = CpuMeter(server_pid)
    with RssSampler(server_pid) as rss:
        result = wrk.run(request.url, script, connections, seconds).as_dict()
    result["server_cpu_pct"] = meter.percent()
    result["rss_start_mib"], result["rss_peak_mib"] = rss.first, rss.peak
    return result


def blocking_and_streams(target: Target, settings: Settings, work: Path, server_pid: int | None, log=print) -> dict:
    """Every run except idle streams, against one target."""
    chat, messages = target.chat(), target.messages()
    chat_script = wrk.write_script(work / f"{target.name}-chat.lua", chat.body, chat.headers)
    messages_script = wrk.write_script(work / f"{target.name}-messages.lua", messages.body, messages.headers)
    out = {}
    # Warm up both routes (connection pools, lazy imports, JIT-free but cache-warm code paths).
    out["warmup_chat"] = wrk_run(chat, chat_script, 10, settings.warmup_seconds, server_pid)
    out["warmup_messages"] = wrk_run(messages, messages_script, 10, settings.warmup_seconds, server_pid)
    runs = [
        ("chat_c1", chat, chat_script, 1),
        ("chat_c50", chat, chat_script, 50),
        ("messages_c50", messages, messages_script, 50),
    ]
    for name, request, script, connections in runs:
        out[name] = wrk_run(request, script, connections, settings.seconds, server_pid)
        log(f"  {target.name} {name}: {_brief(out[name])}")
    for api, request in (("chat_stream", target.chat_stream()), ("messages_stream", target.messages_stream())):
        for concurrency in (1, 50):
            name = f"{api}_c{concurrency}"
            out[name] = stream_run(request, concurrency, settings.stream_seconds, server_pid)
            log(f"  {target.name} {name}: {_brief(out[name])}")
    return out


def idle_streams(request: Request, count: int, settings: Settings, rss_pid: int, slow_port: int, slow_pid: int) -> dict:
    """Hold ``count`` slow streams open through the server whose RSS is measured."""
    # Opening takes longer with more streams: at least 50 a second before the ramp counts as failed.
    ramp_timeout = max(settings.ramp_timeout, count / 50)
    spec = {
        "host": "127.0.0.1",
        "port": request.port,
        "path": request.path,
        "headers": request.headers,
        "body": request.body.decode(),
        "streams": count,
        "rss_pid": rss_pid,
        "hold_seconds": settings.hold_seconds,
        "ramp_timeout": ramp_timeout,
        "max_seconds": ramp_timeout + 120,
        "finish_timeout": 60,
        "upstream_host": "127.0.0.1",
        "upstream_port": slow_port,
    }
    server_meter, upstream_meter = CpuMeter(rss_pid), CpuMeter(slow_pid)
    result = _python_module("idle_streams", spec, timeout=ramp_timeout + settings.hold_seconds + 300)
    result["server_cpu_pct"] = server_meter.percent()
    result["upstream_cpu_pct"] = upstream_meter.percent()
    result["sent"] = count
    result["ok"] = result["completed"]
    return result


def _brief(result: dict) -> str:
    if "ok_rps" in result:
        return f"{result['ok_rps']:,.0f} req/s, p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, {result['errors']} errors"
    return (
        f"{result['streams_per_s']:,.0f} streams/s, TTFB p50 {result['ttfb_p50_ms']:.2f} ms, "
        f"TTLB p50 {result['ttlb_p50_ms']:.2f} ms p99 {result['ttlb_p99_ms']:.2f} ms, {result['errors']} errors"
    )
