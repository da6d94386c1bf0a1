"""Per-app state: configuration, plugins, provider instances and the upstream they share."""

from __future__ import annotations

import logging
from pathlib import Path

from .cost.book import PriceBook
from .dumps import Dumps
from .logs import Redactor, config_secrets
from .people.auth import REFUSAL_KEY, AuthLimited, TokenStoreAuth
from .people.auth_limit import FailedAuthLimit
from .plugins import collect, notify
from .providers import build_provider
from .resilience.breaker import BreakerSettings
from .resilience.clock import SystemClock
from .resilience.events import HookListener
from .resilience.limits import Limits
from .upstream import Upstream

USER_ID = "aibridge.user_id"  # WSGI environ key: who the request authenticated as (for the access log)
log = logging.getLogger("aibridge.auth")


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
        self.token_store = None
        if not pm.is_blocked("token-store"):
            self.token_store = TokenStoreAuth(config.database)
            pm.register(self.token_store, name="token-store")
        self.auth_limit = FailedAuthLimit(config.auth_failure_limit)
        self.prices = PriceBook(config.database)  # what each token record costs (docs/cost.md)
        self.prices.start()
        self.dumps = Dumps(config.dump_dir) if config.dump_dir else None  # --aibridge-dump-dir
        self._retired_dumps: list[Dumps] = []
        self._shut_down = False

    def reload(self, app, config) -> None:
        """Serve ``config`` from now on: new provider instances, then plugins' ``aibridge_reload``.

        Requests in flight keep the provider instance (and the stream) they started with.
        """
        providers = self._build_providers(config)
        self.config, self.providers = config, providers
        self.redact = Redactor(config_secrets(config))
        self.limits.configure(config.max_concurrency, config.rate_limit)
        self._reload_dumps(config)
        notify(self.pm, "aibridge_reload", app=app, config=config)

    def _reload_dumps(self, config) -> None:
        """A new dump directory takes effect for the interceptions that start from now on."""
        old = self.dumps
        if old is not None and config.dump_dir and old.directory == Path(config.dump_dir):
            return
        self.dumps = Dumps(config.dump_dir) if config.dump_dir else None
        if old is not None:
            self._retired_dumps.append(old)  # requests in flight finish their files; closed at shutdown

    def _build_providers(self, config) -> dict:
        """The instances of ``config``: new key pools and breakers (a reload starts them afresh)."""
        breakers = BreakerSettings.from_config(config)
        return {p.name: build_provider(p, self.upstream, breakers, self.listener) for p in config.providers}

    def authenticate(self, req):
        """The Actor behind a request, or None (logged with why); AuthLimited past the limit of failures."""
        address = req.remote_addr or "-"
        wait = self.auth_limit.retry_after(address)
        if wait:
            # Only a valid token seen before gets through: it costs nothing to check, and guessing gains nothing.
            actor = self.token_store.cached_actor(req) if self.token_store is not None else None
            if actor is None:
                self.auth_limit.refused(address, wait)
                raise AuthLimited("too many failed authentications from this address; retry later", wait)
        else:
            actor = self.pm.hook.aibridge_authenticate(request=req)
        if actor is None:
            check = req.environ.get(REFUSAL_KEY)
            reason = check.describe() if check is not None else "no authentication plugin accepted it"
            self.auth_limit.failed(address, check.reason if check is not None else "refused")
            log.warning("authentication refused for %s %s from %s: %s", req.method, req.path, address, reason)
        else:
            req.environ[USER_ID] = actor.id
        return actor

    def refusal(self, req, actor):
        """A plugin's Refusal of this intercepted request (the recorder's, when nothing can keep records), or None."""
        refusals = collect(self.pm, "aibridge_refuse_interception", request=req, actor=actor)
        return refusals[0] if refusals else None

    def measurements(self, app) -> list:
        """The gateway's own measurements and every plugin's."""
        from_plugins = collect(self.pm, "aibridge_measurements", app=app)
        return self.auth_limit.measurements() + [item for answer in from_plugins for item in answer]

    def readiness(self, app) -> dict:
        """What /readyz answers: the store, whether tokens can be checked, and each plugin's part (memory only)."""
        checks = [item for item in collect(self.pm, "aibridge_readiness", app=app) if isinstance(item, dict)]
        if self.token_store is not None:
            failing = self.token_store.cache.failing
            checks.insert(0, {"name": "token-store", "ready": not failing, "store": "down" if failing else "up"})
        ready = not self._shut_down and all(check.get("ready") for check in checks)
        return {"status": "ready" if ready else "not ready",
                "store": "postgresql" if self.config.postgres_url else "sqlite",
                "checks": {check.pop("name", "unnamed"): check for check in checks}}

    def notify(self, hook_name: str, **kwargs) -> None:
        notify(self.pm, hook_name, **kwargs)

    def shutdown(self, app) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        notify(self.pm, "aibridge_shutdown", app=app)  # one plugin failing must not keep the recorder from flushing
        self.prices.stop()
        self.upstream.close()
        for dumps in [*self._retired_dumps, self.dumps]:
            if dumps is not None:
                dumps.close()
        if self.config.postgres_url:
            from .db.postgres import close_pools

            close_pools()
