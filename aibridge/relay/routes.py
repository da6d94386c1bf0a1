"""The provider routes: ``/api/v2/ai-gateway/<provider name>/<api path>`` to the right provider instance.

``/api/v2/aibridge/...`` (the product's former name) serves the same routes.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from ..people.auth import GOVERNANCE_HEADER, AuthError, is_byok
from ..errors import error_response
from .intercept import intercept
from .passthrough import passthrough

relay_blueprint = Blueprint("relay", __name__)

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


# No ``defaults=`` here: werkzeug redirects between rules of one endpoint that share defaults,
# which would send /api/v2/aibridge/<name> and /api/v2/ai-gateway/<name> to each other.
@relay_blueprint.route("/api/v2/ai-gateway/<name>", methods=_METHODS)
@relay_blueprint.route("/api/v2/aibridge/<name>", methods=_METHODS)
def provider_root(name):
    return handle(current_app.extensions["aibridge"], name, "/")


@relay_blueprint.route("/api/v2/ai-gateway/<name>/<path:subpath>", methods=_METHODS)
@relay_blueprint.route("/api/v2/aibridge/<name>/<path:subpath>", methods=_METHODS)
def provider_route(name, subpath):
    return handle(current_app.extensions["aibridge"], name, "/" + subpath)


def handle(gateway, name: str, path: str):
    """Route one request to a provider instance; every refusal is an error in the provider's shape."""
    provider = gateway.providers.get(name)
    shape = provider.error_shape if provider else "openai"
    if not gateway.config.enabled:
        return error_response(
            shape, 404,
            "AI Gateway is disabled on this server: start it with --ai-gateway-enabled "
            "or CODER_AI_GATEWAY_ENABLED=true",
        )
    if provider is None:
        known = ", ".join(sorted(gateway.providers)) or "none"
        return error_response(shape, 404, f"no AI Bridge provider named {name!r} (configured: {known})")
    route = provider.route(request.method, path)
    if route is None:
        return error_response(shape, 404, f"{provider.type} provider {name!r} has no route {request.method} {path}")
    try:
        actor = gateway.authenticate(request)
    except AuthError as refused:
        return error_response(shape, refused.status, refused.message, retry_after=refused.retry_after)
    if actor is None:
        return error_response(shape, 401, "a valid AI Bridge token is required")
    if provider.kind.always_byok and not is_byok(request):
        # The only credential sent authenticated the person: it must not go upstream.
        return error_response(
            shape, 401,
            f"{provider.type} provider {name!r} needs your gateway token in {GOVERNANCE_HEADER} "
            f"and your own {provider.type} token in Authorization",
        )
    byok = provider.kind.always_byok or (gateway.config.allow_byok and is_byok(request))
    if route.intercepted:
        refusal = gateway.refusal(request, actor)
        if refusal is not None and refusal.kind is None:
            return error_response(shape, refusal.status, refusal.message, retry_after=refusal.retry_after)
        # A refusal with a kind is recorded: intercept() records it as a failed interception, sends nothing.
        return intercept(gateway, provider, path, route.api, actor, byok, refusal)
    return passthrough(gateway, provider, path, byok)
