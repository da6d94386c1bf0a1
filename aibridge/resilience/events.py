"""Key pool and circuit breaker changes, announced through the plugins' observer hooks.

Pools and breakers call a listener; this one turns each call into a hook call
(every plugin is called, a failing one is logged and skipped). These happen
on changes only, never for a request that goes as planned.
"""

from __future__ import annotations

from ..plugins import notify


class HookListener:
    """Announces to the plugins of ``pm``."""

    def __init__(self, pm):
        self.pm = pm

    def key_state_changed(self, provider_name: str, key_hint: str, state: str, reason: str) -> None:
        notify(self.pm, "on_key_state_change", provider_name=provider_name, key_hint=key_hint, state=state,
               reason=reason)

    def key_pool_exhausted(self, provider_name: str, outcome: str) -> None:
        notify(self.pm, "on_key_pool_exhausted", provider_name=provider_name, outcome=outcome)

    def breaker_changed(self, provider_name: str, endpoint: str, model: str, state: str) -> None:
        notify(self.pm, "on_circuit_breaker_change", provider_name=provider_name, endpoint=endpoint, model=model,
               state=state)

    def breaker_rejected(self, provider_name: str, endpoint: str, model: str) -> None:
        notify(self.pm, "on_circuit_breaker_reject", provider_name=provider_name, endpoint=endpoint, model=model)
