"""The bridge routes: ``/api/v2/aibridge/<provider name>/<api path>`` to the right provider instance."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from .auth import GOVERNANCE_HEADER, TokenStoreAuth, is_byok
from .errors import error_response
from .intercept import upstream
from .intercept.handler import intercept
from .intercept.passthrough import passthrough
from .plugins import notify
from .providers import build_provider

bridge_blueprint = Blueprint("bridge", __name__)

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Bridge:
    """Per-app state: configuration, plugins, provider instances, the upstream pool."""

    def __init__(self, config, pm):
        self.config = config
        self.pm = pm
        self.providers = {p.name: build_provider(p) for p in config.providers}
        self.http = upstream.make_session()
        if not pm.is_blocked("token-store"):
            pm.register(TokenStoreAuth(config.database_path), name="token-store")
        self._shut_down = False

    def authenticate(self, req):
        return self.pm.hook.aibridge_authenticate(request=req)

    def notify(self, hook_name: str, **kwargs) -> None:
        notify(self.pm, hook_name, **kwargs)

    def shutdown(self, app) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self.pm.hook.aibridge_shutdown(app=app)
        self.http.close()

    def handle(self, name: str, path: str):
        """Route one bridge request; every refusal is an error in the provider's shape."""
        provider = self.providers.get(name)
        shape = provider.error_shape if provider else "openai"
        if not self.config.enabled:
            return error_response(
                shape, 404,
                "AI Bridge is disabled on this server: start it with --aibridge-enabled or CODER_AIBRIDGE_ENABLED=true",
            )
        if provider is None:
            known = ", ".join(sorted(self.providers)) or "none"
            return error_response(shape, 404, f"no AI Bridge provider named {name!r} (configured: {known})")
        route = provider.route(request.method, path)
        if route is None:
            return error_response(shape, 404, f"{provider.type} provider {name!r} has no route {request.method} {path}")
        actor = self.authenticate(request)
        if actor is None:
            return error_response(shape, 401, "a valid AI Bridge token is required")
        if provider.kind.always_byok and not is_byok(request):
            # The only credential sent authenticated the person: it must not go upstream.
            return error_response(
                shape, 401,
                f"{provider.type} provider {name!r} needs your gateway token in {GOVERNANCE_HEADER} "
                f"and your own {provider.type} token in Authorization",
            )
        byok = provider.kind.always_byok or (self.config.allow_byok and is_byok(request))
        kind, api_class = route
        if kind == "intercept":
            return intercept(self, provider, path, api_class, actor, byok)
        return passthrough(self, provider, path, byok)


@bridge_blueprint.route("/api/v2/aibridge/<name>", methods=_METHODS, defaults={"subpath": ""})
@bridge_blueprint.route("/api/v2/aibridge/<name>/<path:subpath>", methods=_METHODS)
def bridge_route(name, subpath):
    return current_app.extensions["aibridge"].handle(name, "/" + subpath)
