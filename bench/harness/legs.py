"""The legs of a run: direct, aibridge (this commit and an earlier one), LiteLLM; each through the chosen scenarios.

The "main" scenario is blocking and streaming requests plus idle streams; "bodies"
is the agent-body scenario (body_runs.py). Every aibridge leg ends with the
recording check: records read from its database after it stopped, against the
upstream calls it made and the requests the clients sent.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import body_runs, report, scenarios
from .aibridge_gateway import Aibridge
from .litellm_gateway import Litellm
from .nginx import Nginx
from .procs import Processes, http_status, rss_kib, wait_until_ready
from .profile_runs import profiled_run
from .targets import Target

BENCH_DIR = Path(__file__).resolve().parent.parent


@dataclass
class RunContext:
    """Everything a leg needs."""

    args: object
    settings: scenarios.Settings
    procs: Processes
    work: Path
    nginx: Nginx
    slow: "SlowUpstream"
    results: dict
    scenarios: set[str] = field(default_factory=set)
    body_sizes: list = field(default_factory=list)
    log: object = print


class SlowUpstream:
    """The one-event-per-second upstream (harness/slow_upstream.py), run with gevent."""

    name = "slow-upstream"

    def __init__(self, procs: Processes, port: int):
        self.procs = procs
        self.port = port
        self.proc = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = self.procs.start(self.name, [sys.executable, "-m", "harness.slow_upstream", str(self.port)], cwd=str(BENCH_DIR))
        wait_until_ready(lambda: http_status(self.port, "/control/stats")[0] == 200, "slow upstream", self.proc, 20, self.procs, "slow-upstream")

    def stats(self) -> dict:
        return json.loads(http_status(self.port, "/control/stats")[1])


def direct_target(nginx: Nginx) -> Target:
    return Target(
        name="direct",
        port=nginx.port,
        chat_path="/v1/chat/completions",
        messages_path="/v1/messages",
        auth={"Authorization": "Bearer sk-bench-direct"},
        stream_headers={"X-Bench-Answer": "sse"},
    )


def run_idle(ctx: RunContext, name: str, request, counts, server, leg: dict) -> None:
    """Idle-stream runs through ``server`` (a process with .proc and .name); stop if it dies."""
    for count in counts:
        # Kept under its asked-for name; "streams" says how many ran when the descriptor limit capped it.
        streams = min(count, ctx.settings.max_idle_streams)
        result = scenarios.idle_streams(request, streams, ctx.settings, server.proc.pid, ctx.slow.port, ctx.slow.proc.pid)
        result["rss_of"] = name
        leg[f"idle_{count}"] = result
        ctx.log(
            f"  {name} idle_{count}: {result['open_during_hold']:,} of {streams:,} open, {result['errors']} errors, "
            f"RSS {report.mib(result['rss_before_mib'])} -> {report.mib(result['rss_peak_mib'])} MiB, "
            f"ramp {result['ramp_seconds']} s"
        )
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{name} exited with status {server.proc.returncode} during {count:,} idle streams:\n"
                f"{ctx.procs.log_tail(server.name, 40)}"
            )


def _load_runs(ctx: RunContext, target: Target, pid: int, leg: dict) -> None:
    """The main blocking/stream runs and the body runs the chosen scenarios ask for."""
    if "main" in ctx.scenarios:
        leg.update(scenarios.blocking_and_streams(target, ctx.settings, ctx.work, pid, ctx.log))
    if "bodies" in ctx.scenarios:
        leg.update(body_runs.run(target, ctx.settings, ctx.work, pid, ctx.body_sizes, ctx.log))


def direct_leg(ctx: RunContext) -> None:
    target = direct_target(ctx.nginx)
    leg = ctx.results["legs"]["direct"] = {}
    _load_runs(ctx, target, ctx.nginx.proc.pid, leg)
    if "bodies" in ctx.scenarios:
        ctx.results["bodies"] = body_runs.describe_bodies(target, ctx.body_sizes)
    if "main" in ctx.scenarios and "idle" not in ctx.args.skip:
        slow_direct = Target("direct", ctx.slow.port, "/v1/chat/completions", "/v1/messages", {"Authorization": "Bearer sk-bench-direct"})
        run_idle(ctx, "slow upstream", slow_direct.chat_stream(), ctx.settings.idle_counts, ctx.slow, leg)


def client_totals(leg: dict) -> tuple[int, int]:
    sent = sum(r["sent"] for r in leg.values() if isinstance(r, dict) and "sent" in r)
    ok = sum(r["ok"] for r in leg.values() if isinstance(r, dict) and "ok" in r)
    return sent, ok


def recording_check(gateway: Aibridge, exit_status: int, upstream_answered: int, client_sent: int, client_ok: int) -> dict:
    recorded = gateway.recorded()
    nothing_lost = (
        exit_status == 0
        and recorded["interceptions"] == upstream_answered
        and recorded["not_ended"] == 0
        and client_ok <= recorded["interceptions"] <= client_sent
    )
    return {
        **recorded,
        "recorded": recorded["interceptions"],
        "upstream_answered": upstream_answered,
        "client_sent": client_sent,
        "client_ok": client_ok,
        "exit_status": exit_status,
        "nothing_lost": nothing_lost,
    }


def aibridge_leg(ctx: RunContext, leg_name: str, executable: str, title: str) -> None:
    """One aibridge build through the chosen scenarios; ``title`` names it in the recording check."""
    gateway = Aibridge(ctx.procs, ctx.work, leg_name, executable, f"{ctx.nginx.base}/v1", ctx.nginx.base)
    ctx.results["machine_versions"][leg_name] = gateway.version()
    mark = ctx.nginx.log_mark()
    gateway.start()
    ctx.log(f"{title} on :{gateway.port} (pid {gateway.pid})")
    leg = ctx.results["legs"][leg_name] = {}
    _load_runs(ctx, gateway.target(), gateway.pid, leg)
    if ctx.args.profile and leg_name == "aibridge":
        _profiles(ctx, gateway, leg)
    leg["rss_after_load_mib"] = round(rss_kib(gateway.pid) / 1024, 1)
    exit_status = gateway.stop()
    answered = Nginx.answered(ctx.nginx.calls_since(mark))
    sent, ok = client_totals(leg)
    check = ctx.results["recording"][f"{title} (load runs)"] = recording_check(gateway, exit_status, answered, sent, ok)
    ctx.log(f"  recorded {check['recorded']:,} interceptions, upstream answered {answered:,}, client ok {ok:,} of {sent:,}: "
            f"{'nothing lost' if check['nothing_lost'] else 'MISMATCH'}")

    if "main" not in ctx.scenarios or "idle" in ctx.args.skip:
        return
    idle_gateway = Aibridge(ctx.procs, ctx.work, f"{leg_name}-idle", executable, f"{ctx.slow.base}/v1", ctx.nginx.base)
    before = ctx.slow.stats()["requests"]
    idle_gateway.start()
    ctx.log(f"{title} (slow upstream) on :{idle_gateway.port} (pid {idle_gateway.pid})")
    run_idle(ctx, title, idle_gateway.target().chat_stream(), ctx.settings.idle_counts, idle_gateway, leg)
    exit_status = idle_gateway.stop()
    answered = ctx.slow.stats()["requests"] - before
    sent, ok = client_totals({k: v for k, v in leg.items() if k.startswith("idle_")})
    check = ctx.results["recording"][f"{title} (idle streams)"] = recording_check(idle_gateway, exit_status, answered, sent, ok)
    ctx.log(f"  recorded {check['recorded']:,} interceptions of {answered:,} upstream streams: "
            f"{'nothing lost' if check['nothing_lost'] else 'MISMATCH'}")


def _profiles(ctx: RunContext, gateway: Aibridge, leg: dict) -> None:
    """py-spy during extra c=50 runs: tiny chat (main), and Messages with each body size (bodies)."""
    target = gateway.target()
    wanted = []
    if "main" in ctx.scenarios:
        wanted.append(("chat_c50", "tiny chat", target.chat()))
    if "bodies" in ctx.scenarios:
        wanted += [(f"body_{label}_messages_c50", f"{label} messages", target.blocking("messages", size)) for label, size in ctx.body_sizes]
    profiles = ctx.results.setdefault("profiles", {})
    for run_name, label, request in wanted:
        out = profiled_run(Path(ctx.args.py_spy), gateway.pid, request, ctx.settings.seconds, ctx.work,
                           f"aibridge-{run_name}", BENCH_DIR / ".work", ctx.args.stem)
        if out["run"] is not None:
            leg[f"profiled_{run_name}"] = out["run"]
        if out["error"]:
            ctx.results["notes"].append(f"profile of {label}: {out['error']}")
            continue
        profiles[label] = out["profile"]
        ctx.log(f"  profiled {label}: {out['run']['ok_rps']:,.0f} req/s under py-spy, {out['profile']['samples']:,} samples")


def litellm_leg(ctx: RunContext) -> None:
    venv = Path(ctx.args.litellm_venv)
    if not (venv / "bin" / "litellm").exists():
        raise SystemExit(f"LiteLLM is not installed in {venv}: run bench/run.sh, or pass --skip litellm")
    gateway = Litellm(ctx.procs, ctx.work, venv, ctx.nginx.base, ctx.slow.base)
    ctx.results["machine_versions"]["litellm"] = gateway.version()
    gateway.start()
    ctx.log(f"LiteLLM on :{gateway.port} (pid {gateway.pid}), ready after {gateway.startup_seconds} s")
    leg = ctx.results["legs"]["litellm"] = {}
    _load_runs(ctx, gateway.target(), gateway.pid, leg)
    if "main" in ctx.scenarios and "idle" not in ctx.args.skip:
        run_idle(ctx, "litellm", gateway.slow_target().chat_stream(), ctx.settings.litellm_idle_counts, gateway, leg)
    gateway.stop()


