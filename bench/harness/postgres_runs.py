"""The postgres scenario: aibridge recording into PostgreSQL, against SQLite in the same run.

Three parts, each with gateways of its own and a PostgreSQL database of its
own (made from ``--postgres``, dropped afterwards):

- blocking chat at c=50 with SQLite, then with PostgreSQL: requests a second
  and the ratio (the target is PostgreSQL at 90 % of SQLite or better);
- two instances on one database, loaded at the same time (c=25 each): every
  answered request recorded once;
- the database cut off under load (a TCP forwarder between the gateway and
  PostgreSQL resets every connection and refuses new ones; the shared server
  itself is never stopped): answers a second before, during and after, and
  every answered request recorded once PostgreSQL is back.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from . import scenarios, wrk
from .aibridge_gateway import Aibridge
from .faults import windows
from .faults.load import Load, blocking, probe, totals
from .nginx import Nginx
from .procs import http_status

REPO = Path(__file__).resolve().parent.parent.parent
TCP_PROXY = REPO / "tests" / "support" / "tcp_proxy.py"


@contextlib.contextmanager
def new_database(admin_url: str):
    """A new PostgreSQL database for one part of the scenario; its URL. Dropped afterwards."""
    import psycopg

    name = f"aibridge_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path="/" + name))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(ctx, executable: str, admin_url: str, outage_seconds: float) -> dict:
    out = {}
    out["c50"] = _against_sqlite(ctx, executable, admin_url)
    out["two_instances"] = _two_instances(ctx, executable, admin_url)
    out["outage"] = _outage(ctx, executable, admin_url, outage_seconds)
    return out


def _gateway(ctx, name: str, executable: str, url: str | None, **env) -> Aibridge:
    settings = {"CODER_PG_CONNECTION_URL": url} if url else {}
    return Aibridge(ctx.procs, ctx.work, name, executable, f"{ctx.nginx.base}/v1", ctx.nginx.base,
                    env={**settings, **env}, database_url=url)


def _chat_c50(ctx, gateway: Aibridge, connections: int = 50) -> dict:
    chat = gateway.target().chat()
    script = wrk.write_script(ctx.work / f"{gateway.name}-chat.lua", chat.body, chat.headers)
    scenarios.wrk_run(chat, script, 10, ctx.settings.warmup_seconds, gateway.pid)
    return scenarios.wrk_run(chat, script, connections, ctx.settings.seconds, gateway.pid)


def _against_sqlite(ctx, executable: str, admin_url: str) -> dict:
    out = {}
    with new_database(admin_url) as url:
        for store, database in (("sqlite", None), ("postgres", url)):
            gateway = _gateway(ctx, f"pg-scenario-{store}", executable, database)
            gateway.start()
            mark = ctx.nginx.log_mark()
            run = _chat_c50(ctx, gateway)
            exit_status = gateway.stop()
            recorded = gateway.recorded()
            out[store] = {**run, "exit_status": exit_status, "recorded": recorded["interceptions"],
                          "upstream_answered": Nginx.answered(ctx.nginx.calls_since(mark))}
            ctx.log(f"  chat c=50 recording into {store}: {run['ok_rps']:,.0f} req/s")
    sqlite_rps = out["sqlite"]["ok_rps"]
    out["postgres_vs_sqlite"] = round(out["postgres"]["ok_rps"] / sqlite_rps, 3) if sqlite_rps else None
    ctx.log(f"  PostgreSQL at {out['postgres_vs_sqlite']:.0%} of SQLite (target: 90 % or more)")
    return out


def _two_instances(ctx, executable: str, admin_url: str) -> dict:
    with new_database(admin_url) as url:
        first = _gateway(ctx, "pg-scenario-a", executable, url)
        second = _gateway(ctx, "pg-scenario-b", executable, url)
        first.start()
        second.token = first.token  # one database: a token made once works on both
        second.launch()
        mark = ctx.nginx.log_mark()
        runs = {}
        loads = [threading.Thread(target=lambda g=g: runs.__setitem__(g.name, _chat_c50(ctx, g, 25)))
                 for g in (first, second)]
        for load in loads:
            load.start()
        for load in loads:
            load.join()
        exits = [first.stop(), second.stop()]
        answered = Nginx.answered(ctx.nginx.calls_since(mark))
        recorded = first.recorded()
    ok = sum(run["ok"] for run in runs.values())
    out = {"runs": runs, "ok_rps": round(sum(run["ok_rps"] for run in runs.values()), 1), "exit_statuses": exits,
           "upstream_answered": answered, "recorded": recorded["interceptions"], "not_ended": recorded["not_ended"],
           "nothing_lost": exits == [0, 0] and recorded["interceptions"] == answered >= ok
           and recorded["not_ended"] == 0}
    ctx.log(f"  two instances on one database: {out['ok_rps']:,.0f} req/s together, recorded "
            f"{out['recorded']:,} of {answered:,} answered: {'nothing lost' if out['nothing_lost'] else 'MISMATCH'}")
    return out


def _outage(ctx, executable: str, admin_url: str, outage_seconds: float) -> dict:
    calm = 4 if ctx.args.quick else 10
    seconds = 2 * calm + outage_seconds
    with new_database(admin_url) as url:
        target = urlsplit(url)
        proxy = subprocess.Popen([sys.executable, str(TCP_PROXY), f"{target.hostname}:{target.port or 5432}"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            port = int(proxy.stdout.readline())
            through = urlunsplit(target._replace(netloc=f"{target.username}@127.0.0.1:{port}"))
            gateway = _gateway(ctx, "pg-scenario-outage", executable, through, CODER_SHUTDOWN_GRACE="5s")
            gateway.start()
            mark = ctx.nginx.log_mark()
            load = Load(ctx.work, gateway.name, gateway.port, seconds, [
                blocking("blocking", gateway.target().messages(), 10), probe("readyz", "/readyz"), probe()]).start()
            load.sleep_until(calm)
            _tell(proxy, "cut")
            load.sleep_until(calm + outage_seconds)
            _tell(proxy, "restore")
            result = load.result()
            catch_up_seconds = _wait_for_empty_backlog(gateway)
            exit_status = gateway.stop()
            answered = Nginx.answered(ctx.nginx.calls_since(mark))
            gateway.database_url = url  # counted straight from the database
            recorded = gateway.recorded()
        finally:
            proxy.stdin.close()
            proxy.wait(10)
    per_second = result["lanes"]["blocking"]["ok_per_second"]
    readyz = result["lanes"]["readyz"]["samples"]
    out = {
        "outage_seconds": outage_seconds,
        "client": totals(result),
        "rps_before": windows.rate(per_second, 0, calm),
        "rps_during": windows.rate(per_second, calm, calm + outage_seconds),
        "rps_after": windows.rate(per_second, calm + outage_seconds, seconds),
        "zero_seconds_during": windows.zero_seconds(per_second, calm, calm + outage_seconds),
        "readyz_503_during": sum(1 for sample in readyz if calm <= sample[0] < calm + outage_seconds
                                 and sample[2] == 503),
        "healthz_during": windows.probe(result["lanes"]["healthz"]["samples"], calm, calm + outage_seconds),
        "catch_up_seconds_after_load": catch_up_seconds,
        "exit_status": exit_status,
        "upstream_answered": answered,
        "recorded": recorded["interceptions"],
        "not_ended": recorded["not_ended"],
    }
    out["nothing_lost"] = exit_status == 0 and recorded["interceptions"] == answered and recorded["not_ended"] == 0
    ctx.log(f"  PostgreSQL cut off for {outage_seconds:g}s under load: {out['rps_before']} -> {out['rps_during']} -> "
            f"{out['rps_after']} req/s, /readyz 503 {out['readyz_503_during']} times; recorded {out['recorded']:,} of "
            f"{answered:,} answered: {'nothing lost' if out['nothing_lost'] else 'MISMATCH'}; backlog written "
            f"{out['catch_up_seconds_after_load']} s after the load ended")
    return out


def _wait_for_empty_backlog(gateway: Aibridge, timeout: float = 300) -> float | None:
    """Seconds until /readyz says nothing waits for the database any more (None: not within ``timeout``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status, body = http_status(gateway.port, "/readyz")
        backlog = json.loads(body)["checks"]["recorder"]["backlog"] if body else None
        if status == 200 and backlog and backlog["memory"] + backlog["spool"] == 0:
            return round(time.monotonic() - started, 1)
        time.sleep(0.2)
    return None


def _tell(proxy: subprocess.Popen, command: str) -> None:
    proxy.stdin.write(command + "\n")
    proxy.stdin.flush()
    proxy.stdout.readline()
