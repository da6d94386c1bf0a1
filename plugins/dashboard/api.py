"""The sessions API: ``GET /api/v2/ai-gateway/sessions`` and ``/sessions/<id>`` (also under ``/api/v2/aibridge/``).

Gateway tokens as the audit API takes them, and its rules: an owner sees
everyone's sessions, a member only their own interceptions; ``q`` takes the
audit API's filters (plus ``text:``), ``limit`` and ``after_id`` page through.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

import aibridge

from ..storage import BadParameter, UnknownInitiator, UnknownSession, api_query
from .offhub import read_off_hub
from .sessions_data import list_sessions, one_session

api_blueprint = Blueprint("dashboard_api", __name__)


@api_blueprint.get("/api/v2/ai-gateway/sessions")
@api_blueprint.get("/api/v2/aibridge/sessions")
def sessions():
    actor = aibridge.authenticate(request)
    if actor is None:
        return _unauthorized()
    try:
        where, limit = api_query(request.args, actor.id, actor.is_owner)
        answer = read_off_hub(list_sessions, where, limit, request.args.get("after_id") or None)
    except UnknownInitiator as error:  # it came inside q
        return jsonify(BadParameter("q", str(error)).body()), 400
    except BadParameter as error:
        return jsonify(error.body()), 400
    return jsonify(answer)


@api_blueprint.get("/api/v2/ai-gateway/sessions/<session_id>")
@api_blueprint.get("/api/v2/aibridge/sessions/<session_id>")
def session(session_id: str):
    actor = aibridge.authenticate(request)
    if actor is None:
        return _unauthorized()
    try:
        answer = read_off_hub(one_session, session_id, None if actor.is_owner else actor.id)
    except UnknownSession:  # also another person's session, to a member: nothing says it exists
        return jsonify(message=f"no session {session_id!r}"), 404
    return jsonify(answer)


def _unauthorized():
    return jsonify(message="a valid AI Bridge token is required"), 401
