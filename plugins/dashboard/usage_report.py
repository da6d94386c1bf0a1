"""The usage page's figures: tokens per day by model or person, top people and models, cache-read share, CSV rows.

Computed from one pass of the store's usage sums grouped by day, model and
person, so the chart, the tables and the CSV always agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import aibridge

from ..storage import TOKEN_COLUMNS, total_cost
from .charts import OTHER_COLOUR, PALETTE

SERIES = len(PALETTE)  # series drawn; the rest together as "other"
TOP = 10
BY_CHOICES = {"model": "model", "person": "initiator_username"}
METRICS = ("tokens", "usd")  # what the chart stacks: tokens, or what they cost (nano-dollars; unpriced ones left out)
CSV_COLUMNS = ("day", "model", "person", "interceptions", *TOKEN_COLUMNS, "total_tokens", "cost_usd",
               "unpriced_records")


def usage_report(rows: list[dict], by: str, first_day: dt.date | None, last_day: dt.date,
                 metric: str = "tokens") -> dict[str, Any]:
    """Everything the page shows; ``rows`` are usage sums by day, model and user; days from first to last;
    the chart's ``metric``: one of METRICS."""
    key = BY_CHOICES[by]
    value = _total if metric == "tokens" else _priced
    days = _days(first_day or _first_day(rows, last_day), last_day)
    groups = _groups(rows, key)
    ranked = sorted(groups, key=lambda name: -sum(value(row) for row in groups[name]))
    series = [_series(name, PALETTE[index], groups[name], days, value) for index, name in enumerate(ranked[:SERIES])]
    if len(ranked) > SERIES:
        rest = ranked[SERIES:]
        series.append(_series(f"{len(rest)} other", OTHER_COLOUR, [row for name in rest for row in groups[name]], days,
                              value))
    return {
        "days": days,
        "series": series,
        "totals": _figures(rows),
        "top_people": _top(rows, "initiator_username"),
        "top_models": _top(rows, "model"),
    }


def _series(name: str, colour: str, rows: list[dict], days: list[str], value) -> dict[str, Any]:
    """One stack of the chart: its value per day, and what its rows cost (the legend says "unpriced", never $0,
    for a series none of whose token records had a price)."""
    per_day: dict[str, int] = {}
    for row in rows:
        per_day[row["day"]] = per_day.get(row["day"], 0) + value(row)
    return {"name": name, "colour": colour, "values": [per_day.get(day, 0) for day in days], "cost": _cost(rows)}


def csv_rows(rows: list[dict]) -> list[dict[str, Any]]:
    """One CSV row per day, model and person: what the chart and tables sum."""
    return [{"day": row["day"], "model": row["model"], "person": row["initiator_username"],
             "interceptions": row["interceptions"], **{column: row[column] for column in TOKEN_COLUMNS},
             "total_tokens": _total(row), "cost_usd": aibridge.nanos_to_usd(row["cost_usd_nanos"]),
             "unpriced_records": row["unpriced_records"]} for row in rows]


def cache_read_share(figures: dict) -> float | None:
    """Of the prompt tokens (input, cache read, cache write), the share read from the provider's cache."""
    prompt = figures["input_tokens"] + figures["cache_read_input_tokens"] + figures["cache_write_input_tokens"]
    return figures["cache_read_input_tokens"] / prompt if prompt else None


def _groups(rows: list[dict], key: str) -> dict[str, list[dict]]:
    """The rows by model or person (``—`` for none), in the order they first appear."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row[key] or "—", []).append(row)
    return groups


def _top(rows: list[dict], key: str) -> list[dict]:
    groups = _groups(rows, key)
    ranked = sorted(((name, _figures(members)) for name, members in groups.items()),
                    key=lambda item: -item[1]["total_tokens"])
    return [{"name": name, **figures} for name, figures in ranked[:TOP]]


def _figures(rows: list[dict]) -> dict[str, Any]:
    figures = {column: sum(row[column] for row in rows) for column in ("interceptions", *TOKEN_COLUMNS)}
    figures["total_tokens"] = sum(figures[column] for column in TOKEN_COLUMNS)
    figures["cache_read_share"] = cache_read_share(figures)
    figures.update(_cost(rows))
    return figures


def _cost(rows: list[dict]) -> dict[str, Any]:
    """What the rows' tokens cost (docs/cost.md): the priced records' sum, None when none was priced."""
    unpriced = sum(row["unpriced_records"] for row in rows)
    return {"unpriced_records": unpriced,
            "cost_usd_nanos": total_cost((row["cost_usd_nanos"] for row in rows), unpriced)}


def _total(row: dict) -> int:
    return sum(row[column] for column in TOKEN_COLUMNS)


def _priced(row: dict) -> int:
    return row["cost_usd_nanos"] or 0  # an unpriced group adds nothing to the bars; the page counts them apart


def _first_day(rows: list[dict], last_day: dt.date) -> dt.date:
    return min((dt.date.fromisoformat(row["day"]) for row in rows), default=last_day)


def _days(first: dt.date, last: dt.date) -> list[str]:
    count = (last - first).days + 1
    return [(first + dt.timedelta(days=offset)).isoformat() for offset in range(max(count, 1))]
