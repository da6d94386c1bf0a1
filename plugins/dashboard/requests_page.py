"""Every interception, newest first, with the sessions page's filters (and status); failures say why."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request

from ..storage import (
    BadParameter,
    InterceptionFilter,
    UnknownInitiator,
    UnknownInterception,
    check_initiator,
    child_records,
    count_interceptions,
    interceptions_page,
)
from .offhub import read_off_hub
from .page_filters import describe, read_filter
from .signin import signed_in
from .timeline import request_json
from .web import blueprint

PAGE_SIZE = 50


@blueprint.get("/requests")
@signed_in
def requests_list():
    page = read_filter(request.args, g.viewer)
    after = request.args.get("after") or None
    data, error = None, page.error
    if page.where is not None:
        try:
            data = read_off_hub(_requests, page.where, PAGE_SIZE, after)
        except (UnknownInitiator, BadParameter) as problem:
            error = describe(problem)
    html = render_template("dashboard/requests.html", title="Requests", page=page, data=data, error=error,
                           after=after)
    return html, 400 if error else 200


def _requests(conn, where: InterceptionFilter, limit: int, after: str | None) -> dict[str, Any]:
    check_initiator(conn, where)
    try:
        rows = interceptions_page(conn, where, limit + 1, after)
    except UnknownInterception:
        raise BadParameter("after", f"no request {after!r} matches these filters") from None
    more = len(rows) > limit
    rows = rows[:limit]
    children = child_records(conn, [row["id"] for row in rows])
    results = []
    for row in rows:
        entry = request_json(row, children)
        entry["session_id"] = row["client_session_id"] or row["id"]
        results.append(entry)
    return {"count": count_interceptions(conn, where), "results": results,
            "next_after": rows[-1]["id"] if more else None}
