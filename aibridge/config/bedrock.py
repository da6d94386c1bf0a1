"""Bedrock settings of an anthropic provider: complete or a startup error."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .model import BedrockConfig, ConfigError

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def bedrock_config(fields: dict[str, Any], label: Callable[[str], str]) -> BedrockConfig:
    """Check that a Bedrock configuration is complete; ``label`` names a field's setting."""
    if not fields["region"] and not fields["base_url"]:
        raise ConfigError(f"{label('region')} or {label('base_url')} is required to use Bedrock")
    if fields["region"] and not _REGION.match(fields["region"]):
        raise ConfigError(f"{label('region')}: invalid AWS region {fields['region']!r} (e.g. us-east-1)")
    for field in ("model", "small_fast_model"):
        if not fields[field]:
            raise ConfigError(f"{label(field)} is required to use Bedrock")
    keys, secrets = fields["access_keys"], fields["access_key_secrets"]
    if len(keys) != len(secrets):
        short = "access_key_secrets" if len(keys) > len(secrets) else "access_keys"
        raise ConfigError(
            f"{label(short)}: each Bedrock access key needs its secret ({len(keys)} keys, {len(secrets)} secrets)"
        )
    base_url = fields["base_url"] or f"https://bedrock-runtime.{fields['region']}.amazonaws.com"
    return BedrockConfig(
        region=fields["region"],
        base_url=base_url.rstrip("/"),
        access_keys=keys,
        access_key_secrets=secrets,
        model=fields["model"],
        small_fast_model=fields["small_fast_model"],
    )

