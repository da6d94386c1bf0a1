"""Server time of the dashboard's pages on a store of realistic size: the sessions list, a 500-request session, usage.

    .venv/bin/python bench/dashboard_pages.py                         # 100,000 interceptions, results/ report
    .venv/bin/python bench/dashboard_pages.py --interceptions 5000 --rounds 3 --no-write   # a quick check

Fills a data directory with ``bench/dashboard_data.py`` (kept under
bench/.work/ and reused while its size and seed match), builds the gateway
app on it (the dashboard plugin with the rest, as ``aibridge server`` does),
signs in through ``/login`` with an owner's and a member's gateway token, and
asks each page ``--rounds`` times through the WSGI app in this process: the
time measured is the server's whole handling of the request (cookie check,
queries, rendering), without a network or a client. Reports the median, 90th
percentile and slowest per page, and writes them to
``bench/results/<date>-dashboard.md`` (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from dashboard_data import LONG_SESSION_ID, generate  # noqa: E402

from aibridge.app import create_app, shutdown_app  # noqa: E402
from aibridge.config import Config  # noqa: E402

BUDGET_MS = 300
# (label, who, path): the pages the budget is about first.
PAGES = (
    ("sessions list", "owner", "/sessions"),
    ("a 500-request session", "owner", f"/sessions/{LONG_SESSION_ID}"),
    ("usage, 30 days by model", "owner", "/usage"),
    ("usage, 30 days by person", "owner", "/usage?by=person"),
    ("sessions list, page 2", "owner", None),  # the first page's "Next page" link
    ("sessions list, text search", "owner", "/sessions?text=benchmark+regressed"),
    ("requests list", "owner", "/requests"),
    ("requests list, failed only", "owner", "/requests?status=failed"),
    ("usage CSV, 30 days", "owner", "/usage.csv"),
    ("sessions list (a member)", "member", "/sessions"),
    ("usage (a member)", "member", "/usage"),
)


def data_dir(args) -> Path:
    """A generated data directory of the asked size, made once and reused."""
    directory = BENCH_DIR / ".work" / f"dashboard-{args.interceptions}-{args.days}d-{args.long_session}-s{args.seed}"
    tokens_file = directory / "tokens.json"
    if not tokens_file.exists():
        print(f"generating {args.interceptions:,} interceptions in {directory} ...", file=sys.stderr)
        started = time.monotonic()
        people = generate(directory, args.interceptions, args.days, args.long_session, args.seed)
        tokens_file.write_text(json.dumps({name: token for _, name, token in people}))
        print(f"generated in {time.monotonic() - started:.0f} s", file=sys.stderr)
    directory.chmod(0o700)
    return directory


def signed_in_client(app, token: str):
    client = app.test_client()
    page = client.get("/login")
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"csrf_token": form_token, "token": token})
    assert answer.status_code == 302, answer.text
    return client


def measure(client, path: str, rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds per request: wall-clock, and CPU time of the process (every thread: the page's reads too)."""
    client.get(path)  # warm: the first render compiles the templates
    wall, cpu = [], []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        answer = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
    return wall, cpu


def next_page(client) -> str:
    match = re.search(r'<a rel="next" href="([^"]+)"', client.get("/sessions").text)
    assert match, "the sessions list has no next page"
    return match.group(1).replace("&amp;", "&")


def report(args, rows, elapsed_s: float, counts: dict) -> str:
    lines = [
        f"# Dashboard pages: server time ({dt.date.today().isoformat()})",
        "",
        f"`bench/dashboard_pages.py --interceptions {args.interceptions} --rounds {args.rounds}` on "
        f"{platform.node() or 'this machine'} ({platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, SQLite {counts['sqlite']}). The store: {counts['interceptions']:,} "
        f"interceptions in {counts['sessions']:,} sessions over {args.days} days, {counts['tool_usages']:,} tool "
        f"calls, {counts['tool_results']:,} tool results, {counts['size_mb']:,} MB; the long session has "
        f"{args.long_session} requests. The machine is shared (2 cores, load average {counts['load']:.1f} when the "
        "run ended): wall-clock time counts the waits for a core, CPU time (the process's, every thread) does not.",
        "",
        f"Budget: {BUDGET_MS} ms of server time for the first three pages below.",
        "",
        "| page | who | wall median ms | wall p90 ms | wall max ms | CPU median ms | within budget |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for label, who, (wall, cpu) in rows:
        ordered = sorted(wall)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        verdict = "yes" if statistics.median(wall) < BUDGET_MS else "**no**"
        lines.append(f"| {label} | {who} | {statistics.median(wall):.0f} | {p90:.0f} | {max(wall):.0f} | "
                     f"{statistics.median(cpu):.0f} | {verdict} |")
    lines += ["", f"Whole run: {elapsed_s:.0f} s.", ""]
    return "\n".join(lines)


def store_counts(directory: Path) -> dict:
    import sqlite3

    conn = sqlite3.connect(f"file:{directory / 'aibridge.db'}?mode=ro", uri=True)
    counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
              for table in ("interceptions", "tool_usages", "tool_results")}
    counts["sessions"] = conn.execute(
        "SELECT count(DISTINCT coalesce(client_session_id, id)) FROM interceptions").fetchone()[0]
    counts["sqlite"] = sqlite3.sqlite_version
    counts["size_mb"] = round((directory / "aibridge.db").stat().st_size / 1e6)
    counts["load"] = os.getloadavg()[0]
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interceptions", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--long-session", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="Print the report only.")
    args = parser.parse_args(argv)
    started = time.monotonic()
    directory = data_dir(args)
    tokens = json.loads((directory / "tokens.json").read_text())
    # Migrates first (the indexes are the release's); retention off, or the oldest generated days would be purged.
    app = create_app(Config(enabled=True, data_dir=directory, retention=dt.timedelta(0)))
    try:
        clients = {"owner": signed_in_client(app, tokens["owner-0"]), "member": signed_in_client(app, tokens["dev-7"])}
        rows = []
        for label, who, path in PAGES:
            path = path or next_page(clients[who])
            rows.append((label, who, measure(clients[who], path, args.rounds)))
            print(f"{label}: median {statistics.median(rows[-1][2][0]):.0f} ms", file=sys.stderr)
    finally:
        shutdown_app(app)
    text = report(args, rows, time.monotonic() - started, store_counts(directory))
    print(text)
    if not args.no_write:
        out = BENCH_DIR / "results" / f"{dt.date.today().isoformat()}-dashboard.md"
        out.write_text(text)
        print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
