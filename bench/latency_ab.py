"""Two aibridge gateways side by side against one nginx, taking turns: latency and req/s at c=1 (or CONC).

    .venv/bin/python bench/latency_ab.py [SECS=5] [ROUNDS=3] [CONC=1] [BODIES=tiny,84k,406k] \\
        [EXE_A=path/to/aibridge] [EXE_B=...] A: [KEY=VALUE ...] B: [KEY=VALUE ...]

KEY=VALUE after ``A:`` / ``B:`` is that gateway's extra environment (for instance
``CODER_AIBRIDGE_DISABLE_PLUGINS=recorder`` to measure without recording). Each body and
API gets a 2 s warm-up at c=10 per gateway, then ``ROUNDS`` wrk runs of ``SECS`` seconds for
each gateway, the first of the pair alternating by round; one line per body and API with
each gateway's medians. Not for absolute numbers: for a difference between two builds or
settings measured in one run (bench/results/2026-12-02-latency-tail-ab.md).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from harness import wrk  # noqa: E402
from harness.aibridge_gateway import Aibridge  # noqa: E402
from harness.nginx import Nginx  # noqa: E402
from harness.procs import Processes  # noqa: E402
from harness.scenarios import wrk_run  # noqa: E402

DEFAULT_EXE = str(BENCH.parent / ".venv" / "bin" / "aibridge")


def parse(argv: list[str]) -> tuple[dict, dict]:
    envs: dict = {"A": {}, "B": {}}
    options: dict = {}
    current = None
    for arg in argv:
        if arg in ("A:", "B:"):
            current = arg[0]
            continue
        key, _, value = arg.partition("=")
        (envs[current] if current else options)[key] = value
    return envs, options


def main(argv: list[str]) -> None:
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        return
    envs, options = parse(argv)
    seconds, rounds = float(options.get("SECS", 5)), int(options.get("ROUNDS", 3))
    concurrency = int(options.get("CONC", 1))
    bodies = options.get("BODIES", "tiny,84k,406k").split(",")
    work = Path(tempfile.mkdtemp(prefix="latency-ab-"))
    (work / "logs").mkdir()
    procs = Processes(work / "logs")
    results: dict = {}
    try:
        nginx = Nginx(procs, work)
        nginx.start()
        gateways = {}
        for name in "AB":
            executable = options.get(f"EXE_{name}", DEFAULT_EXE)
            gateways[name] = Aibridge(procs, work, f"gw{name}", executable, f"{nginx.base}/v1", nginx.base,
                                      env=envs[name])
            gateways[name].start()
        for label in bodies:
            size = None if label == "tiny" else int(label[:-1]) * 1024
            for api in ("messages", "chat"):
                for name, gateway in gateways.items():
                    request = gateway.target().blocking(api, size)
                    script = wrk.write_script(work / f"{name}-{label}-{api}.lua", request.body, request.headers)
                    wrk_run(request, script, 10, 2, gateway.pid)
                for round_ in range(rounds):
                    for name in ("AB" if round_ % 2 == 0 else "BA"):
                        gateway = gateways[name]
                        request = gateway.target().blocking(api, size)
                        run = wrk_run(request, work / f"{name}-{label}-{api}.lua", concurrency, seconds, gateway.pid)
                        results.setdefault((label, api, name), []).append(run)
                print(line(label, api, results), flush=True)
        for gateway in gateways.values():
            gateway.stop()
    finally:
        procs.stop_all()


def line(label: str, api: str, results: dict) -> str:
    out = f"{label:5} {api:8}"
    for name in "AB":
        runs = results[(label, api, name)]

        def median(key: str) -> float:
            return statistics.median(run[key] for run in runs)

        out += (f" | {name}: rps {median('ok_rps'):6.0f} p50 {median('p50_ms'):.2f} p99 {median('p99_ms'):5.2f} "
                f"({median('p99_ms') / median('p50_ms'):.1f}x) max {median('max_ms'):5.1f} "
                f"cpu {median('server_cpu_pct'):.0f}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
