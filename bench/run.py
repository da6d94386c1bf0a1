"""Measure what aibridge adds to a request, next to the fake upstream alone and LiteLLM; write the report.

Usually started by bench/run.sh, which installs nginx, wrk and LiteLLM first.
Scenarios: "main" (blocking, streams, idle streams), "bodies" (agent-shaped
request bodies of several sizes, memory under large bodies) and "faults" (a
locked store, kill -9, a full disk, memory over minutes).
"""

from __future__ import annotations

import argparse
import dataclasses
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

from harness import baseline, body_runs, faults, machine, postgres_runs, profile, report, resilience_runs, scenarios, wrk  # noqa: E402
from harness.aibridge_gateway import Aibridge  # noqa: E402
from harness.faults import FaultContext, FaultSettings  # noqa: E402
from harness.legs import RunContext, SlowUpstream, aibridge_leg, direct_leg, litellm_leg  # noqa: E402
from harness.nginx import Nginx  # noqa: E402
from harness.procs import Processes, free_port  # noqa: E402

WORK = BENCH_DIR / ".work"
SCENARIOS = ("main", "bodies", "faults", "postgres", "resilience")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aibridge", default=os.environ.get("AIBRIDGE_BIN", ""), help="the aibridge executable (default: next to this Python)")
    parser.add_argument("--litellm-venv", default=str(WORK / "litellm-venv"), help="virtualenv with litellm[proxy]")
    parser.add_argument("--scenario", action="append", help="main, bodies, faults, postgres, resilience (repeatable or comma-separated; default main,bodies)")
    parser.add_argument("--baseline", metavar="REF", help="also measure aibridge at this earlier commit (git worktree + its own venv under bench/.work/baseline)")
    parser.add_argument("--skip", action="append", default=[], choices=["aibridge", "litellm", "idle"], help="leave out a leg (repeatable)")
    parser.add_argument("--seconds", type=float, help="length of each wrk run (default 10, --quick 3)")
    parser.add_argument("--stream-seconds", type=float, help="length of each streaming run (default 8, --quick 3)")
    parser.add_argument("--idle", help="idle stream counts for direct and aibridge (default 1000,10000)")
    parser.add_argument("--litellm-idle", help="idle stream counts for LiteLLM (default 1000: it opens them slowly)")
    parser.add_argument("--body-kib", default="84,406", help="agent-body sizes in KiB, besides the tiny body (default 84,406)")
    parser.add_argument("--fault-cases", default="lock,crash,disk,soak", help="which fault cases run (default all four)")
    parser.add_argument("--fault-concurrency", type=int, default=10, help="blocking connections during the fault cases (default 10)")
    parser.add_argument("--soak-seconds", type=float, help="length of the memory run of the faults scenario (default 180, --quick 24)")
    parser.add_argument("--postgres", default=os.environ.get("AIBRIDGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
                        help="postgres scenario: a database to create its own databases from (they are dropped after)")
    parser.add_argument("--pg-outage-seconds", type=float, help="postgres scenario: how long PostgreSQL is cut off (default 60, --quick 8)")
    parser.add_argument("--resilience-rounds", type=int, help="resilience scenario: rounds of both gateways in turn (default 4, --quick 2)")
    parser.add_argument("--resilience-seconds", type=float, help="resilience scenario: length of each wrk run (default 3, --quick 1)")
    parser.add_argument("--resilience-control", action="store_true",
                        help="resilience scenario: give the second gateway the plain settings too (an A/A run: the noise alone)")
    parser.add_argument("--quick", action="store_true", help="short runs and 200/1000 idle streams: checks the harness, not the numbers")
    parser.add_argument("--profile", action="store_true", help="sample aibridge with py-spy during an extra c=50 run of each body size")
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
        args.idle = "200,1000" if args.quick else "1000,10000"
    if args.litellm_idle is None:
        args.litellm_idle = "200" if args.quick else "1000"
    if args.pg_outage_seconds is None:
        args.pg_outage_seconds = 8 if args.quick else 60
    if args.resilience_rounds is None:
        args.resilience_rounds = 2 if args.quick else 4
    if args.resilience_seconds is None:
        args.resilience_seconds = 1 if args.quick else 3
    if args.resilience_rounds < 2:
        parser.error("--resilience-rounds: at least 2 (the verdict needs the plain gateway's spread over rounds)")
    args.scenario = _names(",".join(args.scenario or ["main,bodies"]))
    unknown = set(args.scenario) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}: choose from {', '.join(SCENARIOS)}")
    unknown = set(_names(args.fault_cases)) - set(faults.CASES)
    if unknown:
        parser.error(f"unknown fault case {', '.join(sorted(unknown))}: choose from {', '.join(faults.CASES)}")
    return args


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _counts(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def raise_fd_limit(wanted: int = 65536) -> int:
    """10,000 streams need ~20,000 descriptors in the gateway: lift the soft limit (and, as root, the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))  # needs root (CAP_SYS_RESOURCE)
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _stop_on_signal(signum, _frame):
    raise SystemExit(f"stopped by signal {signum}")


def _guarded(name: str, results: dict, leg, *args) -> None:
    """Run a leg; a failure is reported and the other legs still run."""
    try:
        leg(*args)
    except Exception as exc:  # noqa: BLE001 - any failure of a leg goes into the report
        log(f"{name} leg failed: {exc}")
        traceback.print_exc()
        results["failures"].append(f"{name}: {exc}")


def _aibridge_builds(args, results: dict) -> list[tuple[str, str, str]]:
    """(leg name, executable, title) of this commit and, with --baseline, the earlier one."""
    repo = BENCH_DIR.parent
    builds = []
    if "aibridge" not in args.skip:
        current = baseline.commit(repo)
        results["commits"]["aibridge"] = current.as_dict()
        builds.append(("aibridge", args.aibridge or str(Path(sys.executable).parent / "aibridge"), f"aibridge {current.label}"))
    if args.baseline:
        try:
            earlier, executable = baseline.prepare(repo, args.baseline, WORK / "baseline", log)
        except Exception as exc:  # noqa: BLE001 - the run goes on without the baseline, and says so
            log(f"baseline {args.baseline}: {exc}")
            results["failures"].append(f"baseline {args.baseline}: {exc}")
        else:
            results["commits"]["baseline"] = earlier.as_dict()
            builds.append(("baseline", executable, f"aibridge {earlier.label}"))
    return builds


FDS_PER_PROCESS = 200  # listening socket, database, logs, libraries: besides two per stream


def _cap_idle_streams(settings: scenarios.Settings, results: dict) -> None:
    """N open streams take 2N descriptors in the gateway (client side and upstream side), under one limit.

    Where the hard limit cannot be raised (a container without CAP_SYS_RESOURCE: even root gets
    "not allowed"), the larger idle runs are capped to what it allows, and the report says so.
    """
    limit = results["settings"]["fd_limit"]
    settings.max_idle_streams = (limit - FDS_PER_PROCESS) // 2
    asked = max(settings.idle_counts + settings.litellm_idle_counts + [0])
    if asked > settings.max_idle_streams:
        results["settings"]["idle_cap"] = settings.max_idle_streams
        results["notes"].append(
            f"The descriptor limit here is {limit:,} and could not be raised: {asked:,} idle streams need about "
            f"{2 * asked + FDS_PER_PROCESS:,} in the gateway, so idle runs above {settings.max_idle_streams:,} streams "
            f"ran with {settings.max_idle_streams:,} (the rows keep the asked-for count in their name)."
        )


def run(args, procs: Processes, work: Path) -> dict:
    settings = scenarios.Settings(
        seconds=args.seconds,
        stream_seconds=args.stream_seconds,
        warmup_seconds=1 if args.quick else 2,
        idle_counts=_counts(args.idle),
        litellm_idle_counts=_counts(args.litellm_idle),
    )
    chosen = set(args.scenario)
    results = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "scenarios": sorted(chosen),
        "settings": {
            "seconds": settings.seconds,
            "stream_seconds": settings.stream_seconds,
            "idle_counts": sorted(set(settings.idle_counts) | set(settings.litellm_idle_counts)) if "main" in chosen else [],
            "hold_seconds": settings.hold_seconds,
            "fd_limit": raise_fd_limit(),
            "body_kib": _counts(args.body_kib) if "bodies" in chosen else [],
        },
        "preliminary": args.preliminary,
        "commits": {},
        "legs": {},
        "recording": {},
        "notes": [],
        "failures": [],
        "machine_versions": {"python": sys.version.split()[0]},
    }
    if "main" in chosen and "idle" not in args.skip:
        _cap_idle_streams(settings, results)
    builds = _aibridge_builds(args, results)
    nginx = Nginx(procs, work)
    nginx.start()
    slow = SlowUpstream(procs, free_port())
    slow.start()
    results["machine_versions"].update(nginx=nginx.version(), wrk=wrk.version())
    log(f"nginx on :{nginx.port}, slow upstream on :{slow.port}")
    ctx = RunContext(args, settings, procs, work, nginx, slow, results, chosen, body_runs.sizes(_counts(args.body_kib)), log)

    if chosen & {"main", "bodies"}:
        log("direct to the fake upstream")
        direct_leg(ctx)
        for leg_name, executable, title in builds:
            log(title)
            _guarded(title, results, aibridge_leg, ctx, leg_name, executable, title)
        if "litellm" not in args.skip:
            log("LiteLLM")
            _guarded("LiteLLM", results, litellm_leg, ctx)
            results["notes"].append(
                "LiteLLM runs without a database: only its master key authenticates and it keeps no spend logs, "
                "so it records nothing while aibridge records every request."
            )
    if "faults" in chosen:
        fault_settings = FaultSettings.quick() if args.quick else FaultSettings()
        fault_settings.concurrency = args.fault_concurrency
        if args.soak_seconds:
            fault_settings.soak_seconds = args.soak_seconds
        results["settings"]["faults"] = dataclasses.asdict(fault_settings)
        results["faults"] = {}
        for leg_name, executable, title in builds:
            log(f"faults: {title}")
            ctx_faults = FaultContext(leg_name, executable, procs, work, nginx, slow, fault_settings, log)
            results["faults"][leg_name] = faults.run(ctx_faults, _names(args.fault_cases))
            results["machine_versions"].setdefault(leg_name, Aibridge(procs, work, "version", executable, "", "").version())
    if "postgres" in chosen:
        leg_name, executable, title = builds[0]
        log(f"postgres: {title}")
        try:
            results["postgres"] = postgres_runs.run(ctx, executable, args.postgres, args.pg_outage_seconds)
        except Exception as exc:  # noqa: BLE001 - reported, like a failed leg
            traceback.print_exc()
            results["failures"].append(f"postgres: {exc}")
    if "resilience" in chosen:
        leg_name, executable, title = builds[0]
        second = "plain again (control run)" if args.resilience_control else \
            f"with the circuit breaker and a {resilience_runs.POOL_SIZE}-key pool"
        log(f"resilience: {title}, plain and {second}, in turns")
        resilience_settings = resilience_runs.Settings(args.resilience_rounds, args.resilience_seconds, settings.warmup_seconds,
                                                       control=args.resilience_control)
        try:
            results["resilience"] = resilience_runs.run(ctx, executable, resilience_settings)
        except Exception as exc:  # noqa: BLE001 - reported, like a failed leg
            traceback.print_exc()
            results["failures"].append(f"resilience: {exc}")
    return results


def results_stem(scenario_names) -> str:
    """<date>-<short machine description>[-<scenarios>], the name of this run's result files."""
    stem = f"{dt.date.today().isoformat()}-{machine.short_name(machine.describe({}))}"
    chosen = sorted(set(scenario_names))
    return stem if chosen == ["bodies", "main"] else f"{stem}-{'-'.join(chosen)}"


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
    resummarised = False
    for label, summary in results.get("profiles", {}).items():
        raw = Path(summary.get("raw", ""))
        if raw.is_file():  # the raw stacks are kept in bench/.work: summarise them again with today's rules
            results["profiles"][label] = {**profile.summarise(raw), "raw": str(raw)}
            resummarised = True
    if "resilience" in results:  # the summary is derived from the rounds: today's rules
        results["resilience"]["summary"] = resilience_runs.summarise(results["resilience"]["rounds"])
        resummarised = True
    if resummarised:
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
    args.stem = results_stem(args.scenario) + ("-control" if args.resilience_control and "resilience" in args.scenario else "")
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
