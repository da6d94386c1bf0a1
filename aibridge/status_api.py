"""``GET /api/v2/aibridge/providers``: each provider instance with its keys (masked), breakers and fallback.

Owners only: it says which keys work, which is nobody else's business.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .resilience.status import provider_status

status_blueprint = Blueprint("provider_status", __name__)


@status_blueprint.get("/api/v2/aibridge/providers")
def providers():
    actor = current_app.extensions["aibridge"].authenticate(request)
    if actor is None:
        return jsonify(message="a valid AI Bridge token is required"), 401
    if not actor.is_owner:
        return jsonify(message="only owners may see the provider status"), 403
    return jsonify(providers=[status.as_dict() for status in provider_status(current_app)])
