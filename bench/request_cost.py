"""The gateway's own cost per request, by body size and API: this commit next to an earlier one.

Wall-clock latency on a shared, loaded machine says more about the neighbours
than about the gateway; what the gateway process itself spent does not (much).
This script starts nginx with the canned answers and one ``aibridge server`` per
build (this checkout, and ``--baseline REF`` in its own worktree and virtualenv,
as bench/run.py does), then sends each kind of request (tiny, 84 KiB and
406 KiB agent bodies; Messages and Chat; blocking answers) one at a time over a
kept-alive connection and reads the server's counters before and after:

- by default its CPU time, every thread, in nanoseconds
  (/proc/<pid>/task/*/schedstat), and which share of it the kernel spent
  (utime / stime ticks): noisy on a busy machine, so the builds take turns,
  round after round, and the report gives medians;
- with ``--instructions``, the instructions it executed, counted by valgrind's
  callgrind (the server runs under it, ~100x slower: use few requests). The
  count hardly moves between runs or with the machine's load, but leaves out
  the kernel (reading the body from the socket, writing it upstream).

    .venv/bin/python bench/request_cost.py --baseline HEAD~3
    .venv/bin/python bench/request_cost.py --baseline HEAD~3 --instructions --requests 10 --rounds 2
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from harness import baseline  # noqa: E402
from harness.aibridge_gateway import Aibridge  # noqa: E402
from harness.body_runs import APIS, sizes  # noqa: E402
from harness.cpu import tree  # noqa: E402
from harness.nginx import Nginx  # noqa: E402
from harness.procs import Processes, free_port, http_status, wait_until_ready  # noqa: E402

WORK = BENCH_DIR / ".work"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REF", help="also measure aibridge at this commit (git worktree + venv under bench/.work/baseline)")
    parser.add_argument("--aibridge", default=str(Path(sys.executable).with_name("aibridge")), help="this build's aibridge executable")
    parser.add_argument("--body-kib", default="84,406", help="agent-body sizes in KiB, besides the tiny body (default 84,406)")
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per build and kind, builds taking turns (default 5)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per build and kind first (default 30)")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind instead of CPU time")
    parser.add_argument("--write", metavar="PATH", help="also write the markdown table to PATH")
    parser.add_argument("--tracing", action="store_true",
                        help="also measure this build with --trace-enable, exporting to a local OTLP sink")
    return parser.parse_args(argv)


class CpuMeter:
    """CPU time of a process tree: ns from schedstat, and the kernel's share from the stat ticks."""

    name, scale, digits = "µs CPU/req", 1000, 0

    def read(self, pid: int) -> tuple[int, int, int]:
        """(ns on CPU, user ticks, system ticks) of every thread of ``pid`` and its children."""
        ns = user = system = 0
        for process in tree(pid):
            for task in Path(f"/proc/{process}/task").glob("*"):
                try:
                    ns += int((task / "schedstat").read_text().split()[0])
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                except (OSError, ValueError, IndexError):
                    continue  # a thread that ended meanwhile
                user, system = user + int(fields[11]), system + int(fields[12])
        return ns, user, system


class InstructionMeter:
    """Instructions a process under callgrind executed, every thread."""

    name, scale, digits = "M instructions/req", 1_000_000, 2

    def read(self, pid: int) -> tuple[int, int, int]:
        out = subprocess.run(["callgrind_control", "-e", "Ir", str(pid)], capture_output=True, text=True, timeout=120).stdout
        counts = re.findall(r"^\s*Th\s+\d+\s+([\d,]+)", out, re.MULTILINE)
        if not counts:
            raise RuntimeError(f"callgrind_control -e Ir {pid} printed no counts:\n{out}")
        return sum(int(count.replace(",", "")) for count in counts), 0, 0


class CallgrindGateway(Aibridge):
    """The gateway's Python run under callgrind (``pid`` is valgrind's, which is the server's)."""

    def launch(self, timeout: float = 900) -> float:
        python = str(Path(self.executable).with_name("python"))
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.data_dir}/callgrind.out", python, self.executable, "server"]
        self.proc = self.procs.start(self.name, argv, env=self._env())
        return wait_until_ready(lambda: http_status(self.port, "/healthz", timeout=30)[0] == 200, self.name, self.proc, timeout, self.procs, self.name)


class Client:
    """One kept-alive connection sending one kind of request."""

    def __init__(self, gateway: Aibridge, api: str, size: int | None):
        request = gateway.target().blocking(api, size)
        self.path, self.headers, self.body = request.path, request.headers, request.body
        self.conn = http.client.HTTPConnection("127.0.0.1", request.port, timeout=60)

    def send(self, count: int) -> None:
        for _ in range(count):
            self.conn.request("POST", self.path, body=self.body, headers=self.headers)
            response = self.conn.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(f"POST {self.path} answered {response.status}: {answer[:300]!r}")


class Series:
    """One build's measurements of one kind of request."""

    def __init__(self):
        self.per_request: list[float] = []
        self.user = self.system = 0

    def add(self, before, after, count: int) -> None:
        self.per_request.append((after[0] - before[0]) / count)
        self.user += after[1] - before[1]
        self.system += after[2] - before[2]

    def cell(self, meter) -> str:
        def fmt(value: float) -> str:
            return f"{value / meter.scale:,.{meter.digits}f}"
        text = f"{fmt(statistics.median(self.per_request))} ({fmt(min(self.per_request))}–{fmt(max(self.per_request))})"
        if self.user + self.system:
            text += f", kernel {100 * self.system / (self.user + self.system):.0f} %"
        return text

    def median(self) -> float:
        return statistics.median(self.per_request)


def run(args, gateways: dict[str, Aibridge], meter) -> list[dict]:
    rows = []
    for label, size in sizes([int(k) for k in args.body_kib.split(",") if k]):
        for api in APIS:
            clients = {name: Client(gateway, api, size) for name, gateway in gateways.items()}
            for client in clients.values():
                client.send(args.warmup)
            series = {name: Series() for name in gateways}
            for _ in range(args.rounds):
                for name, gateway in gateways.items():
                    before = meter.read(gateway.pid)
                    clients[name].send(args.requests)
                    series[name].add(before, meter.read(gateway.pid), args.requests)
            for client in clients.values():
                client.conn.close()
            row = {"body": label, "api": api, "bytes": len(next(iter(clients.values())).body), "series": series}
            rows.append(row)
            print(f"{label:>5} {api:<8} " + "  ".join(f"{name}: {s.cell(meter)}" for name, s in series.items()), flush=True)
    return rows


def table(rows: list[dict], names: list[str], meter) -> str:
    """One column per build, then each build's median over the first's (two builds: this over the baseline)."""
    if len(names) == 2 and names[1].startswith("baseline"):
        ratios = [(names[0], names[1])]
    else:
        ratios = [(name, names[0]) for name in names[1:]]
    lines = [
        "| body | API | bytes | " + " | ".join(f"{name}: {meter.name} (min–max)" for name in names)
        + "".join(f" | {top} / {bottom}" for top, bottom in ratios) + " |",
        "|---|---|--:|" + "---|" * len(names) + "--:|" * len(ratios),
    ]
    for row in rows:
        series = row["series"]
        cells = [series[name].cell(meter) for name in names]
        cells += [f"{series[top].median() / series[bottom].median():.2f}" for top, bottom in ratios]
        lines.append("| " + " | ".join([row["body"], row["api"], f"{row['bytes']:,}", *cells]) + " |")
    return "\n".join(lines)


TRACED = "this, tracing on"


def start_otlp_sink(procs: Processes) -> dict[str, str]:
    """An OTLP/HTTP endpoint taking the traced build's spans; the environment that sends them there."""
    port = free_port()
    proc = procs.start("otlp-sink", [sys.executable, "-m", "harness.otlp_sink", str(port)], cwd=str(BENCH_DIR))
    wait_until_ready(lambda: http_status(port, "/")[0] == 200, "otlp-sink", proc, 30, procs, "otlp-sink")
    return {"CODER_TRACE_ENABLE": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}


def main(argv=None) -> None:
    args = parse_args(argv)
    builds = {"this": args.aibridge}
    if args.tracing:
        builds[TRACED] = args.aibridge
    if args.baseline:
        commit, executable = baseline.prepare(BENCH_DIR.parent, args.baseline, WORK / "baseline")
        builds[f"baseline {commit.sha[:8]}"] = executable
    meter = InstructionMeter() if args.instructions else CpuMeter()
    work = Path(tempfile.mkdtemp(prefix="aibridge-cost-"))
    procs = Processes(work)
    try:
        nginx = Nginx(procs, work)
        nginx.start()
        env = {}
        if args.tracing:
            env = {TRACED: start_otlp_sink(procs)}
        gateways = {}
        for number, (name, executable) in enumerate(builds.items()):
            gateway_class = CallgrindGateway if args.instructions else Aibridge
            gateways[name] = gateway_class(procs, work, f"aibridge{number}", executable, nginx.base + "/v1/", nginx.base + "/",
                                           env=env.get(name))
            gateways[name].start()
        started = time.monotonic()
        rows = run(args, gateways, meter)
        text = table(rows, list(gateways), meter)
        note = f"{args.rounds} rounds of {args.requests} requests per build and kind, medians, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        print(f"\n{text}\n\n({note}; {time.monotonic() - started:.0f} s)")
        if args.write:
            Path(args.write).write_text(f"{text}\n\n({note})\n")
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
