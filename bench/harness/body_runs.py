"""The agent-body scenario: blocking latency at c=1 and throughput at c=50 for each body size and API.

Sizes are the tiny body of the main runs and agent-shaped bodies (agent_bodies.py)
of the sizes asked for (default 84 and 406 KiB). Each wrk run also samples the
server's resident memory: the c=50 run of the largest body is the "50 concurrent
large requests" memory figure. Runs are named ``body_<size>_<api>_c<n>``.
"""

from __future__ import annotations

from pathlib import Path

from . import agent_bodies, wrk
from .scenarios import Settings, wrk_run
from .targets import Target

APIS = ("messages", "chat")
CONCURRENCIES = (1, 50)


def sizes(kib_list: list[int]) -> list[tuple[str, int | None]]:
    """[("tiny", None), ("84k", 86016), ...] for the sizes given in KiB."""
    return [("tiny", None)] + [(f"{kib}k", kib * 1024) for kib in kib_list]


def run_name(label: str, api: str, concurrency: int) -> str:
    return f"body_{label}_{api}_c{concurrency}"


def describe_bodies(target: Target, size_list) -> dict:
    """What each body is (bytes, digest, messages, tool calls), as sent to ``target``."""
    out = {}
    for label, size in size_list:
        for api in APIS:
            request = target.blocking(api, size)
            out[f"{label}_{api}"] = agent_bodies.describe(request.body) if size else {"bytes": len(request.body)}
    return out


def run(target: Target, settings: Settings, work: Path, server_pid: int | None, size_list, log=print) -> dict:
    """Every body-size run against one target; returns {run name: wrk result}."""
    out = {}
    for label, size in size_list:
        for api in APIS:
            request = target.blocking(api, size)
            script = wrk.write_script(work / f"{target.name}-body-{label}-{api}.lua", request.body, request.headers)
            # Warm-up: not a measurement, but kept: its requests count in the recording check.
            out[f"warmup_body_{label}_{api}"] = wrk_run(request, script, 10, settings.warmup_seconds, server_pid)
            for concurrency in CONCURRENCIES:
                name = run_name(label, api, concurrency)
                out[name] = result = wrk_run(request, script, concurrency, settings.seconds, server_pid)
                result["body_bytes"] = len(request.body)
                log(
                    f"  {target.name} {name}: {result['ok_rps']:,.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
                    f"p99 {result['p99_ms']:.2f} ms, {result['errors']} errors (non-2xx {result['non_2xx']}), "
                    f"RSS peak {result['rss_peak_mib']} MiB"
                )
    return out
