"""Sessions as the API answers them and the pages show them: a page of the list, and one session's threads."""

from __future__ import annotations

from typing import Any

from ..storage import (
    BadParameter,
    InterceptionFilter,
    UnknownSession,
    check_initiator,
    count_sessions,
    session_interceptions,
    session_summaries,
    sessions_page,
)
from ..storage import cost_fields
from .timeline import build_threads, duration_ms


def list_sessions(conn, where: InterceptionFilter, limit: int, after_id: str | None = None) -> dict[str, Any]:
    """``{"count", "results", "next_after_id"}``: sessions with a matching interception, latest activity first."""
    check_initiator(conn, where)
    try:
        ids = sessions_page(conn, where, limit + 1, after_id)
    except UnknownSession:
        raise BadParameter("after_id", f"no session {after_id!r} matches these filters") from None
    more = len(ids) > limit
    ids = ids[:limit]
    summaries = session_summaries(conn, ids, where.visible_to)
    return {"count": count_sessions(conn, where), "results": [summary_json(sid, summaries[sid]) for sid in ids],
            "next_after_id": ids[-1] if more else None}


def one_session(conn, session_id: str, visible_to: str | None = None) -> dict[str, Any]:
    """The session's figures and its threads; UnknownSession when the viewer may see none of it."""
    interceptions, children = session_interceptions(conn, session_id, visible_to)
    summary = session_summaries(conn, [session_id], visible_to)[session_id]
    threads = build_threads(interceptions, children)
    return {**summary_json(session_id, summary), "thread_count": len(threads), "threads": threads}


def summary_json(session_id: str, summary: dict) -> dict[str, Any]:
    people = sorted(({"id": person_id, "username": username} for person_id, username in summary["people"].items()),
                    key=lambda person: (person["username"] or "", person["id"]))
    return {
        "id": session_id,
        "initiator": people[0] if people else None,
        "people": people,
        "clients": summary["clients"],
        "providers": summary["providers"],
        "models": summary["models"],
        "last_prompt": summary["last_prompt"],
        "thread_count": max(summary["prompts"], 1),  # each typed prompt starts one
        "requests": summary["requests"],
        "failed": summary["failed"],
        "token_usage": summary["tokens"],
        **cost_fields(summary["cost_usd_nanos"], summary["unpriced_records"]),
        "started_at": summary["started_at"],
        "last_activity_at": summary["last_activity_at"],
        "duration_ms": duration_ms(summary["started_at"], summary["last_activity_at"]),
    }
