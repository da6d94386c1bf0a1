"""The report's PostgreSQL section: recording into PostgreSQL against SQLite, two instances, the database cut off."""

from __future__ import annotations


def _n(value) -> str:
    return "—" if value is None else f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)


def section(results: dict) -> list[str]:
    pg = results.get("postgres")
    if not pg:
        return []
    c50, two, outage = pg["c50"], pg["two_instances"], pg["outage"]
    ratio = c50.get("postgres_vs_sqlite")
    lines = [
        "## PostgreSQL",
        "",
        "Blocking chat at c=50, one `aibridge server`, recording every request:",
        "",
        "| store | req/s | p50 ms | p99 ms | recorded | upstream answered |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for store in ("sqlite", "postgres"):
        run = c50[store]
        lines.append(f"| {store} | {_n(run.get('ok_rps'))} | {run.get('p50_ms', '—')} | {run.get('p99_ms', '—')} | "
                     f"{_n(run.get('recorded'))} | {_n(run.get('upstream_answered'))} |")
    verdict = "met" if ratio is not None and ratio >= 0.9 else "missed"
    lines += [
        "",
        f"- PostgreSQL at {ratio:.0%} of SQLite: target (90 % or more) {verdict}." if ratio is not None
        else "- PostgreSQL against SQLite: not measured.",
        f"- Two instances on one database (c=25 each): {_n(two['ok_rps'])} req/s together; recorded "
        f"{_n(two['recorded'])} of {_n(two['upstream_answered'])} answered, {_n(two['not_ended'])} without an end: "
        f"{'nothing lost' if two['nothing_lost'] else 'MISMATCH'}.",
        f"- PostgreSQL cut off for {outage['outage_seconds']:g} s under load (10 connections): "
        f"{_n(outage['rps_before'])} req/s before, {_n(outage['rps_during'])} during "
        f"({outage['zero_seconds_during']} seconds without an answer), {_n(outage['rps_after'])} after; "
        f"/readyz answered 503 {outage['readyz_503_during']} times meanwhile, /healthz p50 "
        f"{outage['healthz_during']['p50_ms']} ms; recorded {_n(outage['recorded'])} of "
        f"{_n(outage['upstream_answered'])} answered: {'nothing lost' if outage['nothing_lost'] else 'MISMATCH'} "
        f"(the backlog was written {outage.get('catch_up_seconds_after_load')} s after the load ended).",
        "",
    ]
    return lines
