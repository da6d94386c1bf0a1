"""Provider fallbacks (``FALLBACK``) and model maps (``MODEL_MAP``): read, and checked at startup."""

from __future__ import annotations

from typing import Any

from .indexed import Entry
from .model import ConfigError, ProviderConfig


def parse_model_map(value: Any) -> tuple[tuple[str, str], ...]:
    """``client-model=instance-model,...`` (or a YAML mapping) as pairs; ValueError when malformed."""
    if isinstance(value, dict):
        pairs = [(str(k).strip(), str(v).strip() if v is not None else "") for k, v in value.items()]
    elif isinstance(value, str):
        pairs = [item.partition("=")[::2] for item in value.split(",") if item.strip()]
        pairs = [(client.strip(), mapped.strip()) for client, mapped in pairs]
    else:
        raise ValueError(f"expected client-model=instance-model pairs, comma separated, got {type(value).__name__}")
    for client, mapped in pairs:
        if not client or not mapped:
            raise ValueError(f"expected client-model=instance-model pairs, comma separated, got {client}={mapped!r}")
    return tuple(pairs)


def check_fallbacks(indexed: list[tuple[Entry, ProviderConfig]], providers: tuple[ProviderConfig, ...]) -> None:
    """Each FALLBACK names another instance of the same type, and following them never comes back."""
    by_name = {provider.name: provider for provider in providers}
    for entry, provider in indexed:
        target = by_name.get(provider.fallback) if provider.fallback else provider
        if target is None:
            raise ConfigError(f"{entry.label('FALLBACK')}: no provider named {provider.fallback!r} "
                              f"(configured: {', '.join(sorted(by_name))})")
        if target.type != provider.type:
            raise ConfigError(f"{entry.label('FALLBACK')}: {target.name!r} is a {target.type} provider; the fallback "
                              f"of the {provider.type} provider {provider.name!r} must be a {provider.type} provider")
    for entry, provider in indexed:
        chain, current = [provider.name], provider
        while current.fallback:
            if current.fallback in chain:
                raise ConfigError(f"{entry.label('FALLBACK')}: the fallbacks form a cycle: "
                                  f"{' -> '.join([*chain, current.fallback])}")
            chain.append(current.fallback)
            current = by_name[current.fallback]
