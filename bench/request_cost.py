"""CPU the gateway spends per request, by body size and API: this commit next to an earlier one.

Wall-clock latency on a shared, loaded machine says more about the neighbours
than about the gateway; the CPU time the gateway process itself used does not
(much). This script starts nginx with the canned answers, one ``aibridge
server`` per build (this checkout, and ``--baseline REF`` in its own worktree
and virtualenv, as bench/run.py does), then sends each kind of request (tiny,
84 KiB and 406 KiB agent bodies; Messages and Chat; blocking answers) one at a
time over a kept-alive connection and reads the server's CPU time (user +
system, every thread, from /proc/<pid>/task/*/schedstat in nanoseconds) before
and after. The builds take turns, round after round, so a busy moment of the
machine falls on both; the report gives each build's median µs per request.

    .venv/bin/python bench/request_cost.py --baseline HEAD~3
    .venv/bin/python bench/request_cost.py --baseline b6eed37 --requests 300 --rounds 7 --write bench/results/X.md
"""

from __future__ import annotations

import argparse
import http.client
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

from harness import agent_bodies, baseline  # noqa: E402
from harness.aibridge_gateway import Aibridge  # noqa: E402
from harness.body_runs import APIS, sizes  # noqa: E402
from harness.cpu import tree  # noqa: E402
from harness.nginx import Nginx  # noqa: E402
from harness.procs import Processes, http_status, wait_until_ready  # noqa: E402

WORK = BENCH_DIR / ".work"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REF", help="also measure aibridge at this commit (git worktree + venv under bench/.work/baseline)")
    parser.add_argument("--aibridge", default=str(Path(sys.executable).with_name("aibridge")), help="this build's aibridge executable")
    parser.add_argument("--body-kib", default="84,406", help="agent-body sizes in KiB, besides the tiny body (default 84,406)")
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per build and kind, builds taking turns (default 5)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per build and kind first (default 30)")
    parser.add_argument("--instructions", action="store_true", help="run each gateway under valgrind's callgrind and count instructions instead of CPU time (~100x slower: use fewer requests)")
    parser.add_argument("--write", metavar="PATH", help="also write the markdown table to PATH")
    return parser.parse_args(argv)


def cpu_ns(pid: int) -> int:
    """CPU time (ns) every thread of ``pid`` and its children has used so far."""
    total = 0
    for process in tree(pid):
        for task in Path(f"/proc/{process}/task").glob("*"):
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # a thread that ended meanwhile
    return total


class Client:
    """One kept-alive connection sending one kind of request."""

    def __init__(self, gateway: Aibridge, api: str, size: int | None):
        request = gateway.target().blocking(api, size)
        self.path, self.headers, self.body = request.path, request.headers, request.body
        self.conn = http.client.HTTPConnection("127.0.0.1", request.port, timeout=30)

    def send(self, count: int) -> None:
        for _ in range(count):
            self.conn.request("POST", self.path, body=self.body, headers=self.headers)
            response = self.conn.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(f"POST {self.path} answered {response.status}: {answer[:300]!r}")

    def close(self) -> None:
        self.conn.close()


def instructions(pid: int) -> int:
    """Instructions every thread of ``pid`` (running under callgrind) has executed so far."""
    out = subprocess.run(["callgrind_control", "-e", "Ir", str(pid)], capture_output=True, text=True, timeout=120).stdout
    counts = re.findall(r"^\s*Th\s+\d+\s+([\d,]+)", out, re.MULTILINE)
    if not counts:
        raise RuntimeError(f"callgrind_control -e Ir {pid} printed no counts:\n{out}")
    return sum(int(count.replace(",", "")) for count in counts)


class CallgrindGateway(Aibridge):
    """The gateway's Python run under callgrind; ``pid`` is valgrind's, which is the server's."""

    def launch(self, timeout: float = 900) -> float:
        python = str(Path(self.executable).with_name("python"))
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.data_dir}/callgrind.out", python, self.executable, "server"]
        self.proc = self.procs.start(self.name, argv, env=self._env())
        return wait_until_ready(lambda: http_status(self.port, "/healthz", timeout=30)[0] == 200, self.name, self.proc, timeout, self.procs, self.name)


def measure(gateway: Aibridge, client: Client, count: int, counter) -> float:
    """The gateway's cost per request over ``count`` requests: µs of CPU, or instructions."""
    before = counter(gateway.pid)
    client.send(count)
    per_request = (counter(gateway.pid) - before) / count
    return per_request if counter is instructions else per_request / 1000


def run(args, gateways: dict[str, Aibridge], unit: Unit) -> list[dict]:
    rows = []
    for label, size in sizes([int(k) for k in args.body_kib.split(",") if k]):
        for api in APIS:
            clients = {name: Client(gw, api, size) for name, gw in gateways.items()}
            for client in clients.values():
                client.send(args.warmup)
            samples: dict[str, list[float]] = {name: [] for name in gateways}
            for _ in range(args.rounds):
                for name, gw in gateways.items():
                    samples[name].append(measure(gw, clients[name], args.requests, instructions if args.instructions else cpu_ns))
            for client in clients.values():
                client.close()
            body = len(clients[next(iter(clients))].body)
            row = {"body": label, "api": api, "bytes": body, **{name: statistics.median(s) for name, s in samples.items()}}
            row["spread"] = {name: (min(s), max(s)) for name, s in samples.items()}
            rows.append(row)
            print(f"{label:>5} {api:<8} " + "  ".join(f"{name}: {unit.cell(row, name)}" for name in gateways), flush=True)
    return rows


class Unit:
    """How a measurement reads: µs of CPU, or millions of instructions, per request."""

    def __init__(self, instructions: bool):
        self.name = "M instructions/req" if instructions else "µs CPU/req"
        self.scale, self.digits = (1e6, 2) if instructions else (1, 0)

    def cell(self, row: dict, name: str) -> str:
        low, high = row["spread"][name]
        return f"{row[name] / self.scale:,.{self.digits}f} ({low / self.scale:,.{self.digits}f}–{high / self.scale:,.{self.digits}f})"


def table(rows: list[dict], names: list[str], unit: Unit) -> str:
    head = "| body | API | bytes | " + " | ".join(f"{n}: {unit.name} (min–max)" for n in names) + (" | this / baseline |" if len(names) == 2 else " |")
    lines = [head, "|" + "---|" * (3 + len(names)) + ("--:|" if len(names) == 2 else "")]
    for row in rows:
        cells = [unit.cell(row, n) for n in names]
        ratio = [f"{row[names[0]] / row[names[1]]:.2f}"] if len(names) == 2 else []
        lines.append("| " + " | ".join([row["body"], row["api"], f"{row['bytes']:,}", *cells, *ratio]) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    repo = BENCH_DIR.parent
    builds = {"this": args.aibridge}
    if args.baseline:
        commit, executable = baseline.prepare(repo, args.baseline, WORK / "baseline")
        builds[f"baseline {commit.sha[:8]}"] = executable
    work = Path(tempfile.mkdtemp(prefix="aibridge-cost-"))
    procs = Processes(work)
    try:
        nginx = Nginx(procs, work)
        nginx.start()
        gateways = {}
        for number, (name, executable) in enumerate(builds.items()):
            gateway = (CallgrindGateway if args.instructions else Aibridge)(procs, work, f"aibridge{number}", executable, nginx.base + "/v1/", nginx.base + "/")
            gateway.start()
            gateways[name] = gateway
        started = time.monotonic()
        unit = Unit(args.instructions)
        rows = run(args, gateways, unit)
        text = table(rows, list(gateways), unit)
        print(f"\n{text}\n\n({args.rounds} rounds of {args.requests} requests per build and kind, medians; {time.monotonic() - started:.0f} s)")
        if args.write:
            Path(args.write).write_text(text + "\n")
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
