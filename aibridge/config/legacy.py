"""The legacy ``openai`` and ``anthropic`` instances (``--ai-gateway-openai-*``, ``--ai-gateway-anthropic-*``).

The legacy Bedrock settings (``--ai-gateway-bedrock-*``) send the ``anthropic``
instance's traffic to Bedrock. Settings are named here by their option names
(``aibridge-openai-key``); each also has its ``ai-gateway-`` name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .bedrock import bedrock_config
from .model import BedrockConfig, ProviderConfig
from .names import PREFERRED, name_set_of
from .options import BY_NAME

OPENAI_SETTINGS = ("aibridge-openai-key", "aibridge-openai-base-url")
BEDROCK_SETTINGS = (
    "aibridge-bedrock-region",
    "aibridge-bedrock-base-url",
    "aibridge-bedrock-access-key",
    "aibridge-bedrock-access-key-secret",
    "aibridge-bedrock-model",
    "aibridge-bedrock-small-fast-model",
)
ANTHROPIC_SETTINGS = ("aibridge-anthropic-key", "aibridge-anthropic-base-url", *BEDROCK_SETTINGS)


def given_by(settings: Mapping[str, Any], names: tuple[str, ...]) -> str:
    """Where the first of these settings was given with a value ("" when none was)."""
    for name in names:
        setting = settings[name]
        if setting.source and setting.value:
            return setting.source
    return ""


def legacy_providers(settings: Mapping[str, Any], have_indexed: bool) -> list[ProviderConfig]:
    """The legacy instances that exist: those configured, or both when nothing is indexed."""
    providers = []
    if not have_indexed or given_by(settings, OPENAI_SETTINGS):
        providers.append(_openai(settings))
    if not have_indexed or given_by(settings, ANTHROPIC_SETTINGS):
        providers.append(_anthropic(settings))
    return providers


def _openai(settings) -> ProviderConfig:
    key = settings["aibridge-openai-key"].value
    return ProviderConfig(
        type="openai",
        name="openai",
        base_url=settings["aibridge-openai-base-url"].value,
        keys=(key,) if key else (),
        source="legacy",
    )


def _anthropic(settings) -> ProviderConfig:
    key = settings["aibridge-anthropic-key"].value
    return ProviderConfig(
        type="anthropic",
        name="anthropic",
        base_url=settings["aibridge-anthropic-base-url"].value,
        keys=(key,) if key else (),
        bedrock=_bedrock(settings) if given_by(settings, BEDROCK_SETTINGS) else None,
        source="legacy",
    )


def _bedrock(settings) -> BedrockConfig:
    names = {
        "region": "aibridge-bedrock-region",
        "base_url": "aibridge-bedrock-base-url",
        "access_keys": "aibridge-bedrock-access-key",
        "access_key_secrets": "aibridge-bedrock-access-key-secret",
        "model": "aibridge-bedrock-model",
        "small_fast_model": "aibridge-bedrock-small-fast-model",
    }

    # A missing setting is named in the name set the given ones use (CODER_AI_GATEWAY_ or CODER_AIBRIDGE_).
    used = next(filter(None, (name_set_of(settings[name].source) for name in names.values())), PREFERRED)

    def label(field: str) -> str:
        return settings[names[field]].source or BY_NAME[names[field]].spelling(used).env

    key = settings[names["access_keys"]].value
    secret = settings[names["access_key_secrets"]].value
    fields = {field: settings[name].value for field, name in names.items()}
    fields["access_keys"] = (key,) if key else ()
    fields["access_key_secrets"] = (secret,) if secret else ()
    return bedrock_config(fields, label)
