"""Every interception, newest first, with the sessions page's filters (and status); failures say why."""

from __future__ import annotations

from typing import Any

from ..storage import (
    BadParameter,
    InterceptionFilter,
    UnknownInterception,
    check_initiator,
    child_records,
    count_interceptions,
    interceptions_page,
)
from .listing import listing_page
from .signin import signed_in
from .timeline import request_json
from .web import blueprint

@blueprint.get("/requests")
@signed_in
def requests_list():
    return listing_page("dashboard/requests.html", "Requests", _requests)


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
