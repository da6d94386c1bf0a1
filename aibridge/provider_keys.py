"""Provider instances that cannot answer anyone: no key of their own, and clients may not bring one.

Such an instance relays every request without credentials, so people see the
provider's 401 and suspect their gateway token. The server warns about each
one at start (naming the setting to set) and does not list it as ready.
"""

from __future__ import annotations

from .config import Config, ProviderConfig
from .config.options import option
from .providers import PROVIDER_TYPES

_LEGACY_KEY_OPTIONS = {"openai": "aibridge-openai-key", "anthropic": "aibridge-anthropic-key"}


def without_key(config: Config) -> list[ProviderConfig]:
    """The instances with no key while BYOK is off (copilot is always BYOK; Bedrock has AWS credentials)."""
    if config.allow_byok:
        return []
    return [p for p in config.providers
            if not p.keys and p.bedrock is None and not PROVIDER_TYPES[p.type].always_byok]  # fmt: skip


def ready(config: Config) -> list[ProviderConfig]:
    """The instances that can answer."""
    missing = {p.name for p in without_key(config)}
    return [p for p in config.providers if p.name not in missing]


def missing_key_warnings(config: Config) -> list[str]:
    """One line per instance without a key, naming it and the settings that fix it."""
    byok = option("aibridge-allow-byok").spellings[0].env
    return [
        f"provider {p.name!r} has no key and BYOK is off: its requests reach {p.base_url} without credentials "
        f"and fail there; set {key_setting(p, config)}, or {byok}=true to let clients send their own key"
        for p in without_key(config)
    ]


def key_setting(provider: ProviderConfig, config: Config) -> str:
    """The setting that gives ``provider`` its key, as its configuration names it."""
    if provider.source == "legacy":
        return option(_LEGACY_KEY_OPTIONS[provider.type]).spellings[0].env
    if "[" in provider.source:  # a YAML list entry, e.g. ai_gateway.providers[2]
        return f"{provider.source}.key in {config.config_path}"
    return f"{provider.source}_KEY"
