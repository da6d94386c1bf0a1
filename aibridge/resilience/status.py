"""What each provider instance looks like now: its keys (masked), circuit breakers and fallback.

Read-only snapshots for the provider status API, ``aibridge providers`` and
the metrics plugin; nothing here changes a pool or a breaker (a cooldown or
an open breaker that ended shows as it would to the next request).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..upstream.transport import host_of
from .breaker import BreakerStatus
from .keypool import KeyStatus, mask

UNKNOWN = "unknown"  # a state only a running server knows


@dataclass(frozen=True)
class ProviderStatus:
    """One instance: ``upstream`` is the host it sends to (never a URL, which may carry credentials).

    ``breakers`` lists the circuit breakers made so far (one per endpoint and
    model requested); ``circuit_breakers`` says whether they are enabled.
    """

    name: str
    type: str
    upstream: str
    bedrock: bool
    fallback: str
    model_map: dict[str, str]
    keys: tuple[KeyStatus, ...]
    circuit_breakers: bool
    breakers: tuple[BreakerStatus, ...] = ()

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def provider_status(app) -> tuple[ProviderStatus, ...]:
    """Every provider instance of a running app, as of now."""
    gateway = app.extensions["aibridge"]
    now = gateway.clock.monotonic()
    return tuple(_running(provider, now) for provider in gateway.providers.values())


def configured_status(config) -> tuple[ProviderStatus, ...]:
    """The instances a configuration describes, with key states unknown (no server holds them)."""
    found = []
    for provider in config.providers:
        bedrock = provider.bedrock
        hints = [mask(key) for key in (bedrock.access_keys if bedrock else provider.keys)]
        found.append(ProviderStatus(
            name=provider.name, type=provider.type, upstream=host_of(bedrock.base_url if bedrock else provider.base_url),
            bedrock=bedrock is not None, fallback=provider.fallback, model_map=dict(provider.model_map),
            keys=tuple(KeyStatus(hint, UNKNOWN) for hint in hints), circuit_breakers=config.circuit_breaker_enabled,
        ))
    return tuple(found)


def _running(provider, now: float) -> ProviderStatus:
    config = provider.config
    base_url = config.bedrock.base_url if config.bedrock else config.base_url
    return ProviderStatus(
        name=provider.name, type=provider.type, upstream=host_of(base_url), bedrock=provider.bedrock is not None,
        fallback=config.fallback, model_map=dict(provider.model_map), keys=tuple(provider.pool.status(now)),
        circuit_breakers=provider.breakers is not None,
        breakers=tuple(provider.breakers.status(now)) if provider.breakers else (),
    )
