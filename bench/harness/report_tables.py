"""Shared pieces of the report's tables: legs and their titles, number formats, one row per measurement."""

from __future__ import annotations

from .stats import ratio

LEGS = ("direct", "aibridge", "baseline", "litellm")
LEG_TITLES = {"direct": "direct", "aibridge": "aibridge", "baseline": "aibridge (baseline)", "litellm": "LiteLLM"}


def leg_title(results: dict, leg: str) -> str:
    """"aibridge 1a2b3c4d" / "aibridge HEAD~1 (5e6f7a8b)" when the commits are known."""
    commit = results.get("commits", {}).get(leg)
    return f"aibridge {commit['label']}" if commit else LEG_TITLES[leg]


def has_baseline(results: dict) -> bool:
    return "baseline" in results.get("legs", {})


def get(results: dict, leg: str, run: str, field: str):
    value = results.get("legs", {}).get(leg, {}).get(run, {})
    return value.get(field) if isinstance(value, dict) else None


def fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "req/s" or unit == "streams/s":
        return f"{value:,.0f}"
    if unit == "MiB":
        return f"{value:,.0f}"
    if unit == "count":
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def mib(value) -> str:
    """A memory size in MiB, or "?" when the process was gone."""
    return "?" if value is None else f"{value:,.0f}"


def fmt_ratio(value) -> str:
    return "—" if value is None else (f"{value:.1f}×" if value >= 10 else f"{value:.2f}×")


def table_head(results: dict, first: str = "measurement") -> list[str]:
    """Header of a table with one column per leg and the ratio columns."""
    titles = [leg_title(results, leg) for leg in LEGS if leg != "baseline" or has_baseline(results)]
    ratios = ["aibridge / direct"] + (["this / baseline"] if has_baseline(results) else []) + ["LiteLLM / aibridge"]
    cells = [first, "unit", *titles, *ratios, "target"]
    return ["| " + " | ".join(cells) + " |", "|---|---|" + "--:|" * (len(titles) + len(ratios)) + "---|"]


def table_row(results: dict, label: str, unit: str, values: dict, target: str = "", direct_ratio: bool = True) -> str:
    cells = [fmt(values.get(leg), unit) for leg in LEGS if leg != "baseline" or has_baseline(results)]
    counts = unit == "count"
    a_d = None if counts or not direct_ratio else ratio(values.get("aibridge"), values.get("direct"))
    a_b = None if counts else ratio(values.get("aibridge"), values.get("baseline"))
    l_a = None if counts else ratio(values.get("litellm"), values.get("aibridge"))
    ratios = [a_d] + ([a_b] if has_baseline(results) else []) + [l_a]
    return f"| {label} | {unit} | {' | '.join(cells)} | {' | '.join(fmt_ratio(r) for r in ratios)} | {target} |"
