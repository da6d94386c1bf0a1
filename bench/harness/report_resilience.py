"""The report's resilience section: the circuit breaker and a 5-key pool against the plain gateway, in turns."""

from __future__ import annotations

from .resilience_runs import second_title, summarise, verdict_lines

LABELS = {
    "p50_ms": "p50 latency",
    "p99_ms": "p99 latency",
    "added_p50_ms": "added p50 latency vs direct",
    "ok_rps": "throughput",
    "cpu_ms_per_request": "server CPU per request",
}
TITLES = {"chat": "Blocking chat", "messages": "Blocking Anthropic messages"}


def _n(value, unit: str) -> str:
    return f"{value:,.0f}" if unit == "req/s" else f"{value:.3f}"


def _signed(value, unit: str) -> str:
    return f"{value:+,.0f}" if unit == "req/s" else f"{value:+.3f}"


def _load(values) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def _title(res: dict, name: str) -> str:
    """The second gateway of a control run has the plain settings: say so wherever it is named."""
    return "control (plain settings)" if name == "resilient" and res.get("settings", {}).get("control") else name


def _config(res: dict) -> list[str]:
    lines = []
    for name, config in res.get("config", {}).items():
        keys = ", ".join(f"{p['NAME']} {p['keys']} key{'s' if p['keys'] > 1 else ''}" for p in config["providers"])
        env = ", ".join(f"`{k}={v}`" for k, v in config["env"].items())
        lines.append(f"- {_title(res, name)}: {keys}; {env}.")
    return lines


def _keys(res: dict) -> list[str]:
    lines = []
    for name, counts in res.get("keys", {}).items():
        if counts:
            spread = ", ".join(f"`{key}` {n:,}" for key, n in sorted(counts.items()))
            lines.append(f"- {_title(res, name)}: calls per upstream key (nginx's log): {spread}.")
    for name, instances in res.get("provider_status", {}).items():
        parts = []
        for p in instances:
            if "error" in p:
                parts.append(p["error"])
                continue
            breakers = ", ".join(f"{b['endpoint']} {b['model']} {b['state']}" for b in p["breakers"]) or "none"
            parts.append(f"{p['name']}: keys {', '.join(p['keys'])}; breakers {breakers}")
        lines.append(f"- {_title(res, name)}, `GET /api/v2/aibridge/providers` after the runs: {'; '.join(parts)}.")
    return lines


def _recording(res: dict) -> list[str]:
    lines = []
    for name, check in res.get("recording", {}).items():
        others = ", ".join(f"{n:,} {status}" for status, n in check["by_status"].items() if status != "completed")
        lines.append(f"- {_title(res, name)}: {check['recorded']:,} interceptions recorded ({check['by_status'].get('completed', 0):,} completed"
                     f"{', ' + others if others else ''}), {check['upstream_answered']:,} answered "
                     f"upstream, {check['client_ok']:,} succeeded at the client (of {check['client_sent']:,} sent, "
                     f"warm-ups included), {check['not_ended']} without an end, exit status {check['exit_status']}: "
                     f"**{'nothing lost' if check['nothing_lost'] else 'MISMATCH'}**.")
    return lines


def _errors(res: dict) -> list[str]:
    bad = [f"round {i + 1} {kind} {name}: {run['errors']:,} of {run['sent']:,}"
           for i, round_ in enumerate(res.get("rounds", [])) for kind, runs in round_.items() if kind != "order"
           for name, run in runs.items() if run.get("errors")]
    if not bad:
        return ["Errors: none in any run (non-2xx answers and socket errors are counted as errors)."]
    return [f"**Errors** (throughput counts only 2xx): {'; '.join(bad)}."]


def _verdict(row: dict) -> str:
    verdict = row.get("verdict") or ("within noise" if row["within_noise"] else "beyond noise")
    return verdict if verdict == "within noise" else f"**{verdict}**"


def section(results: dict) -> list[str]:
    res = results.get("resilience")
    if not res:
        return []
    s = res["settings"]
    load = res["load_average"]
    summary = summarise(res.get("rounds", []))  # from the rounds, so --render applies today's rules
    lines = [
        "## Resilience: circuit breaker and key pool",
        "",
        *([f"**Control run:** both gateways have the plain settings; the differences below are the noise of "
           f"two identical gateways measured this way.", ""] if s.get("control") else []),
        f"Two `aibridge server` processes of this commit against the same nginx, recording on, measured in turns: "
        f"{s['rounds']} rounds; in each, for each kind of request, direct nginx (c=1 only), then both gateways back to "
        f"back (the first alternates by round), {s['seconds']:g} s per wrk run after a {s['warmup_seconds']:g} s "
        f"warm-up of each route. \"Added\" is a gateway's p50 minus the same round's direct p50. A difference is "
        f"within noise when the median of the per-round differences is no larger than the plain gateway's own spread "
        f"over the rounds (max - min). Server CPU per request: the gateway's CPU time over the run (every thread) "
        f"divided by the answers; waiting for a core on a busy machine moves it less than latency.",
        "",
        *_config(res),
        "",
        f"Load average (1 / 5 / 15 min; {results['machine']['cores']} cores, shared with other work): "
        f"{_load(load['start'])} at the start, {_load(load['end'])} at the end"
        + (f", after each round {'; '.join(_load(v) for v in load.get('after_rounds', []))}" if load.get("after_rounds") else "")
        + ".",
        "",
        f"| measurement | unit | plain (median) | {second_title(res)} (median) | difference (median) | per-round differences | plain spread | |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    for row in summary:
        api, conc = row["kind"].rsplit("_c", 1)
        unit = row["unit"]
        lines.append(
            f"| {TITLES[api]}, c={conc}: {LABELS[row['measure']]} | {unit} | {_n(row['plain_median'], unit)} | "
            f"{_n(row['resilient_median'], unit)} | {_signed(row['diff_median'], unit)} | "
            f"{_signed(row['diff_min'], unit)} to {_signed(row['diff_max'], unit)} | {_n(row['plain_spread'], unit)} | "
            f"{_verdict(row)} |")
    lines += ["", *[f"- {line}." for line in verdict_lines(summary, second_title(res))], "",
              "Every round (p50 ms at c=1, req/s at c=50):", "",
              "| round | order | " + " | ".join(f"{k} {n}" for k in ("chat_c1", "messages_c1") for n in ("direct", "plain", "resilient"))
              + " | " + " | ".join(f"{k} {n}" for k in ("chat_c50", "messages_c50") for n in ("plain", "resilient")) + " |",
              "|--:|---|" + "--:|" * 10]
    for i, round_ in enumerate(res.get("rounds", [])):
        c1 = [f"{round_[k][n]['p50_ms']:.3f}" for k in ("chat_c1", "messages_c1") for n in ("direct", "plain", "resilient")]
        c50 = [f"{round_[k][n]['ok_rps']:,.0f}" for k in ("chat_c50", "messages_c50") for n in ("plain", "resilient")]
        lines.append(f"| {i + 1} | {' then '.join(round_['order'])} | {' | '.join(c1)} | {' | '.join(c50)} |")
    lines += ["", *_errors(res), "", "The keys and breakers in use:", "", *_keys(res), "",
              "Recording (nothing lost: client successes ≤ completed records ≤ upstream answers ≤ records ≤ requests "
              "sent, every record ended; a request wrk cut at the end of a run may be recorded as "
              "`client_disconnected` without an upstream answer):", "", *_recording(res), ""]
    return lines
