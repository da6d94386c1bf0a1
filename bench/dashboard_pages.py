"""Server time of the dashboard's pages on a store of realistic size: the sessions list, a 500-request session, usage.

    .venv/bin/python bench/dashboard_pages.py                         # 100,000 interceptions, results/ report
    .venv/bin/python bench/dashboard_pages.py --interceptions 5000 --rounds 3 --no-write   # a quick check
    .venv/bin/python bench/dashboard_pages.py --postgres postgresql://postgres@127.0.0.1:5432/test   # on PostgreSQL

Fills a data directory with ``bench/dashboard_data.py`` (kept under
bench/.work/ and reused while its size and seed match), builds the gateway
app on it (the dashboard plugin with the rest, as ``aibridge server`` does),
signs in through ``/login`` with an owner's and a member's gateway token, and
asks each page ``--rounds`` times through the WSGI app in this process: the
time measured is the server's whole handling of the request (cookie check,
queries, rendering), without a network or a client. Reports the median, 90th
percentile and slowest per page, and writes them to
``bench/results/<date>-dashboard.md`` (unless ``--no-write``).

With ``--postgres ADMIN_URL`` the store is a database of that PostgreSQL
server, ``aibridge_bench_dashboard_<size>_...`` (created and filled the
first time, reused while bench/.work/ has its tokens; ``--fresh`` drops it and
fills it again), and the report goes to ``<date>-dashboard-postgres.md``.
"""

from __future__ import annotations

# As `aibridge server` runs: under gevent, the pages' reads on OS threads, PostgreSQL's from the process's pool.
from gevent import monkey  # noqa: I001

monkey.patch_all()

import argparse  # noqa: E402
import datetime as dt
import json
import os
import platform
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from dashboard_data import LONG_SESSION_ID, generate  # noqa: E402

import aibridge  # noqa: E402
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
    ("usage in USD, 30 days by person", "owner", "/usage?by=person&metric=usd"),
    ("groups and budgets (this month's spend)", "owner", "/admin/budgets"),
    ("sessions list (a member)", "member", "/sessions"),
    ("usage (a member)", "member", "/usage"),
)


def store_name(args) -> str:
    return f"dashboard-{args.interceptions}-{args.days}d-{args.long_session}-s{args.seed}"


def postgres_database(args) -> str:
    """The URL of the benchmark's database on the ``--postgres`` server (created when missing), or ""."""
    if not args.postgres:
        return ""
    import psycopg

    name = "aibridge_bench_" + store_name(args).replace("-", "_")
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and (args.fresh or not (BENCH_DIR / ".work" / (store_name(args) + "-postgres") / "tokens.json").exists()):
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(args.postgres)._replace(path="/" + name))


def data_dir(args, postgres_url: str) -> Path:
    """A generated data directory (and database, on PostgreSQL) of the asked size, made once and reused."""
    directory = BENCH_DIR / ".work" / (store_name(args) + ("-postgres" if postgres_url else ""))
    tokens_file = directory / "tokens.json"
    if args.fresh or not tokens_file.exists():
        for stale in directory.glob("aibridge.db*") if args.fresh else ():  # the generator adds to what is there
            stale.unlink()
        print(f"generating {args.interceptions:,} interceptions in {postgres_url or directory} ...", file=sys.stderr)
        started = time.monotonic()
        people = generate(directory, args.interceptions, args.days, args.long_session, args.seed, postgres_url)
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


def postgres_cpu(postgres_url: str):
    """A function giving the CPU seconds PostgreSQL has used so far for the benchmark's database (0 without it).

    The server runs on this host: its processes' times are read from /proc. The connections of the process's
    read pool are counted while they live; the ones that ended (a page checks its session on a connection of
    its own) are in the postmaster's children's times, with those of any other client of the server that
    ended meanwhile: the median keeps them out.
    """
    if not postgres_url:
        return lambda: 0.0
    import psycopg

    database = urlsplit(postgres_url).path.lstrip("/")
    admin = psycopg.connect(urlunsplit(urlsplit(postgres_url)._replace(path="/postgres")), autocommit=True)
    postmaster = _stat(admin.execute("SELECT pg_backend_pid()").fetchone()[0])[1]
    ticks = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = _stat(postmaster)
        total = int(fields[13]) + int(fields[14])  # cutime + cstime: the children that ended
        for (pid,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database]).fetchall():
            try:
                fields = _stat(pid)
            except FileNotFoundError:  # ended meanwhile: counted with the postmaster's children next time
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / ticks

    return used


def _stat(pid) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (field 3, the state, is [0])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def measure(client, path: str, rounds: int, store_cpu) -> tuple[list[float], list[float], list[float]]:
    """Milliseconds per request: wall-clock, CPU time of the process (every thread: the page's reads too), and
    CPU time of PostgreSQL's connections (0 on SQLite, whose work is the process's)."""
    client.get(path)  # warm: the first render compiles the templates
    wall, cpu, db_cpu = [], [], []
    for _ in range(rounds):
        started, started_cpu, started_db = time.perf_counter(), time.process_time(), store_cpu()
        answer = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if started_db:
            time.sleep(0.02)  # a connection that ended has been counted
        db_cpu.append((store_cpu() - started_db) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
    return wall, cpu, db_cpu


def next_page(client) -> str:
    match = re.search(r'<a rel="next" href="([^"]+)"', client.get("/sessions").text)
    assert match, "the sessions list has no next page"
    return match.group(1).replace("&amp;", "&")


def report(args, rows, elapsed_s: float, counts: dict) -> str:
    lines = [
        f"# Dashboard pages: server time ({dt.date.today().isoformat()})",
        "",
        f"`bench/dashboard_pages.py --interceptions {args.interceptions} --rounds {args.rounds}"
        f"{' --postgres ' + args.postgres if args.postgres else ''}` on "
        f"{platform.node() or 'this machine'} ({platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, {counts['store']}). The store: {counts['interceptions']:,} "
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
    if args.postgres:
        lines[-4] = ("Budget: 300 ms of server time for the first three pages below. CPU is the gateway process's "
                     "plus PostgreSQL's (its connections' processes, 10 ms ticks), each a median.")
    for label, who, (wall, cpu, db_cpu) in rows:
        ordered = sorted(wall)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        verdict = "yes" if statistics.median(wall) < BUDGET_MS else "**no**"
        lines.append(f"| {label} | {who} | {statistics.median(wall):.0f} | {p90:.0f} | {max(wall):.0f} | "
                     f"{_cpu(cpu, db_cpu)} | {verdict} |")
    lines += ["", f"Whole run: {elapsed_s:.0f} s{counts['seeding']}.", ""]
    return "\n".join(lines)


def _cpu(cpu: list[float], db_cpu: list[float]) -> str:
    if not any(db_cpu):
        return f"{statistics.median(cpu):.0f}"
    return f"{statistics.median(cpu):.0f} + {statistics.median(db_cpu):.0f}"


def store_counts(database: Path | str) -> dict:
    with aibridge.read_database(database) as db:
        counts = {table: db.value(f"SELECT count(*) FROM {table}")
                  for table in ("interceptions", "tool_usages", "tool_results")}
        counts["sessions"] = db.value("SELECT count(DISTINCT coalesce(client_session_id, id)) FROM interceptions")
        if db.is_postgres:
            counts["store"] = "PostgreSQL " + db.value("SHOW server_version").split()[0] + " on this host"
            counts["size_mb"] = round(db.value("SELECT pg_database_size(current_database())") / 1e6)
        else:
            counts["store"] = f"SQLite {sqlite3.sqlite_version}"
            counts["size_mb"] = round(Path(database).stat().st_size / 1e6)
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
    parser.add_argument("--postgres", metavar="ADMIN_URL", default="",
                        help="Measure on a database of this PostgreSQL server (made and filled the first time).")
    parser.add_argument("--fresh", action="store_true", help="Generate the store again even if one is kept.")
    args = parser.parse_args(argv)
    started = time.monotonic()
    postgres_url = postgres_database(args)
    directory = data_dir(args, postgres_url)
    seeded = time.monotonic() - started
    tokens = json.loads((directory / "tokens.json").read_text())
    # Migrates first (the indexes are the release's); retention off, or the oldest generated days would be purged.
    app = create_app(Config(enabled=True, data_dir=directory, postgres_url=postgres_url, retention=dt.timedelta(0)))
    try:
        clients = {"owner": signed_in_client(app, tokens["owner-0"]), "member": signed_in_client(app, tokens["dev-7"])}
        rows, store_cpu = [], postgres_cpu(postgres_url)
        for label, who, path in PAGES:
            path = path or next_page(clients[who])
            rows.append((label, who, measure(clients[who], path, args.rounds, store_cpu)))
            print(f"{label}: median {statistics.median(rows[-1][2][0]):.0f} ms", file=sys.stderr)
        counts = store_counts(postgres_url or directory / "aibridge.db")  # before the shutdown closes the read pool
    finally:
        shutdown_app(app)
    counts["seeding"] = f", of which {seeded:.0f} s generating the store" if seeded > 5 else ""
    text = report(args, rows, time.monotonic() - started, counts)
    print(text)
    if not args.no_write:
        suffix = "-postgres" if postgres_url else ""
        out = BENCH_DIR / "results" / f"{dt.date.today().isoformat()}-dashboard{suffix}.md"
        out.write_text(text)
        print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
