"""The resilience scenario: what the circuit breaker and a 5-key pool cost on a healthy upstream.

Two gateways of this commit against the same nginx (canned answers), each
with both instances configured the same way (indexed providers named
``openai`` and ``anthropic``, so the routes are the usual ones), differing
only in the resilience settings:

- ``plain``: circuit breaker off, one key per instance, ``--aibridge-max-retries 0``:
  none of the resilience machinery has anything to do;
- ``resilient``: circuit breaker on (its default settings), five keys per
  instance, the default retries (2).

Machine noise (other processes on a shared machine) moves latency by more
than a gateway's own cost, so the two are measured in turns: each round runs,
for each kind of request (chat and Anthropic messages, blocking, c=1 then
c=50), direct nginx (c=1 only: the "added" latency is against the same
round's direct run), then both gateways back to back, the first of the pair
alternating from round to round. A difference counts as within noise when
the median of the per-round differences (resilient - plain) is no larger
than the plain gateway's own spread over the rounds (max - min).

Requests carry ``X-Bench-Log-Key: 1`` so nginx logs the key of every call:
the report shows how the pool spread its calls over the five keys. Recording
stays on: each gateway ends with the usual check (records against upstream
calls and client answers).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path

from . import scenarios, wrk
from .aibridge_gateway import Aibridge
from .legs import direct_target, recording_check
from .nginx import Nginx
from .procs import http_status
from .targets import Request

GATEWAYS = ("plain", "resilient")
POOL_SIZE = 5
KINDS = (("chat", 1), ("messages", 1), ("chat", 50), ("messages", 50))
LOG_KEY = {"X-Bench-Log-Key": "1"}


@dataclasses.dataclass
class Settings:
    rounds: int = 4
    seconds: float = 3.0
    warmup_seconds: float = 2.0
    # A/A control: the second gateway gets the plain settings too, so the "difference" is the noise alone.
    control: bool = False


def gateway_settings(name: str, nginx: Nginx, resilient: bool) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The indexed instances (keys named after the gateway) and the resilience settings of one gateway."""
    keys = POOL_SIZE if resilient else 1
    providers = []
    for kind, base in (("openai", f"{nginx.base}/v1"), ("anthropic", nginx.base)):
        pool = ",".join(f"sk-bench-{name}-{kind}-{i}" for i in range(keys))
        providers.append({"TYPE": kind, "NAME": kind, "BASE_URL": base, ("KEYS" if keys > 1 else "KEY"): pool})
    if not resilient:
        env = {"CODER_AIBRIDGE_CIRCUIT_BREAKER_ENABLED": "false", "CODER_AIBRIDGE_MAX_RETRIES": "0"}
    else:
        env = {"CODER_AIBRIDGE_CIRCUIT_BREAKER_ENABLED": "true"}  # default threshold, interval, timeout, retries
    return providers, env


def _described(provider: dict[str, str]) -> dict:
    """An instance's settings for the report: its keys counted, not shown."""
    keys = provider.get("KEYS") or provider.get("KEY", "")
    return {**{k: v for k, v in provider.items() if k not in ("KEY", "KEYS")}, "keys": len(keys.split(","))}


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: they say how busy it was)."""
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def _request(target, api: str) -> Request:
    request = target.chat() if api == "chat" else target.messages()
    return dataclasses.replace(request, headers={**request.headers, **LOG_KEY})


class _Leg:
    """One server of the comparison: its requests, wrk scripts, and what it was sent."""

    def __init__(self, name: str, target, pid: int, work: Path):
        self.name, self.pid = name, pid
        self.requests = {api: _request(target, api) for api in ("chat", "messages")}
        self.scripts = {api: wrk.write_script(work / f"resilience-{name}-{api}.lua", r.body, r.headers)
                        for api, r in self.requests.items()}
        self.sent = self.ok = 0

    def run(self, nginx: Nginx, api: str, connections: int, seconds: float) -> dict:
        result = scenarios.wrk_run(self.requests[api], self.scripts[api], connections, seconds, self.pid)
        self.sent += result["sent"]
        self.ok += result["ok"]
        # wrk stops with requests in flight: let the gateway finish them before the next run starts.
        _wait_until_quiet(nginx)
        return result


def _recording_check(gateway: Aibridge, exit_status: int, answered: int, leg: _Leg) -> dict:
    """Every upstream answer recorded, every record ended, every client success an answer.

    Stricter counts than the main scenario's cannot hold here: on this loaded machine a request wrk cut
    at the end of a c=50 run can be recorded as ``client_disconnected`` before (or without) its upstream
    call, so records may exceed upstream answers; completed records may not.
    """
    check = recording_check(gateway, exit_status, answered, leg.sent, leg.ok)
    completed = check["by_status"].get("completed", 0)
    check["completed"] = completed
    check["nothing_lost"] = (exit_status == 0 and check["not_ended"] == 0
                             and leg.ok <= completed <= answered <= check["recorded"] <= leg.sent)
    return check


def _wait_until_quiet(nginx: Nginx, quiet: float = 0.3, timeout: float = 15) -> None:
    """Poll nginx's key log until it has not grown for ``quiet`` seconds (at most ``timeout``)."""
    started = last_change = time.monotonic()
    size = nginx.keys_log_mark()
    while time.monotonic() - last_change < quiet and time.monotonic() - started < timeout:
        time.sleep(0.05)
        now = nginx.keys_log_mark()
        if now != size:
            size, last_change = now, time.monotonic()


def _keys_of(counts: dict[str, int], name: str) -> dict[str, int]:
    """The calls made with a gateway's keys (each gateway has its own), by key; other statuses apart."""
    return {key: n for key, n in counts.items() if key.split()[-1].startswith(f"sk-bench-{name}-")}


def run(ctx, executable: str, settings: Settings) -> dict:
    """Both gateways in turns against direct nginx; the per-round numbers, their summary and the checks."""
    out = {"settings": dataclasses.asdict(settings), "load_average": {"start": load_average()}, "rounds": []}
    gateways = {}
    keys_mark = ctx.nginx.keys_log_mark()
    for name in GATEWAYS:
        providers, env = gateway_settings(name, ctx.nginx, resilient=name == "resilient" and not settings.control)
        gateways[name] = Aibridge(ctx.procs, ctx.work, f"resilience-{name}", executable, "", "", env=env,
                                  providers=providers)
        out.setdefault("config", {})[name] = {"env": env, "providers": [_described(p) for p in providers]}
    try:
        for gateway in gateways.values():
            gateway.start()
            ctx.log(f"  {gateway.name} on :{gateway.port} (pid {gateway.pid})")
        legs = {"direct": _Leg("direct", direct_target(ctx.nginx), ctx.nginx.proc.pid, ctx.work)}
        legs.update({name: _Leg(name, g.target(), g.pid, ctx.work) for name, g in gateways.items()})
        for name in GATEWAYS:  # connection pools, lazy imports, breakers and pools made on first use
            for api in ("chat", "messages"):
                legs[name].run(ctx.nginx, api, 10, settings.warmup_seconds)
        for number in range(settings.rounds):
            out["rounds"].append(_round(ctx, legs, number, settings.seconds))
            out["load_average"].setdefault("after_rounds", []).append(load_average())
        for name, gateway in gateways.items():
            out.setdefault("provider_status", {})[name] = _provider_status(gateway)
    finally:
        exits = {name: gateway.stop() if gateway.proc else None for name, gateway in gateways.items()}
    out["load_average"]["end"] = load_average()
    # Each gateway has keys of its own: nginx's key log says which gateway made each upstream call.
    keys = ctx.nginx.keys_since(keys_mark)
    out["keys"] = {name: _keys_of(keys, name) for name in GATEWAYS}
    answered = {name: sum(n for key, n in out["keys"][name].items() if " " not in key) for name in GATEWAYS}
    out["recording"] = {name: _recording_check(gateways[name], exits[name], answered[name], legs[name])
                        for name in GATEWAYS}
    out["summary"] = summarise(out["rounds"])
    for name, check in out["recording"].items():
        ctx.log(f"  {name}: recorded {check['recorded']:,} interceptions, upstream answered "
                f"{check['upstream_answered']:,}, client ok {check['client_ok']:,} of {check['client_sent']:,}: "
                f"{'nothing lost' if check['nothing_lost'] else 'MISMATCH'}")
    for line in verdict_lines(out["summary"], second_title(out)):
        ctx.log("  " + line)
    return out


def _round(ctx, legs: dict, number: int, seconds: float) -> dict:
    """Every kind once: direct (c=1), then both gateways back to back, the first alternating by round."""
    order = GATEWAYS if number % 2 == 0 else GATEWAYS[::-1]
    out = {"order": list(order)}
    for api, connections in KINDS:
        kind = f"{api}_c{connections}"
        runs = {}
        for name in (("direct",) if connections == 1 else ()) + order:
            runs[name] = legs[name].run(ctx.nginx, api, connections, seconds)
        out[kind] = runs
        ctx.log(f"  round {number + 1} {kind}: " + ", ".join(f"{n} {_brief(r, connections)}" for n, r in runs.items()))
    return out


def _brief(run: dict, connections: int) -> str:
    text = f"{run['ok_rps']:,.0f} req/s" if connections > 1 else f"p50 {run['p50_ms']:.2f} ms"
    return text + (f" ({run['errors']} errors)" if run["errors"] else "")


# (kind, measure, unit, higher is better): what the summary compares.
MEASURES = [(f"{api}_c1", m, "ms", False) for api in ("chat", "messages")
            for m in ("p50_ms", "p99_ms", "added_p50_ms", "cpu_ms_per_request")]
MEASURES += [(f"{api}_c50", m, u, better) for api in ("chat", "messages")
             for m, u, better in (("ok_rps", "req/s", True), ("p50_ms", "ms", False), ("cpu_ms_per_request", "ms", False))]


def _value(round_: dict, kind: str, name: str, measure: str):
    runs = round_.get(kind, {})
    if name not in runs:
        return None
    if measure == "added_p50_ms":
        return None if "direct" not in runs else runs[name]["p50_ms"] - runs["direct"]["p50_ms"]
    if measure == "cpu_ms_per_request":
        return cpu_ms_per_request(runs[name])
    return runs[name][measure]


def cpu_ms_per_request(run: dict) -> float | None:
    """The gateway's CPU time (every thread) over a wrk run, per answer: less moved by waiting than latency is."""
    cpu, completed = run.get("server_cpu_pct"), run.get("completed")
    return None if cpu is None or not completed else cpu / 100 * run["seconds"] * 1000 / completed


def summarise(rounds: list[dict]) -> list[dict]:
    """Per measure: each gateway's median over the rounds, the plain gateway's spread, the paired differences."""
    rows = []
    for kind, measure, unit, higher_better in MEASURES:
        values = {name: [_value(r, kind, name, measure) for r in rounds] for name in GATEWAYS}
        if any(v is None for vs in values.values() for v in vs) or not rounds:
            continue
        diffs = [b - a for a, b in zip(values["plain"], values["resilient"])]
        spread = max(values["plain"]) - min(values["plain"])
        median_diff = statistics.median(diffs)
        direct = [_value(r, kind, "direct", "p50_ms") for r in rounds] if measure == "added_p50_ms" else []
        rows.append({
            "kind": kind, "measure": measure, "unit": unit, "higher_is_better": higher_better,
            "plain": values["plain"], "resilient": values["resilient"], "direct_p50_ms": direct,
            "plain_median": statistics.median(values["plain"]),
            "resilient_median": statistics.median(values["resilient"]),
            "diffs": diffs, "diff_median": median_diff, "diff_min": min(diffs), "diff_max": max(diffs),
            "plain_spread": spread, "within_noise": abs(median_diff) <= spread,
            "verdict": _verdict(median_diff, spread, higher_better),
        })
    return rows


def _verdict(median_diff: float, spread: float, higher_better: bool) -> str:
    if abs(median_diff) <= spread:
        return "within noise"
    return "better, beyond noise" if (median_diff > 0) == higher_better else "worse, beyond noise"


def second_title(res: dict) -> str:
    """What the second gateway is: breaker and pool, or (control run) the plain settings again."""
    return "plain again (control)" if res.get("settings", {}).get("control") else f"breaker + {POOL_SIZE}-key pool"


def verdict_lines(summary: list[dict], second: str = f"breaker + {POOL_SIZE}-key pool") -> list[str]:
    """The issue's question: the c=1 added latency with breaker and pool, against the plain gateway's noise."""
    lines = []
    for row in summary:
        if row["measure"] != "added_p50_ms":
            continue
        api = "chat" if row["kind"].startswith("chat") else "Anthropic messages"
        lines.append(
            f"{api}, c=1, added p50 over direct: plain {row['plain_median']:.3f} ms, {second} "
            f"{row['resilient_median']:.3f} ms; difference {row['diff_median']:+.3f} ms (rounds "
            f"{row['diff_min']:+.3f} to {row['diff_max']:+.3f}), plain run-to-run spread {row['plain_spread']:.3f} ms: "
            f"{row.get('verdict') or ('within noise' if row['within_noise'] else 'beyond noise')}")
    return lines


def _provider_status(gateway: Aibridge) -> list[dict]:
    """Each instance's key states and breakers as the gateway reports them (GET /api/v2/aibridge/providers)."""
    status, body = http_status(gateway.port, "/api/v2/aibridge/providers",
                               headers={"Authorization": f"Bearer {gateway.token}"}, timeout=10)
    if status != 200:
        return [{"error": f"status {status}: {body[:200]!r}"}]
    return [{"name": p["name"], "keys": [k.get("state") for k in p["keys"]], "circuit_breakers": p["circuit_breakers"],
             "breakers": [{k: v for k, v in b.items() if k in ("endpoint", "model", "state")} for b in p["breakers"]]}
            for p in json.loads(body)["providers"]]
