"""``aibridge spend export`` and ``aibridge prices missing``: what the records cost, and what could not be priced."""

from __future__ import annotations

import datetime as dt
import re

import click

import aibridge

from ..storage import TOKEN_COLUMNS, build_filter, unpriced_models, usage_by_group
from .cli import _checked, _reader
from ..storage import cost_fields, summed_cost

SPEND_CSV_COLUMNS = ("day", "initiator_id", "initiator_username", "model", "interceptions", *TOKEN_COLUMNS,
                     "cost_usd", "cost_usd_nanos", "unpriced_records")
SPEND_COLUMNS = (
    aibridge.Column("DAY", "day"), aibridge.Column("USER", "initiator_username"), aibridge.Column("MODEL", "model"),
    aibridge.Column("INTERCEPTIONS", "interceptions"), aibridge.Column("INPUT", "input_tokens"),
    aibridge.Column("OUTPUT", "output_tokens"), aibridge.Column("CACHE READ", "cache_read_input_tokens"),
    aibridge.Column("CACHE WRITE", "cache_write_input_tokens"), aibridge.Column("COST USD", "cost_usd"),
    aibridge.Column("UNPRICED", "unpriced_records"),
)
MISSING_COLUMNS = (
    aibridge.Column("MODEL", "model"), aibridge.Column("PROVIDER", "provider"), aibridge.Column("RECORDS", "records"),
    aibridge.Column("INPUT", "input_tokens"), aibridge.Column("OUTPUT", "output_tokens"),
    aibridge.Column("FIRST SEEN", lambda m: (m["first_seen"] or "")[:10]),
    aibridge.Column("LAST SEEN", lambda m: (m["last_seen"] or "")[:10]),
    aibridge.Column("PRICED NOW", lambda m: m["priced_now"] or "no"),
)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@click.group("spend")
def spend_group():
    """What the recorded tokens cost (docs/cost.md)."""


@spend_group.command("export")
@click.option("--month", metavar="YYYY-MM", help="The calendar month (UTC) of the interceptions. Default: this month.")
@aibridge.format_option("json: per day, user and model, with totals; jsonl: one row per line; csv: one row each.")
@aibridge.config_options()
def spend_export(month, fmt, **flags):
    """Cost per UTC day, user and model of one month: the sums of the token records, exact to the nano-dollar."""
    first, after = _month_bounds(month)
    where = _checked(lambda: build_filter({"started_after": first.isoformat(), "started_before": after.isoformat()}))
    with _reader(flags) as db:
        rows = [_spend_row(row) for row in usage_by_group(db, where, ("day", "user", "model"))]
    totals = {name: sum(row[name] for row in rows) for name in ("interceptions", *TOKEN_COLUMNS)}
    listing = aibridge.Listing(fmt, SPEND_COLUMNS, csv_columns=SPEND_CSV_COLUMNS)
    listing.add(rows)
    totals = {**totals, **summed_cost(rows)}
    listing.finish({"month": first.strftime("%Y-%m"), "totals": totals},
                   footer={"day": "total", **totals})


@click.command("missing")
@click.option("--all", "everything", is_flag=True, help="Also the models that have a price now (set after recording).")
@aibridge.format_option("jsonl: one model per line; csv: one row each.")
@aibridge.config_options()
def prices_missing(everything, fmt, **flags):
    """Models of token records without a cost (unpriced): set their prices with aibridge prices set."""
    with _reader(flags) as db:
        lookup = aibridge.price_lookup(db)
        found = unpriced_models(db)
    listing = aibridge.Listing(fmt, MISSING_COLUMNS)
    for model in found:
        price = lookup(model["model"], model["provider"])
        model["priced_now"] = f"{price.source}: {price.model}" if price is not None else None
    listing.add(model for model in found if everything or model["priced_now"] is None)
    listing.finish()


def _spend_row(row: dict) -> dict:
    entry = {"day": row["day"], "initiator_id": row["initiator_id"], "initiator_username": row["initiator_username"],
             "model": row["model"], "interceptions": row["interceptions"]}
    entry.update({column: row[column] for column in TOKEN_COLUMNS})
    return {**entry, **cost_fields(row["cost_usd_nanos"], row["unpriced_records"])}


def _month_bounds(month: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of the month and of the next one, in UTC."""
    if month is None:
        now = dt.datetime.now(dt.timezone.utc)
        year, number = now.year, now.month
    else:
        matched = _MONTH.match(month.strip())
        if matched is None or not 1 <= int(matched.group(2)) <= 12:
            aibridge.fail(f"--month: {month!r} is not a month: use YYYY-MM, e.g. 2026-11", status=2)
        year, number = int(matched.group(1)), int(matched.group(2))
    first = dt.datetime(year, number, 1, tzinfo=dt.timezone.utc)
    after = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return first, after
