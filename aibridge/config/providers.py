"""Provider instances: the legacy settings and the indexed ``CODER_AI_GATEWAY_PROVIDER_<N>_*``.

Which instances exist:

- every indexed provider (``CODER_AI_GATEWAY_PROVIDER_<N>_*`` or
  ``CODER_AIBRIDGE_PROVIDER_<N>_*`` variables, or else the YAML list
  ``providers`` of the gateway's group);
- the legacy ``openai`` instance when any ``--aibridge-openai-*`` setting is
  given, and the legacy ``anthropic`` instance when any
  ``--aibridge-anthropic-*`` or ``--aibridge-bedrock-*`` setting is given;
- with no indexed provider at all, both legacy instances exist anyway (with
  their default base URLs and no key) so that the routes answer out of the box.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import values
from .bedrock import bedrock_config
from .fallbacks import check_fallbacks, parse_model_map
from .indexed import Entry, entries_from_env, entries_from_yaml
from .legacy import ANTHROPIC_SETTINGS, OPENAI_SETTINGS, given_by, legacy_providers
from .model import BedrockConfig, ConfigError, ProviderConfig
from .names import indexed_prefixes
from .options import YAML_LISTS
from .yamlfile import YamlSettings

ENV_PREFIXES = indexed_prefixes(YAML_LISTS["providers"])  # CODER_AI_GATEWAY_PROVIDER_, CODER_AIBRIDGE_PROVIDER_
TYPES = ("openai", "anthropic", "copilot")
NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "copilot": "https://api.individual.githubcopilot.com",
}

# KEY, required, meaning: the docs table is generated from this.
PROVIDER_KEYS: tuple[tuple[str, str, str], ...] = (
    ("TYPE", "yes", "`openai`, `anthropic` or `copilot`"),
    ("NAME", "no", "unique instance name used in the route; defaults to TYPE"),
    ("KEY", "no", "upstream API key"),
    ("KEYS", "no", "several upstream API keys, comma separated (instead of KEY)"),
    ("BASE_URL", "no", "upstream base URL; defaults to the type's public API"),
    ("FALLBACK", "no", "name of another instance of the same TYPE that takes this one's requests while its "
     "circuit breaker is open or none of its keys is usable"),
    ("MODEL_MAP", "no", "models renamed for this instance, `client-model=instance-model,...` "
     "(e.g. Anthropic model names to Bedrock model IDs)"),
    ("BEDROCK_REGION", "anthropic only", "AWS region: send this instance's traffic to Bedrock"),
    ("BEDROCK_BASE_URL", "anthropic only",
     "Bedrock endpoint (default `https://bedrock-runtime.<region>.amazonaws.com`)"),
    ("BEDROCK_ACCESS_KEY", "anthropic only", "AWS access key ID (else the default AWS credential chain)"),
    ("BEDROCK_ACCESS_KEYS", "anthropic only", "several access key IDs, comma separated"),
    ("BEDROCK_ACCESS_KEY_SECRET", "anthropic only", "AWS secret access key"),
    ("BEDROCK_ACCESS_KEY_SECRETS", "anthropic only", "the secrets of BEDROCK_ACCESS_KEYS, in the same order"),
    ("BEDROCK_MODEL", "with Bedrock", "Bedrock model ID for requests"),
    ("BEDROCK_SMALL_FAST_MODEL", "with Bedrock", "Bedrock model ID for requests whose model contains `haiku`"),
)  # fmt: skip
KEYS = tuple(key for key, _, _ in PROVIDER_KEYS)
BEDROCK_KEYS = tuple(key for key in KEYS if key.startswith("BEDROCK_"))


def build_providers(
    settings: Mapping[str, Any], environ: Mapping[str, str], yaml: YamlSettings
) -> tuple[ProviderConfig, ...]:
    """All provider instances, validated: legacy ones first, then the indexed ones in order."""
    entries = entries_from_env(environ, ENV_PREFIXES, KEYS) or entries_from_yaml(yaml, "providers", KEYS)
    indexed = [(entry, _indexed_provider(entry)) for entry in entries]
    _check_unique_names(indexed)
    legacy = legacy_providers(settings, have_indexed=bool(indexed))
    _check_legacy_conflicts(indexed, legacy, settings)
    providers = (*legacy, *(provider for _, provider in indexed))
    check_fallbacks(indexed, providers)
    return providers


def _indexed_provider(entry: Entry) -> ProviderConfig:
    kind = _parsed(entry, "TYPE", values.parse_str).lower()
    if not kind:
        raise ConfigError(f"{entry.label('TYPE')} is required (openai, anthropic or copilot)")
    if kind not in TYPES:
        raise ConfigError(f"{entry.label('TYPE')}: unknown provider type {kind!r} (use openai, anthropic or copilot)")
    name = _parsed(entry, "NAME", values.parse_str) or kind
    if not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{entry.label('NAME')}: invalid name {name!r} "
            "(lower-case letters and digits, words joined by single dashes, e.g. anthropic-corp)"
        )
    base_url = _parsed(entry, "BASE_URL", values.parse_url) if entry.get("BASE_URL") else DEFAULT_BASE_URLS[kind]
    bedrock_keys = [key for key in BEDROCK_KEYS if entry.has(key)]
    if bedrock_keys and kind != "anthropic":
        raise ConfigError(
            f"{entry.label(bedrock_keys[0])}: Bedrock settings apply only to anthropic providers (TYPE is {kind})"
        )
    return ProviderConfig(
        type=kind,
        name=name,
        base_url=base_url,
        keys=_key_list(entry, "KEY", "KEYS"),
        bedrock=_bedrock(entry) if bedrock_keys else None,
        source=entry.source,
        fallback=_parsed(entry, "FALLBACK", values.parse_str),
        model_map=_parsed(entry, "MODEL_MAP", parse_model_map) if entry.has("MODEL_MAP") else (),
    )


def _bedrock(entry: Entry) -> BedrockConfig:
    keys_name = "BEDROCK_ACCESS_KEYS" if entry.has("BEDROCK_ACCESS_KEYS") else "BEDROCK_ACCESS_KEY"
    secrets_name = (
        "BEDROCK_ACCESS_KEY_SECRETS" if entry.has("BEDROCK_ACCESS_KEY_SECRETS") else "BEDROCK_ACCESS_KEY_SECRET"
    )
    names = {
        "region": "BEDROCK_REGION",
        "base_url": "BEDROCK_BASE_URL",
        "access_keys": keys_name,
        "access_key_secrets": secrets_name,
        "model": "BEDROCK_MODEL",
        "small_fast_model": "BEDROCK_SMALL_FAST_MODEL",
    }
    fields = {
        "region": _parsed(entry, "BEDROCK_REGION", values.parse_str),
        "base_url": _parsed(entry, "BEDROCK_BASE_URL", values.parse_url) if entry.get("BEDROCK_BASE_URL") else "",
        "access_keys": _key_list(entry, "BEDROCK_ACCESS_KEY", "BEDROCK_ACCESS_KEYS"),
        "access_key_secrets": _key_list(entry, "BEDROCK_ACCESS_KEY_SECRET", "BEDROCK_ACCESS_KEY_SECRETS"),
        "model": _parsed(entry, "BEDROCK_MODEL", values.parse_str),
        "small_fast_model": _parsed(entry, "BEDROCK_SMALL_FAST_MODEL", values.parse_str),
    }
    return bedrock_config(fields, lambda field: entry.label(names[field]))


def _key_list(entry: Entry, single: str, plural: str) -> tuple[str, ...]:
    if entry.has(single) and entry.has(plural):
        raise ConfigError(f"{entry.label(plural)}: set either {single} or {plural}, not both")
    if entry.has(plural):
        return _parsed(entry, plural, values.parse_list)
    key = _parsed(entry, single, values.parse_str)
    return (key,) if key else ()


def _parsed(entry: Entry, key: str, parse) -> Any:
    """The parsed value of ``key`` (as if empty when absent); errors name the setting."""
    try:
        return parse(entry.get(key, ""))
    except ValueError as error:
        raise ConfigError(f"{entry.label(key)}: {error}") from None


def _check_unique_names(indexed: list[tuple[Entry, ProviderConfig]]) -> None:
    seen: dict[str, tuple[Entry, ProviderConfig]] = {}
    for entry, provider in indexed:
        if provider.name not in seen:
            seen[provider.name] = (entry, provider)
            continue
        earlier_entry, earlier = seen[provider.name]
        if not entry.has("NAME") and not earlier_entry.has("NAME"):
            raise ConfigError(
                f"{entry.where}: another {provider.type} provider ({earlier_entry.source}) already uses the "
                f"default name {provider.name!r}; set {entry.label('NAME')} to tell them apart"
            )
        raise ConfigError(
            f"{entry.label('NAME') if entry.has('NAME') else entry.where}: provider name {provider.name!r} "
            f"is already used by {earlier_entry.source}"
        )


def _check_legacy_conflicts(indexed, legacy: list[ProviderConfig], settings) -> None:
    by_name = {provider.name: entry for entry, provider in indexed}
    given = {"openai": given_by(settings, OPENAI_SETTINGS), "anthropic": given_by(settings, ANTHROPIC_SETTINGS)}
    for provider in legacy:
        if provider.name in by_name:
            raise ConfigError(
                f"{by_name[provider.name].where} and {given[provider.name]} both define the provider "
                f"{provider.name!r}; remove one of them"
            )
