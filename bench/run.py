"""Measure what aibridge adds to a request, next to the fake upstream alone and LiteLLM; write the report.

Usually started by bench/run.sh, which installs nginx, wrk and LiteLLM first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from harness import machine, profile, report, scenarios, wrk  # noqa: E402
from harness.aibridge_gateway import Aibridge  # noqa: E402
from harness.litellm_gateway import Litellm  # noqa: E402
from harness.nginx import Nginx  # noqa: E402
from harness.procs import Processes, free_port, http_status, rss_kib, wait_until_ready  # noqa: E402
from harness.targets import Target  # noqa: E402

WORK = BENCH_DIR / ".work"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aibridge", default=os.environ.get("AIBRIDGE_BIN", ""), help="the aibridge executable (default: next to this Python)")
    parser.add_argument("--litellm-venv", default=str(WORK / "litellm-venv"), help="virtualenv with litellm[proxy]")
    parser.add_argument("--skip", action="append", default=[], choices=["aibridge", "litellm", "idle"], help="leave out a leg (repeatable)")
    parser.add_argument("--seconds", type=float, help="length of each wrk run (default 10, --quick 3)")
    parser.add_argument("--stream-seconds", type=float, help="length of each streaming run (default 8, --quick 3)")
    parser.add_argument("--idle", help="idle stream counts for direct and aibridge (default 1000,5000)")
    parser.add_argument("--litellm-idle", help="idle stream counts for LiteLLM (default 1000: it opens them slowly)")
    parser.add_argument("--quick", action="store_true", help="short runs and 200/1000 idle streams: checks the harness, not the numbers")
    parser.add_argument("--profile", action="store_true", help="sample aibridge with py-spy during an extra c=50 run")
    parser.add_argument("--py-spy", default=str(WORK / "tools-venv" / "bin" / "py-spy"))
    parser.add_argument("--preliminary", default="", help="a sentence printed at the top of the report")
    parser.add_argument("--results", help="where the .md and .json go (default bench/results; --quick: bench/.work/quick-results)")
    parser.add_argument("--keep-work", action="store_true", help="keep the temporary directory (configs, logs)")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the .md report from a results .json")
    args = parser.parse_args(argv)
    if args.results is None:
        # Quick runs check the harness; their numbers must not replace recorded results.
        args.results = str(WORK / "quick-results" if args.quick else BENCH_DIR / "results")
    if args.seconds is None:
        args.seconds = 3 if args.quick else 10
    if args.stream_seconds is None:
        args.stream_seconds = 3 if args.quick else 8
    if args.idle is None:
        args.idle = "200,1000" if args.quick else "1000,5000"
    if args.litellm_idle is None:
        args.litellm_idle = "200" if args.quick else "1000"
    return args


def _counts(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def raise_fd_limit() -> int:
    """5,000 streams need ~10,000 descriptors in the gateway: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted) if hard != resource.RLIM_INFINITY else hard))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _stop_on_signal(signum, _frame):
    raise SystemExit(f"stopped by signal {signum}")


class SlowUpstream:
    """The one-event-per-second upstream (harness/slow_upstream.py), run with gevent."""

    name = "slow-upstream"

    def __init__(self, procs: Processes):
        self.procs = procs
        self.port = free_port()
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


def run_idle(name: str, request, counts, settings, server, slow: SlowUpstream, results_leg: dict, procs: Processes) -> None:
    """Idle-stream runs through ``server`` (a process with .proc and .name); stop if it dies."""
    for count in counts:
        result = scenarios.idle_streams(request, count, settings, server.proc.pid, slow.port, slow.proc.pid)
        result["rss_of"] = name
        results_leg[f"idle_{count}"] = result
        log(
            f"  {name} idle_{count}: {result['open_during_hold']:,} open, {result['errors']} errors, "
            f"RSS {report.mib(result['rss_before_mib'])} -> {report.mib(result['rss_peak_mib'])} MiB, "
            f"ramp {result['ramp_seconds']} s"
        )
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{name} exited with status {server.proc.returncode} during {count:,} idle streams:\n"
                f"{procs.log_tail(server.name, 40)}"
            )


def _client_totals(leg: dict) -> tuple[int, int]:
    sent = sum(r["sent"] for r in leg.values() if isinstance(r, dict) and "sent" in r)
    ok = sum(r["ok"] for r in leg.values() if isinstance(r, dict) and "ok" in r)
    return sent, ok


def _recording_check(gateway: Aibridge, exit_status: int, upstream_answered: int, client_sent: int, client_ok: int) -> dict:
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


def aibridge_leg(args, settings, procs, work, nginx, slow, results) -> None:
    executable = args.aibridge or str(Path(sys.executable).parent / "aibridge")
    gateway = Aibridge(procs, work, "aibridge", executable, f"{nginx.base}/v1", nginx.base)
    results["machine_versions"]["aibridge"] = gateway.version()
    mark = nginx.log_mark()
    gateway.start()
    log(f"aibridge on :{gateway.port} (pid {gateway.pid})")
    leg = results["legs"]["aibridge"] = scenarios.blocking_and_streams(gateway.target(), settings, work, gateway.pid, log)
    if args.profile:
        leg["profiled_chat_c50"] = _profile(args, gateway, settings, work, results)
    leg["rss_after_load_mib"] = round(rss_kib(gateway.pid) / 1024, 1)
    exit_status = gateway.stop()
    answered = Nginx.answered(nginx.calls_since(mark))
    sent, ok = _client_totals(leg)
    check = results["recording"]["aibridge (load runs)"] = _recording_check(gateway, exit_status, answered, sent, ok)
    log(f"  recorded {check['recorded']:,} interceptions, upstream answered {answered:,}, client ok {ok:,} of {sent:,}: "
        f"{'nothing lost' if check['nothing_lost'] else 'MISMATCH'}")

    if "idle" in args.skip:
        return
    idle_gateway = Aibridge(procs, work, "aibridge-idle", executable, f"{slow.base}/v1", nginx.base)
    before = slow.stats()["requests"]
    idle_gateway.start()
    log(f"aibridge (slow upstream) on :{idle_gateway.port} (pid {idle_gateway.pid})")
    run_idle("aibridge", idle_gateway.target().chat_stream(), settings.idle_counts, settings, idle_gateway, slow, leg, procs)
    exit_status = idle_gateway.stop()
    answered = slow.stats()["requests"] - before
    idle_runs = {k: v for k, v in leg.items() if k.startswith("idle_")}
    sent, ok = _client_totals(idle_runs)
    check = results["recording"]["aibridge (idle streams)"] = _recording_check(idle_gateway, exit_status, answered, sent, ok)
    log(f"  recorded {check['recorded']:,} interceptions of {answered:,} upstream streams: "
        f"{'nothing lost' if check['nothing_lost'] else 'MISMATCH'}")


def _profile(args, gateway, settings, work, results) -> dict:
    """An extra c=50 chat run under py-spy (not the measured one: sampling slows the process)."""
    py_spy = Path(args.py_spy)
    if not py_spy.exists():
        results["notes"].append(f"--profile asked but {py_spy} is missing (run.sh installs it).")
        return {}
    out = work / "aibridge-profile.txt"
    sampler = profile.record(py_spy, gateway.pid, int(settings.seconds), out)
    time.sleep(0.5)
    target = gateway.target()
    request = target.chat()
    script = wrk.write_script(work / "aibridge-profile.lua", request.body, request.headers)
    run = scenarios.wrk_run(request, script, 50, settings.seconds, gateway.pid)
    sampler.wait(timeout=settings.seconds + 60)
    if sampler.returncode != 0 or not out.exists():
        results["notes"].append(f"py-spy failed: {sampler.stderr.read().strip()[-300:]}")
        return run
    results["profile"] = profile.summarise(out)
    # The raw stacks are large: kept out of results/, next to the installed tools.
    WORK.mkdir(exist_ok=True)
    shutil.copy(out, WORK / f"{args.stem}-profile.txt")
    results["profile"]["raw"] = str(WORK / f"{args.stem}-profile.txt")
    log(f"  profiled run: {run['ok_rps']:,.0f} req/s under py-spy, {results['profile']['samples']:,} samples")
    return run


def litellm_leg(args, settings, procs, work, nginx, slow, results) -> None:
    venv = Path(args.litellm_venv)
    if not (venv / "bin" / "litellm").exists():
        raise SystemExit(f"LiteLLM is not installed in {venv}: run bench/run.sh, or pass --skip litellm")
    gateway = Litellm(procs, work, venv, nginx.base, slow.base)
    results["machine_versions"]["litellm"] = gateway.version()
    gateway.start()
    log(f"LiteLLM on :{gateway.port} (pid {gateway.pid}), ready after {gateway.startup_seconds} s")
    leg = results["legs"]["litellm"] = scenarios.blocking_and_streams(gateway.target(), settings, work, gateway.pid, log)
    if "idle" not in args.skip:
        run_idle("litellm", gateway.slow_target().chat_stream(), settings.litellm_idle_counts, settings, gateway, slow, leg, procs)
    gateway.stop()


def _guarded(name: str, leg, *args) -> None:
    """Run a leg; a failure is reported and the other legs still run."""
    results = args[-1]
    try:
        leg(*args)
    except Exception as exc:  # noqa: BLE001 - any failure of a leg goes into the report
        log(f"{name} leg failed: {exc}")
        traceback.print_exc()
        results["failures"].append(f"{name}: {exc}")


def run(args, procs: Processes, work: Path) -> dict:
    settings = scenarios.Settings(
        seconds=args.seconds,
        stream_seconds=args.stream_seconds,
        idle_counts=_counts(args.idle),
        litellm_idle_counts=_counts(args.litellm_idle),
    )
    results = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "settings": {
            "seconds": settings.seconds,
            "stream_seconds": settings.stream_seconds,
            "idle_counts": sorted(set(settings.idle_counts) | set(settings.litellm_idle_counts)),
            "hold_seconds": settings.hold_seconds,
            "fd_limit": raise_fd_limit(),
        },
        "preliminary": args.preliminary,
        "legs": {},
        "recording": {},
        "notes": [],
        "failures": [],
        "machine_versions": {"python": sys.version.split()[0]},
    }
    nginx = Nginx(procs, work)
    nginx.start()
    slow = SlowUpstream(procs)
    slow.start()
    results["machine_versions"].update(nginx=nginx.version(), wrk=wrk.version())
    log(f"nginx on :{nginx.port}, slow upstream on :{slow.port}")

    log("direct to the fake upstream")
    direct = results["legs"]["direct"] = scenarios.blocking_and_streams(direct_target(nginx), settings, work, nginx.proc.pid, log)
    if "idle" not in args.skip:
        slow_direct = Target("direct", slow.port, "/v1/chat/completions", "/v1/messages", {"Authorization": "Bearer sk-bench-direct"})
        run_idle("slow upstream", slow_direct.chat_stream(), settings.idle_counts, settings, slow, slow, direct, procs)

    if "aibridge" not in args.skip:
        log("aibridge")
        _guarded("aibridge", aibridge_leg, args, settings, procs, work, nginx, slow, results)
    if "litellm" not in args.skip:
        log("LiteLLM")
        _guarded("LiteLLM", litellm_leg, args, settings, procs, work, nginx, slow, results)
        results["notes"].append(
            "LiteLLM runs without a database: only its master key authenticates and it keeps no spend logs, "
            "so it records nothing while aibridge records every request."
        )
    return results


def results_stem() -> str:
    """<date>-<short machine description>, the name of this run's result files."""
    return f"{dt.date.today().isoformat()}-{machine.short_name(machine.describe({}))}"


def write_results(results: dict, results_dir: Path, stem: str) -> Path:
    results["machine"] = machine.describe(results.pop("machine_versions"))
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    md = results_dir / f"{stem}.md"
    md.write_text(report.render(results))
    return md


def render_only(path: Path) -> int:
    """Rewrite <name>.md from <name>.json (after a change to the report's layout)."""
    results = json.loads(path.read_text())
    raw = Path(results.get("profile", {}).get("raw", ""))
    if raw.is_file():
        results["profile"] = {**profile.summarise(raw), "raw": str(raw)}
        path.write_text(json.dumps(results, indent=2) + "\n")
    md = path.with_suffix(".md")
    md.write_text(report.render(results))
    log(f"report: {md}")
    return 0


def _keep_logs(work: Path) -> None:
    """Every server's log of the last run, in bench/.work/last-run-logs/ (for failures)."""
    kept = WORK / "last-run-logs"
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir(parents=True, exist_ok=True)
    for path in work.glob("*.log"):
        shutil.copy(path, kept / path.name)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_only(Path(args.render))
    args.stem = results_stem()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop_on_signal)
    Path(args.results).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="aibridge-bench-"))
    procs = Processes(work)
    started = time.monotonic()
    try:
        results = run(args, procs, work)
        results["elapsed_seconds"] = round(time.monotonic() - started)
        md = write_results(results, Path(args.results), args.stem)
        log(f"report: {md}")
        print(md.read_text())
        return 1 if results["failures"] else 0
    finally:
        procs.stop_all()
        _keep_logs(work)
        if args.keep_work:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
