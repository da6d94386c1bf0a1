"""Usage: tokens or USD per day stacked by model or person over a chosen range, the top people and models, a CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Response, g, render_template, request

from ..storage import BadParameter, InterceptionFilter, UnknownInitiator, check_initiator, usage_by_group
from .budgets_page import own_budget
from .charts import stacked_bars
from .offhub import read_off_hub
from .page_filters import describe, read_filter
from .signin import signed_in
from .usage_report import BY_CHOICES, CSV_COLUMNS, METRICS, csv_rows, usage_report
from .web import blueprint

DEFAULT_RANGE = {"since": "30d"}


@blueprint.get("/usage")
@signed_in
def usage():
    page, by, rows, error = _read()
    metric = request.args.get("metric") if request.args.get("metric") in METRICS else "tokens"
    report = chart = None
    if rows is not None:
        first, last = _day_range(page.where)
        report = usage_report(rows, by, first, last, metric)
        what = "Tokens" if metric == "tokens" else "USD"
        chart = stacked_bars(report["days"], report["series"], f"{what} per day by {by}", money=metric == "usd")
    html = render_template("dashboard/usage.html", title="Usage", page=page, by=by, metric=metric, report=report,
                           chart=chart, error=error, budget=own_budget())
    return html, 400 if error else 200


@blueprint.get("/usage.csv")
@signed_in
def usage_csv():
    page, by, rows, error = _read()
    if error:
        return Response(error + "\n", status=400, mimetype="text/plain")
    first, last = _day_range(page.where)
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(rows))
    name = f"aibridge-usage-{first or 'start'}-{last}.csv"
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _read():
    """The page's filter, the series it stacks by, the usage rows (None on a bad filter) and the error."""
    page = read_filter(request.args, g.viewer, DEFAULT_RANGE)
    by = request.args.get("by") if request.args.get("by") in BY_CHOICES else "model"
    rows, error = None, page.error
    if page.where is not None:
        try:
            rows = read_off_hub(_usage_rows, page.where)
        except (UnknownInitiator, BadParameter) as problem:
            error = describe(problem)
    return page, by, rows, error


def _usage_rows(conn, where: InterceptionFilter) -> list[dict]:
    check_initiator(conn, where)
    return usage_by_group(conn, where, ("day", "model", "user"))


def _day_range(where: InterceptionFilter) -> tuple[dt.date | None, dt.date]:
    """The first day shown (None: the first with usage) and the last (the bound's day, or today, UTC)."""
    utc = dt.timezone.utc
    first = where.started_after.astimezone(utc).date() if where.started_after else None
    last = (where.started_before.astimezone(utc) - dt.timedelta(microseconds=1)).date() if where.started_before \
        else dt.datetime.now(utc).date()
    return first, last
