"""Sessions read back: the interceptions that carry one client session id (spec §15), a page at a time.

An interception with no client session id is a session of its own, whose id
is the interception's id. A session is listed when one of its interceptions
matches the filter, in the order of its newest matching interception (newest
first); its figures count every interception of it the viewer may see.

The page is found by walking the matching interceptions newest first (the
start-time indexes) until enough sessions were met, so a page costs about as
many rows as its sessions hold, not a grouping of the whole table.
"""

from __future__ import annotations

from typing import Any

from .interception_filter import InterceptionFilter
from .interceptions import SESSION_KEY, child_records, decoded_row
from .usage import COST_SUMS, TOKEN_COLUMNS, cost_sum

# An interception of one session (:session), or of a list of them (IN {marks}): uses the session index or the key.
_OF_SESSION = "({a}.client_session_id = :session OR ({a}.client_session_id IS NULL AND {a}.id = :session))"
_OF_SESSIONS = "({a}.client_session_id IN ({marks}) OR ({a}.client_session_id IS NULL AND {a}.id IN ({marks})))"
# Newest first; at or after a cursor (started_at, id) in that order.
_NEWEST_FIRST = "ORDER BY i.started_at DESC, i.id DESC"
_BEFORE_CURSOR = "(i.started_at < :cursor_at OR (i.started_at = :cursor_at AND i.id < :cursor_id))"
_NOT_BEFORE_CURSOR = "(i.started_at > :cursor_at OR (i.started_at = :cursor_at AND i.id >= :cursor_id))"
_WALK_CHUNK = 500


class UnknownSession(LookupError):
    """No session with this id has an interception the filter lets through."""


def sessions_page(db, where: InterceptionFilter, limit: int,
                  after_session: str | None = None, chunk: int = _WALK_CHUNK) -> list[str]:
    """The ids of up to ``limit`` sessions with a matching interception, newest first, after ``after_session``.

    ``chunk``: how many interceptions each query of the walk reads.
    """
    condition, params = where.where("i")
    cursor = None
    if after_session is not None:
        cursor = _newest_match(db, condition, params, after_session)
    found: list[str] = []
    met: set[str] = set()
    walked = cursor  # where the walk goes on from: the page's cursor, then the last row of each chunk
    while len(found) < limit:
        rows = _walk_chunk(db, condition, params, walked, chunk)
        for row in rows:
            session = row["session_id"]
            if session in met:
                continue
            met.add(session)
            # A session with a match at or after the cursor was listed on an earlier page.
            if cursor is None or not _matches_since(db, condition, params, session, cursor):
                found.append(session)
                if len(found) == limit:
                    break
        if len(rows) < chunk:
            break
        walked = {"cursor_at": rows[-1]["started_at"], "cursor_id": rows[-1]["id"]}
    return found


def _walk_chunk(db, condition: str, params: dict, before: dict | None, chunk: int) -> list[dict]:
    """The next matching interceptions, newest first, before ``before`` (a (started_at, id) cursor).

    One bounded query per chunk rather than one query read lazily: PostgreSQL's client would fetch
    every matching row at once, and its planner sorts the whole table for an unbounded ORDER BY.
    """
    if before is not None:
        condition, params = f"{condition} AND {_BEFORE_CURSOR}", {**params, **before}
    return db.execute(
        f"SELECT {SESSION_KEY.format(a='i')} AS session_id, i.started_at, i.id FROM interceptions i "
        f"WHERE {condition} {_NEWEST_FIRST} LIMIT {int(chunk)}", params).fetchall()


def count_sessions(db, where: InterceptionFilter) -> int:
    """How many sessions have a matching interception."""
    condition, params = where.where("i")
    # The distinct session ids, and the interceptions without one (each its own). DISTINCT in a subquery rather
    # than count(DISTINCT ...): SQLite reads it off the session index either way, PostgreSQL can then hash it.
    sql = (f"SELECT (SELECT count(*) FROM (SELECT DISTINCT i.client_session_id FROM interceptions i "
           f"WHERE i.client_session_id IS NOT NULL AND {condition}) AS s) "
           f"+ (SELECT count(*) FROM interceptions i WHERE i.client_session_id IS NULL AND {condition}) AS n")
    return db.execute(sql, params).fetchone()["n"]


def session_summaries(db, sessions: list[str],
                      visible_to: str | None = None) -> dict[str, dict[str, Any]]:
    """Figures of each session: requests, failures, times, people, clients, models, tokens, cost, prompts.

    ``visible_to``: count only that person's interceptions (a member's view).
    """
    if not sessions:
        return {}
    of_sessions, params = _of_sessions(sessions, visible_to)
    key = SESSION_KEY.format(a="i")
    summaries: dict[str, dict[str, Any]] = {}
    for row in db.execute(
        f"SELECT {key} AS session_id, count(*) AS requests, "
        "sum(CASE WHEN i.status = 'failed' THEN 1 ELSE 0 END) AS failed, "
        "min(i.started_at) AS started_at, max(coalesce(i.ended_at, i.started_at)) AS last_activity_at "
        f"FROM interceptions i WHERE {of_sessions} GROUP BY {key}", params):
        summaries[row["session_id"]] = {**row, "people": {}, "clients": [], "providers": [], "models": [],
                                        "prompts": 0, "last_prompt": None,
                                        "tokens": dict.fromkeys(TOKEN_COLUMNS, 0),
                                        "cost_usd_nanos": 0, "unpriced_records": 0}
    for row in db.execute(
        f"SELECT DISTINCT {key} AS session_id, i.initiator_id, i.initiator_username, i.client, i.provider_name, "
        f"i.model FROM interceptions i WHERE {of_sessions}", params):
        summary = summaries[row["session_id"]]
        summary["people"][row["initiator_id"]] = row["initiator_username"]
        for field, value in (("clients", row["client"]), ("providers", row["provider_name"]),
                             ("models", row["model"])):
            if value not in summary[field]:
                summary[field].append(value)
    sums = ", ".join(f"coalesce(sum(t.{column}), 0) AS {column}" for column in TOKEN_COLUMNS)
    for row in db.execute(
        f"SELECT {key} AS session_id, {sums}, {COST_SUMS} FROM interceptions i "
        f"JOIN token_usages t ON t.interception_id = i.id WHERE {of_sessions} GROUP BY {key}", params):
        summary = summaries[row.pop("session_id")]
        # What its token records cost (docs/cost.md): the priced ones' sum, None when every one is unpriced.
        summary["unpriced_records"] = row.pop("unpriced_records")
        summary["cost_usd_nanos"] = cost_sum(row.pop("cost_usd_nanos"), summary["unpriced_records"])
        summary["tokens"] = row
    for row in db.execute(
        f"SELECT {key} AS session_id, up.prompt, up.created_at FROM interceptions i "
        f"JOIN user_prompts up ON up.interception_id = i.id WHERE {of_sessions} "
        "ORDER BY up.created_at, up.id", params):
        summary = summaries[row["session_id"]]
        summary["prompts"] += 1
        summary["last_prompt"] = row["prompt"]
    return summaries


def session_interceptions(db, session: str,
                          visible_to: str | None = None) -> tuple[list[dict[str, Any]], dict]:
    """The session's interceptions oldest first, and their child records (as ``child_records`` gives them).

    UnknownSession when the viewer may see none.
    """
    params = {"session": session}
    condition = _OF_SESSION.format(a="i")
    if visible_to is not None:
        condition += " AND i.initiator_id = :visible_to"
        params["visible_to"] = visible_to
    rows = db.execute(f"SELECT i.* FROM interceptions i WHERE {condition} ORDER BY i.started_at, i.id",
                        params).fetchall()
    if not rows:
        raise UnknownSession(session)
    interceptions = [decoded_row(row) for row in rows]
    return interceptions, child_records(db, [row["id"] for row in interceptions])


def _of_sessions(sessions: list[str], visible_to: str | None) -> tuple[str, dict]:
    params = {f"s{number}": session for number, session in enumerate(sessions)}
    condition = _OF_SESSIONS.format(a="i", marks=", ".join(f":{name}" for name in params))
    if visible_to is not None:
        condition += " AND i.initiator_id = :visible_to"
        params["visible_to"] = visible_to
    return condition, params


def _newest_match(db, condition: str, params: dict, session: str) -> dict:
    """(started_at, id) of the session's newest matching interception: where the next page starts."""
    row = db.execute(
        f"SELECT i.started_at, i.id FROM interceptions i WHERE {condition} AND {_OF_SESSION.format(a='i')} "
        f"{_NEWEST_FIRST} LIMIT 1", {**params, "session": session}).fetchone()
    if row is None:
        raise UnknownSession(session)
    return {"cursor_at": row["started_at"], "cursor_id": row["id"]}


def _matches_since(db, condition: str, params: dict, session: str, cursor: dict) -> bool:
    row = db.execute(
        f"SELECT 1 FROM interceptions i WHERE {condition} AND {_OF_SESSION.format(a='i')} "
        f"AND {_NOT_BEFORE_CURSOR} LIMIT 1", {**params, **cursor, "session": session}).fetchone()
    return row is not None
