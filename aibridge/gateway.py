"""Per-app state: configuration, plugins, provider instances and the upstream they share."""

from __future__ import annotations

from .auth import TokenStoreAuth
from .logs import Redactor, config_secrets
from .plugins import notify
from .providers import build_provider
from .resilience.breaker import BreakerSettings
from .resilience.clock import SystemClock
from .resilience.events import HookListener
from .resilience.limits import Limits
from .upstream import Upstream

USER_ID = "aibridge.user_id"  # WSGI environ key: who the request authenticated as (for the access log)


class Gateway:
    """What the routes of one app need; ``app.extensions["aibridge"]``.

    ``clock`` is the time the resilience decisions read (tests replace it);
    ``limits`` the process's concurrency and rate limits.
    """

    def __init__(self, config, pm):
        self.config = config
        self.pm = pm
        self.redact = Redactor(config_secrets(config))  # for text that may quote a secret back (upstream errors)
        self.upstream = Upstream()
        self.clock = SystemClock()
        self.listener = HookListener(pm)
        self.limits = Limits(config.max_concurrency, config.rate_limit)
        self.providers = self._build_providers(config)
        if not pm.is_blocked("token-store"):
            pm.register(TokenStoreAuth(config.database_path), name="token-store")
        self._shut_down = False

    def reload(self, app, config) -> None:
        """Serve ``config`` from now on: new provider instances, then plugins' ``aibridge_reload``.

        Requests in flight keep the provider instance (and the stream) they started with.
        """
        providers = self._build_providers(config)
        self.config, self.providers = config, providers
        self.redact = Redactor(config_secrets(config))
        self.limits.configure(config.max_concurrency, config.rate_limit)
        notify(self.pm, "aibridge_reload", app=app, config=config)

    def _build_providers(self, config) -> dict:
        """The instances of ``config``: new key pools and breakers (a reload starts them afresh)."""
        breakers = BreakerSettings.from_config(config)
        return {p.name: build_provider(p, self.upstream, breakers, self.listener) for p in config.providers}

    def authenticate(self, req):
        actor = self.pm.hook.aibridge_authenticate(request=req)
        if actor is not None:
            req.environ[USER_ID] = actor.id
        return actor

    def notify(self, hook_name: str, **kwargs) -> None:
        notify(self.pm, hook_name, **kwargs)

    def shutdown(self, app) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self.pm.hook.aibridge_shutdown(app=app)
        self.upstream.close()
