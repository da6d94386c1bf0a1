"""Turn a run's results into the Markdown report (tables with ratios against the targets)."""

from __future__ import annotations

from . import report_bodies, report_faults, report_postgres, report_resilience
from .report_tables import LEGS, get, leg_title, mib, table_head, table_row
from .stats import ratio

__all__ = ["mib", "render"]

# Idle-stream memory targets: 5,000 under 400 MiB (the first goal), 10,000 under 500 MiB (issue 19).
IDLE_TARGETS_MIB = {5000: 400, 10000: 500}


def _rows(results: dict) -> list[tuple[str, str, dict, str]]:
    """(label, unit, {leg: value}, target note) for every line of the main table."""
    rows = []

    def add(label, unit, run, field, target=""):
        rows.append((label, unit, {leg: get(results, leg, run, field) for leg in LEGS}, target))

    add("Blocking chat, c=1: p50 latency", "ms", "chat_c1", "p50_ms")
    add("Blocking chat, c=1: p99 latency", "ms", "chat_c1", "p99_ms")
    direct = {f: get(results, "direct", "chat_c1", f) for f in ("p50_ms", "p99_ms")}
    for field, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
        added = {}
        for leg in LEGS:
            value = get(results, leg, "chat_c1", field)
            added[leg] = None if leg == "direct" or value is None or direct[field] is None else value - direct[field]
        target = "aibridge < 1 ms" if label == "p50" else ""
        rows.append((f"Blocking chat, c=1: added {label} latency vs direct", "ms", added, target))
    add("Blocking chat, c=50: throughput", "req/s", "chat_c50", "ok_rps", "aibridge ≥ 1,000 with recording; ≥ 20× LiteLLM")
    add("Blocking Anthropic messages, c=50: throughput", "req/s", "messages_c50", "ok_rps", "≥ 20× LiteLLM")
    for api, title in (("chat_stream", "Chat stream (40 events)"), ("messages_stream", "Anthropic stream (40 events)")):
        for conc in (1, 50):
            run = f"{api}_c{conc}"
            add(f"{title}, c={conc}: TTFB p50", "ms", run, "ttfb_p50_ms")
            add(f"{title}, c={conc}: TTFB p99", "ms", run, "ttfb_p99_ms")
            add(f"{title}, c={conc}: TTLB p50", "ms", run, "ttlb_p50_ms")
            add(f"{title}, c={conc}: TTLB p99", "ms", run, "ttlb_p99_ms")
        add(f"{title}, c=50: throughput", "streams/s", f"{api}_c50", "streams_per_s")
    cap = results.get("settings", {}).get("idle_cap")
    for count in results.get("settings", {}).get("idle_counts", []):
        run = f"idle_{count}"
        if cap and count > cap:
            add(f"{count:,} idle streams (capped at {cap:,}: descriptor limit): held open", "count", run, "open_during_hold")
        else:
            add(f"{count:,} idle streams: held open", "count", run, "open_during_hold")
        limit = IDLE_TARGETS_MIB.get(count)
        add(f"{count:,} idle streams: errors", "count", run, "errors", f"aibridge: none at {count:,}" if limit else "")
        add(f"{count:,} idle streams: peak RSS", "MiB", run, "rss_peak_mib", f"aibridge < {limit} MiB at {count:,}" if limit else "")
    return rows


def _verdicts(results: dict) -> list[str]:
    """One line per target: met or not, with the number."""
    lines = []
    a_p50 = get(results, "aibridge", "chat_c1", "p50_ms")
    d_p50 = get(results, "direct", "chat_c1", "p50_ms")
    if a_p50 is not None and d_p50 is not None:
        added = a_p50 - d_p50
        lines.append(f"- Added p50 latency at c=1 under 1 ms: **{'met' if added < 1 else 'not met'}** ({added:.2f} ms).")
    rps = get(results, "aibridge", "chat_c50", "ok_rps")
    if rps is not None:
        lines.append(f"- ≥ 1,000 req/s at c=50 with recording on: **{'met' if rps >= 1000 else 'not met'}** ({rps:,.0f} req/s chat).")
    for count, limit in IDLE_TARGETS_MIB.items():
        idle = results.get("legs", {}).get("aibridge", {}).get(f"idle_{count}")
        if not idle:
            continue
        peak, ran = idle["rss_peak_mib"], idle.get("streams", count)
        ok = idle["open_during_hold"] == ran and idle["errors"] == 0 and peak is not None and peak < limit
        capped = f" (only {ran:,} could run under the descriptor limit)" if ran < count else ""
        lines.append(
            f"- {count:,} open streams under {limit} MiB RSS with no errors: **{'met' if ok else 'not met'}**{capped} "
            f"({idle['open_during_hold']:,} held, {idle['errors']} errors, {mib(peak)} MiB)."
        )
    for run, label in (("chat_c50", "chat"), ("messages_c50", "Anthropic messages")):
        times = ratio(get(results, "aibridge", run, "ok_rps"), get(results, "litellm", run, "ok_rps"))
        if times is not None:
            lines.append(f"- ≥ 20× LiteLLM's req/s ({label}, c=50): **{'met' if times >= 20 else 'not met'}** ({times:.1f}×).")
    return lines


def main_table(results: dict) -> str:
    lines = table_head(results)
    for label, unit, values, target in _rows(results):
        if all(v is None for v in values.values()):
            continue
        # "added" rows are already relative to direct; in idle rows "direct" is the slow upstream itself.
        lines.append(table_row(results, label, unit, values, target, direct_ratio="added" not in label and "idle" not in label))
    return "\n".join(lines)


def _errors_table(results: dict) -> str:
    lines = ["| leg | run | sent | ok | errors | in flight at stop | server CPU |", "|---|---|--:|--:|--:|--:|--:|"]
    for leg in LEGS:
        for run, value in results.get("legs", {}).get(leg, {}).items():
            if not isinstance(value, dict) or "sent" not in value:
                continue
            cpu = value.get("server_cpu_pct")
            lines.append(
                f"| {leg_title(results, leg)} | {run} | {value['sent']:,} | {value['ok']:,} | {value['errors']:,} | "
                f"{value.get('in_flight_at_stop', 0):,} | {'—' if cpu is None else f'{cpu:.0f} %'} |"
            )
    return "\n".join(lines)


def _recording(results: dict) -> list[str]:
    lines = []
    for name, check in results.get("recording", {}).items():
        verdict = "nothing lost" if check["nothing_lost"] else "MISMATCH"
        lines.append(
            f"- {name}: {check['recorded']:,} interceptions recorded, {check['upstream_answered']:,} answered upstream, "
            f"{check['client_ok']:,} succeeded at the client (of {check['client_sent']:,} sent), "
            f"{check['not_ended']} without an end, exit status {check['exit_status']}: **{verdict}**."
        )
    return lines


def _idle_details(results: dict) -> list[str]:
    lines = []
    for leg in LEGS:
        for run, value in results.get("legs", {}).get(leg, {}).items():
            if run.startswith("idle_") and isinstance(value, dict):
                kinds = ", ".join(f"{k}: {n}" for k, n in value["error_kinds"].items()) or "none"
                lines.append(
                    f"- {leg_title(results, leg)}, {value['streams']:,} streams: opened in {value['ramp_seconds']} s, "
                    f"{value['open_during_hold']:,} open during the hold, {value['stalled_during_hold']} stalled, "
                    f"{value['completed']:,} ended with [DONE]; RSS {mib(value['rss_before_mib'])} → {mib(value['rss_peak_mib'])} MiB "
                    f"(pid measured: {value.get('rss_of', '?')}); upstream CPU {value.get('upstream_cpu_pct', '?')} %, "
                    f"server CPU {value.get('server_cpu_pct', '?')} %; errors: {kinds}."
                )
    return lines


def _headroom(results: dict) -> list[str]:
    lines = []
    for run, label in (("chat_c50", "wrk + nginx, blocking chat"), ("chat_stream_c50", "stream client + nginx, chat stream")):
        direct = get(results, "direct", run, "ok_rps") or get(results, "direct", run, "streams_per_s")
        gateway = get(results, "aibridge", run, "ok_rps") or get(results, "aibridge", run, "streams_per_s")
        if direct and gateway:
            lines.append(f"- {label}, c=50: {direct:,.0f}/s direct vs {gateway:,.0f}/s through aibridge ({direct / gateway:.1f}× headroom).")
    for leg in LEGS:
        for run, value in results.get("legs", {}).get(leg, {}).items():
            if isinstance(value, dict) and "client_cpu_pct" in value and run.endswith("_c50"):
                lines.append(f"- {leg_title(results, leg)} {run}: stream client used {value['client_cpu_pct']:.0f} % of one core.")
    return lines


def _has_main(results: dict) -> bool:
    return any(run in leg for leg in results.get("legs", {}).values() for run in ("chat_c1", "idle_1000", "chat_stream_c1"))


def _commits(results: dict) -> list[str]:
    commits = results.get("commits", {})
    if not commits:
        return []
    lines = [f"- {leg_title(results, leg)}: `{c['sha'][:12]}` {c['subject']}" + (" (with uncommitted changes)" if c.get("dirty") else "")
             for leg, c in commits.items()]
    return ["Commits measured:", "", *lines, ""]


def _error_warnings(results: dict) -> list[str]:
    """A fast error is not a fast answer: name every measured run that had failed requests."""
    bad = []
    for leg in LEGS:
        for run, value in results.get("legs", {}).get(leg, {}).items():
            if isinstance(value, dict) and value.get("errors"):
                bad.append(f"{leg_title(results, leg)} {run}: {value['errors']:,} of {value.get('sent', 0):,}")
    if not bad:
        return ["Errors: none in any run of any leg (non-2xx answers and socket errors are counted as errors).", ""]
    return [f"**Errors** (non-2xx answers or socket errors; throughput counts only 2xx): {'; '.join(bad)}.", ""]


def _run_lengths(results: dict) -> str:
    s = results["settings"]
    if results.get("scenarios") == ["resilience"]:
        return f"{results['resilience']['settings']['seconds']:g} s per wrk run" if "resilience" in results else "not run"
    return f"{s['seconds']} s per wrk run, {s['stream_seconds']} s per stream run"


def render(results: dict) -> str:
    """The whole Markdown report."""
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    s = results["settings"]
    out = [
        f"# aibridge benchmark, {results['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, {m['os']}, kernel {m['kernel']}.  ",
        f"Versions: {versions}.  ",
        f"Run: scenarios {', '.join(results.get('scenarios', ['main']))}; {_run_lengths(results)}; load generator, fake upstream and gateway on the same machine, all traffic on 127.0.0.1. "
        f"Took {results.get('elapsed_seconds', 0):.0f} s.",
        "",
    ]
    if results.get("preliminary"):
        out += [f"**Preliminary:** {results['preliminary']}", ""]
    for failure in results.get("failures", []):
        out += [f"**Failed:** {failure}", ""]
    out += _commits(results)
    if results.get("legs"):
        out += _error_warnings(results)
        out += [
        "aibridge: one `aibridge server` process (one gevent worker), SQLite recorder on: every request is recorded. "
        "LiteLLM: one worker, master key only and no database, so it records nothing (no spend logs). "
        "Ratios: aibridge / direct (the cost of the gateway), this / baseline (this commit against the earlier one, "
        "when measured) and LiteLLM / aibridge (above 1× for latency, below 1× for throughput means aibridge does better).",
        "",
        ]
    if _has_main(results):
        out += [main_table(results), ""]
    out += report_bodies.section(results)
    if results.get("legs"):
        out += [
            "## Targets",
            "",
            *(_verdicts(results) + report_bodies.verdicts(results) or ["- (aibridge was not measured in this run)"]),
            "",
            "## Nothing lost",
            "",
            *(_recording(results) or ["- (no gateway recording in this run)"]),
            "",
        ]
    if _has_main(results):
        out += [
            "## Idle streams",
            "",
            *(_idle_details(results) or ["- (not run)"]),
            "",
            "## Load generator headroom",
            "",
            *_headroom(results),
            "",
        ]
    if results.get("legs"):
        out += [
            "## Every run",
            "",
            _errors_table(results),
            "",
        ]
    out += report_bodies.profiles(results)
    out += report_faults.section(results)
    out += report_postgres.section(results)
    out += report_resilience.section(results)
    if results.get("notes"):
        out += ["## Notes", "", *[f"- {n}" for n in results["notes"]], ""]
    return "\n".join(out)
