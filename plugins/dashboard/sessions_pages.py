"""The sessions list, one session's timeline of threads, and the full text of a long record."""

from __future__ import annotations

from flask import Response, g, redirect, render_template, request, url_for

from ..storage import UnknownSession, child_record
from .listing import listing_page
from .offhub import read_off_hub
from .sessions_data import list_sessions, one_session
from .signin import refused, signed_in
from .timeline import matching_threads
from .web import blueprint

# Records whose text a long timeline entry links to: table -> the column with the text.
FULL_TEXT = {"user_prompts": "prompt", "tool_usages": "input", "tool_results": "content", "model_thoughts": "content"}


@blueprint.get("/")
def home():
    return redirect(url_for("dashboard.sessions"))


@blueprint.get("/sessions")
@signed_in
def sessions():
    return listing_page("dashboard/sessions.html", "Sessions", list_sessions)


@blueprint.get("/sessions/<session_id>")
@signed_in
def session(session_id: str):
    try:
        data = read_off_hub(one_session, session_id, g.viewer.sees())
    except UnknownSession:  # also another person's session, to a member: nothing says it exists
        return refused("There is no such session, or it is not yours to see.", 404)
    search = request.args.get("q", "").strip()
    threads = matching_threads(data["threads"], search) if search else data["threads"]
    return render_template("dashboard/session.html", title="Session", session=data, threads=threads,
                           search=search)


@blueprint.get("/records/<table>/<int:record_id>")
@signed_in
def full_text(table: str, record_id: int):
    """The whole text of a prompt, tool input, tool result or thought that the timeline shows cut."""
    if table not in FULL_TEXT:
        return refused("There is no such record.", 404)
    record = read_off_hub(child_record, table, record_id)
    if record is None or (g.viewer.sees() is not None and record["initiator_id"] != g.viewer.sees()):
        return refused("There is no such record, or it is not yours to see.", 404)
    return Response(record[FULL_TEXT[table]] or "", mimetype="text/plain")
