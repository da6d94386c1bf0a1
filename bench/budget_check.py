"""What the budget check costs a request: with budgets set against none, at 1 and 50 connections.

Two measurements:

1. **the check itself**, in this process: ``BudgetKeeper.check`` (what
   ``aibridge_refuse_interception`` runs on every intercepted request) with no
   budget at all, and with 1,000 people in 100 groups, a default and their own
   budgets; nanoseconds per call;
2. **end to end**: nginx with the canned answers and one ``aibridge server``
   (SQLite recorder on); wrk sends blocking Messages requests at 1 and 50
   connections, the store having no budgets, then budgets for everyone (the
   bench user's group budget high enough never to refuse, 1,000 other people
   and 100 groups), the two states taking turns round after round, in both
   orders. Reported:
   requests per second, p50 / p99 latency and the server's CPU time per request
   (from /proc/<pid>/task/*/schedstat: the main thread, where the gevent hub
   runs every request and the check, and the other threads, where the recorder
   writes and the budgets refresh runs), medians of the rounds.

    .venv/bin/python bench/budget_check.py                 # about 2 minutes
    .venv/bin/python bench/budget_check.py --seconds 3 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from harness import wrk  # noqa: E402
from harness.aibridge_gateway import Aibridge  # noqa: E402
from harness.nginx import Nginx  # noqa: E402
from harness.procs import Processes  # noqa: E402

import aibridge  # noqa: E402
from aibridge_plugins.budgets.keeper import BudgetKeeper  # noqa: E402
from aibridge_plugins.budgets.store import BudgetStore  # noqa: E402

UserStore = aibridge.UserStore

PEOPLE, GROUPS = 1000, 100
REFRESH_WAIT = 3.0  # seconds: the server's budgets refresh runs every 2 s


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aibridge", default=str(Path(sys.executable).with_name("aibridge")))
    parser.add_argument("--seconds", type=float, default=5, help="wrk duration per measurement (default 5)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, the two states taking turns (default 4)")
    parser.add_argument("--connections", default="1,50", help="wrk connections (default 1,50)")
    parser.add_argument("--write", metavar="PATH", help="also write the markdown tables to PATH")
    return parser.parse_args(argv)


# 1. The check itself


def check_ns(keeper: BudgetKeeper, user_id: str) -> float:
    return _timed(lambda: keeper.check(user_id))


def _timed(function, calls: int = 100_000) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(calls):
            function()
        runs.append((time.perf_counter_ns() - started) / calls)
    return statistics.median(runs)


def micro(work: Path) -> list[tuple[str, float]]:
    database = work / "micro.db"
    users = UserStore(aibridge.open_database(database))
    store = BudgetStore(aibridge.open_database(database))
    try:
        keeper = BudgetKeeper(database, announce=lambda notice: None)
        keeper.refresh()
        ids = _people(users, store)
        rows = [("`check()`, every intercepted request: no budget set", check_ns(keeper, ids[0]))]
        store.set_budget("default", None, 10**12)
        store.set_budget("user", "person-7", 10**12)
        keeper.refresh()
        rows += [(f"{PEOPLE:,} people in {GROUPS} groups: group budget applies", check_ns(keeper, ids[1])),
                 ("the same: the person's own budget applies", check_ns(keeper, ids[7]))]
        usage = aibridge.TokenUsage(interception_id="bench", msg_id="msg", input_tokens=12, output_tokens=21,
                                    cost_usd_nanos=1)  # far below every threshold
        rows.append(("`counted()`, each token record (on_token_usage), budgets set",
                     _timed(lambda: keeper.counted(ids[1], "person-1", "bench", usage))))
        store.set_budget("user", "person-7", 0)
        keeper.refresh()
        rows.append(("the same: over budget (refused)", check_ns(keeper, ids[7])))
        for number in range(500):  # what 2 s at 250 requests/s leave pending (not yet found in the store)
            keeper.counted(ids[number], f"person-{number}", f"interception-{number}", usage)
        rows.append((f"`refresh()`, every 2 s on its own thread: {PEOPLE:,} people, 500 records pending",
                     _timed(keeper.refresh, calls=20)))
        return rows
    finally:
        users.close()
        store.close()


def _people(users: UserStore, store: BudgetStore, bench_user: str | None = None) -> list[str]:
    """PEOPLE users in GROUPS groups, each group with a budget; their ids."""
    ids = []
    for group in range(GROUPS):
        store.create_group(f"group-{group}")
        store.set_budget("group", f"group-{group}", (group + 1) * 10**10)
    for person in range(PEOPLE):
        ids.append(users.create_user(f"person-{person}").id)
        store.add_member(f"group-{person % GROUPS}", f"person-{person}")
    if bench_user:
        store.add_member("group-0", bench_user)
    return ids


# 2. End to end


def cpu_ns(pid: int) -> tuple[int, int]:
    """Nanoseconds on CPU of the server's main thread (the gevent hub: every request) and of its other threads
    (the recorder's writer, the budgets refresh), from /proc/<pid>/task/*/schedstat."""
    hub = others = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            used = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            continue
        if task.name == str(pid):
            hub += used
        else:
            others += used
    return hub, others


def end_to_end(args, work: Path) -> list[dict]:
    procs = Processes(work)
    try:
        nginx = Nginx(procs, work)
        nginx.start()
        gateway = Aibridge(procs, work, "aibridge", args.aibridge, nginx.base + "/v1/", nginx.base + "/")
        gateway.start()
        database = gateway.data_dir / "aibridge.db"
        store = BudgetStore(aibridge.open_database(database))
        users = UserStore(aibridge.open_database(database))
        _people(users, store, bench_user="bench")
        request = gateway.target().messages()
        script = wrk.write_script(work / "messages.lua", request.body, request.headers)
        states = {"no budgets": lambda: _unset_all(store), "budgets set": lambda: _set_all(store)}
        results = {(state, c): [] for state in states for c in _connections(args)}
        for number in range(args.rounds):
            # The store grows as the run goes on: the states take turns in both orders (ABBA...).
            for state, apply in (list(states.items()) if number % 2 == 0 else list(states.items())[::-1]):
                apply()
                time.sleep(REFRESH_WAIT)  # the server reads budgets in the background: let it catch up
                for connections in _connections(args):
                    before = cpu_ns(gateway.pid)
                    result = wrk.run(request.url, script, connections, args.seconds)
                    after = cpu_ns(gateway.pid)
                    if result.errors:
                        raise RuntimeError(f"{state}, c={connections}: {result.errors} errors ({result.non_2xx} non-2xx)")
                    hub, others = ((a - b) / max(1, result.completed) / 1000 for a, b in zip(after, before))
                    results[(state, connections)].append(
                        {"rps": result.ok_rps, "p50": result.p50_ms, "p99": result.p99_ms, "cpu_us": hub + others,
                         "hub_us": hub, "others_us": others})
                    print(f"{state:>11} c={connections:<3} {result.ok_rps:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
                          f"p99 {result.p99_ms:6.2f} ms  {hub + others:7.0f} µs CPU/req ({hub:.0f} hub, "
                          f"{others:.0f} other threads)", flush=True)
        store.close()
        users.close()
        return [{"state": state, "connections": c, **{key: statistics.median(r[key] for r in runs)
                                                        for key in ("rps", "p50", "p99", "cpu_us", "hub_us",
                                                                    "others_us")}}
                for (state, c), runs in results.items()]
    finally:
        procs.stop_all()


def _connections(args) -> list[int]:
    return [int(c) for c in args.connections.split(",")]


def _set_all(store: BudgetStore) -> None:
    store.set_budget("default", None, 10**12)
    for group in range(GROUPS):
        store.set_budget("group", f"group-{group}", (group + 1) * 10**12)


def _unset_all(store: BudgetStore) -> None:
    with store.db.transaction():
        store.db.execute("DELETE FROM budgets")


def tables(micro_rows, e2e_rows) -> str:
    lines = ["| in this process | µs per call |", "|---|--:|"]
    lines += [f"| {case} | {ns / 1000:,.2f} |" for case, ns in micro_rows]
    lines += ["", "| budgets | connections | req/s | p50 ms | p99 ms | server CPU µs/req | of it: hub thread | other "
              "threads |", "|---|--:|--:|--:|--:|--:|--:|--:|"]
    lines += [f"| {r['state']} | {r['connections']} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['cpu_us']:,.0f} | {r['hub_us']:,.0f} | {r['others_us']:,.0f} |"
              for r in sorted(e2e_rows, key=lambda r: (r["connections"], r["state"] != "no budgets"))]
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="aibridge-budget-bench-"))
    started = time.monotonic()
    try:
        micro_rows = micro(work)
        for case, ns in micro_rows:
            print(f"{case}: {ns / 1000:,.2f} µs", flush=True)
        e2e_rows = end_to_end(args, work)
        text = tables(micro_rows, e2e_rows)
        note = (f"{args.rounds} rounds of {args.seconds:g} s per state and concurrency, medians; "
                f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        print(f"\n{text}\n\n({note}; {time.monotonic() - started:.0f} s)")
        if args.write:
            Path(args.write).write_text(f"{text}\n\n({note})\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
