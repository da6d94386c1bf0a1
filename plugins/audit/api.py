"""The audit HTTP API: ``/api/v2/ai-gateway/interceptions`` and ``/api/v2/ai-gateway/usage``.

The same routes answer under ``/api/v2/aibridge/`` (the product's former name).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

import aibridge

from ..storage import TIME_KEYS, BadParameter, UnknownInitiator, api_query, build_filter, reading
from .interceptions import list_interceptions
from .usage import parse_group_by, usage_summary

database = aibridge.PluginState("aibridge.audit")  # set at startup: where the records are (a path or a URL)

blueprint = Blueprint("aibridge_audit", __name__)


@blueprint.get("/api/v2/ai-gateway/interceptions")
@blueprint.get("/api/v2/aibridge/interceptions")
def interceptions():
    actor = aibridge.authenticate(request)
    if actor is None:
        return _unauthorized()
    try:
        where, limit = api_query(request.args, actor.id, actor.is_owner)
        with reading(database.get()) as db:
            answer = list_interceptions(db, where, limit, request.args.get("after_id") or None)
    except UnknownInitiator as error:  # the filter came inside q: report q, and say which filter
        return _bad_request(BadParameter("q", str(error)))
    except BadParameter as error:
        return _bad_request(error)
    return jsonify(answer)


@blueprint.get("/api/v2/ai-gateway/usage")
@blueprint.get("/api/v2/aibridge/usage")
def usage():
    actor = aibridge.authenticate(request)
    if actor is None:
        return _unauthorized()
    try:
        group_by = parse_group_by(request.args.get("group_by"))
        values = {key: request.args.get(key) for key in TIME_KEYS}
        where = build_filter(values, actor.id, actor.is_owner)
        with reading(database.get()) as db:
            answer = usage_summary(db, where, group_by)
    except BadParameter as error:
        return _bad_request(error)
    return jsonify(answer)


def _unauthorized():
    return jsonify(message="a valid AI Bridge token is required"), 401


def _bad_request(error: BadParameter):
    return jsonify(error.body()), 400

