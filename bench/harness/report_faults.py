"""The report's faults section: one table per case (a column per aibridge build) and the timelines."""

from __future__ import annotations

from .report_tables import leg_title


def _n(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}" if digits else f"{value:,.0f}"
    return str(value)


def _table(results: dict, builds: list[str], rows: list[tuple[str, list]]) -> list[str]:
    head = "| measurement | " + " | ".join(leg_title(results, b) for b in builds) + " |"
    lines = [head, "|---|" + "--:|" * len(builds)]
    lines += [f"| {label} | " + " | ".join(values) + " |" for label, values in rows]
    return lines


def _case(results: dict, builds: list[str], case: str) -> dict:
    return {b: results["faults"][b].get(case) or {} for b in builds}


def _errors(cases: dict) -> list[str]:
    return [f"- {b}: failed: {c['error']}" for b, c in cases.items() if c.get("error")]


def _records(c: dict, key: str = "records") -> dict:
    return c.get(key) or {}


def _lost(answered, recorded):
    """Answers with no record (never negative: a record without an answer is not a lost one)."""
    if answered is None or recorded is None:
        return None
    return max(answered - recorded, 0)


def _lock(results: dict, builds: list[str]) -> list[str]:
    cases = _case(results, builds, "lock")
    rows = []

    def row(label, pick, digits=0):
        rows.append((label, [_n(_safe(pick, c), digits) for c in cases.values()]))

    row("lock held from / until (s)", lambda c: f"{c['lock']['held_from']} – {c['lock']['held_until']}")
    for span in ("before", "during", "after"):
        row(f"user A answers/s, {span} the lock", lambda c, s=span: c["windows"][s]["user A ok/s"], 1)
    row("user A lowest answers/s in a second of the lock", lambda c: c["windows"]["during"]["user A lowest ok/s"])
    row("user A seconds without an answer during the lock", lambda c: c["windows"]["during"]["user A seconds without an answer"])
    row("user B answers during the lock (starts 1 s in)", lambda c: c["windows"]["during"]["user B ok"])
    row("/healthz p50 before the lock (ms)", lambda c: c["windows"]["before"]["healthz"]["p50_ms"], 1)
    row("/healthz p50 during the lock (ms)", lambda c: c["windows"]["during"]["healthz"]["p50_ms"], 1)
    row("/healthz max during the lock (ms)", lambda c: c["windows"]["during"]["healthz"]["max_ms"], 1)
    row("/healthz probes failed during the lock", lambda c: c["windows"]["during"]["healthz"]["failed"])
    _answers_rows(row)
    row("stopped on SIGTERM", lambda c: c["stopped_on_sigterm"])
    row("seconds to stop", lambda c: c["stop_seconds"], 1)
    out = ["### (a) Another process holds `BEGIN EXCLUSIVE` on the database", "", *_errors(cases), *_table(results, builds, rows), ""]
    for build, c in cases.items():
        if c.get("timeline"):
            out += [f"Per second, {leg_title(results, build)} (lock held in the marked seconds):", "", *_lock_timeline(c), ""]
    return out


def _answers_rows(row) -> None:
    row("requests sent / answered 2xx", lambda c: f"{c['client']['sent']:,} / {c['client']['ok']:,}")
    row("upstream calls made", lambda c: c["upstream_answered"])
    row("interceptions recorded (read after stop)", lambda c: _records(c)["interceptions"])
    row("of which without an end", lambda c: _records(c)["not_ended"])
    row("answers without a record", lambda c: _lost(c["client"]["ok"], _records(c)["interceptions"]))
    row("upstream calls without a record", lambda c: _lost(c["upstream_answered"], _records(c)["interceptions"]))


def _safe(pick, case: dict):
    try:
        return pick(case)
    except (KeyError, TypeError, IndexError):
        return None


def _lock_timeline(c: dict) -> list[str]:
    lanes = c["timeline"]
    a, b = lanes["user A"]["ok_per_second"], lanes["user B"]["ok_per_second"]
    errors = [x + y for x, y in zip(lanes["user A"]["errors_per_second"], lanes["user B"]["errors_per_second"])]
    probes = lanes["healthz"].get("samples", [])
    held_from, held_until = c["lock"]["held_from"] or 0, c["lock"]["held_until"] or 0
    lines = ["| s | lock | user A 2xx | user B 2xx | errors | /healthz max ms |", "|--:|---|--:|--:|--:|--:|"]
    for second in range(min(int(c["seconds"]), len(a))):  # the last, partial second would look like a drop
        inside = [p[1] for p in probes if second <= p[0] < second + 1]
        held = "held" if held_from < second + 1 and second < held_until else ""
        lines.append(f"| {second} | {held} | {a[second]:,} | {b[second]:,} | {errors[second]:,} | {_n(max(inside) if inside else None, 1)} |")
    return lines


def _crash(results: dict, builds: list[str]) -> list[str]:
    cases = _case(results, builds, "crash")
    rows = []

    def row(label, pick, digits=0):
        rows.append((label, [_n(_safe(pick, c), digits) for c in cases.values()]))

    row("killed (kill -9) at (s)", lambda c: c["killed_at"], 1)
    row("long streams open at the kill", lambda c: c["open_streams_at_kill"])
    row("upstream calls made before the kill", lambda c: c["upstream_calls_before_kill"])
    row("interceptions in the database right after the kill", lambda c: c["records_at_kill"]["interceptions"])
    row("… of which without an end", lambda c: c["records_at_kill"]["not_ended"])
    row("upstream calls of the killed process without a record", lambda c: _lost(c["upstream_calls_before_kill"], c["records_final"]["started_before"]))
    row("restart: seconds until /healthz answers", lambda c: c["restart_seconds"], 2)
    row("after restart and SIGTERM: interceptions the killed process started", lambda c: c["records_final"]["started_before"])
    row("… still without an end", lambda c: c["records_final"]["started_before_not_ended"])
    row("… by status", lambda c: _statuses(c["records_final"]["started_before_by_status"]))
    row("all interceptions without an end or status, at the end", lambda c: max(c["records_final"]["not_ended"] or 0, c["records_final"]["no_status"] or 0))
    row("requests sent / answered 2xx (whole run)", lambda c: f"{c['client']['sent']:,} / {c['client']['ok']:,}")
    row("restarted gateway stopped on SIGTERM", lambda c: c["stopped_on_sigterm"])
    return ["### (b) kill -9 under load, then a restart", "", *_errors(cases), *_table(results, builds, rows), ""]


def _statuses(by_status: dict) -> str:
    return ", ".join(f"{k or '(none)'}: {v:,}" for k, v in sorted(by_status.items())) or "—"


def _disk(results: dict, builds: list[str]) -> list[str]:
    cases = _case(results, builds, "disk")
    rows = []

    def row(label, pick, digits=0):
        rows.append((label, [_n(_safe(pick, c), digits) for c in cases.values()]))

    row("tmpfs size (MiB)", lambda c: c["tmpfs_mib"])
    row("free when the load started (KiB)", lambda c: c["free_bytes_at_start"] / 1024)
    row("free after the load (KiB)", lambda c: c["free_bytes_after_load"] / 1024)
    row("requests sent / answered 2xx", lambda c: f"{c['client']['sent']:,} / {c['client']['ok']:,}")
    row("non-2xx / socket errors", lambda c: c["client"]["errors"])
    row("upstream calls made", lambda c: c["upstream_answered"])
    row("stopped on SIGTERM within grace + 15 s", lambda c: c["stopped_on_sigterm"])
    row("… else stopped once space was freed", lambda c: c["stopped_after_freeing_space"])
    row("seconds from SIGTERM to exit", lambda c: c["stop_seconds"], 1)
    row("exit status", lambda c: c["exit_status"])
    row("interceptions recorded (read after stop)", lambda c: c["records_after_stop"]["interceptions"])
    row("answers without a record, after stop", lambda c: _lost(c["client"]["ok"], c["records_after_stop"]["interceptions"]))
    row("interceptions after a restart with space", lambda c: c["records_after_restart"]["interceptions"])
    row("answers without a record, after that restart", lambda c: _lost(c["client"]["ok"], c["records_after_restart"]["interceptions"]))
    out = ["### (c) The data directory's filesystem fills up", "", *_errors(cases), *_table(results, builds, rows), ""]
    for build, c in cases.items():
        if c.get("timeline"):
            out += [f"Answers per second, {leg_title(results, build)}: " + _sparkline(c["timeline"]["blocking"]["ok_per_second"][: int(c["seconds"])]), ""]
    return out


def _sparkline(values: list[int]) -> str:
    return " ".join(f"{v:,}" for v in values)


def _soak(results: dict, builds: list[str]) -> list[str]:
    cases = _case(results, builds, "soak")
    rows = []

    def row(label, pick, digits=0):
        rows.append((label, [_n(_safe(pick, c), digits) for c in cases.values()]))

    row("length (s)", lambda c: c["seconds"])
    row("RSS first sample (MiB)", lambda c: c["rss_first_mib"], 1)
    row("RSS peak (MiB)", lambda c: c["rss_peak_mib"], 1)
    row("RSS last sample (MiB)", lambda c: c["rss_last_mib"], 1)
    row("RSS growth over the second half (MiB/min)", lambda c: c["growth_mib_per_min_second_half"], 2)
    _answers_rows(row)
    out = ["### (d) Memory over minutes of steady load", "", *_errors(cases), *_table(results, builds, rows), ""]
    for build, c in cases.items():
        if c.get("samples"):
            out += [f"RSS samples, {leg_title(results, build)}:", "", "| s | RSS MiB | blocking 2xx/s in the interval |", "|--:|--:|--:|"]
            out += [f"| {x['t']:.0f} | {x['rss_mib']:.1f} | {_n(x['ok_per_s'], 1)} |" for x in c["samples"]]
            out += [""]
    return out


def section(results: dict) -> list[str]:
    if not results.get("faults"):
        return []
    builds = list(results["faults"])
    s = results.get("settings", {}).get("faults", {})
    out = [
        "## Faults",
        "",
        f"Load: {s.get('concurrency', '?')} connections of blocking Anthropic Messages requests (nginx's canned answer) "
        f"through the gateway, plus {s.get('streams', '?')} long streams (slow upstream) in (b) and (d); shutdown grace "
        f"{s.get('shutdown_grace', '?')} s. Each case starts its own gateway with its own data directory. Records are read "
        "from a copy of the recorder's database after the gateway stopped. These tables measure; they do not judge.",
        "",
    ]
    for name, render in (("lock", _lock), ("crash", _crash), ("disk", _disk), ("soak", _soak)):
        if any(name in results["faults"][b] for b in builds):
            out += render(results, builds)
    return out
