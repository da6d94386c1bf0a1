"""An anthropic provider instance with Bedrock settings pointing at the fake Bedrock (support/fakebedrock.py)."""

from __future__ import annotations

import pytest
from support.fakebedrock import ACCESS_KEY, REGION, SECRET_KEY, FakeBedrock

from aibridge.config import BedrockConfig, ProviderConfig

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def bedrock_provider(name: str, url: str, **overrides) -> ProviderConfig:
    """Provider ``name`` on the fake Bedrock at ``url``, with its keys and models; ``overrides``: Bedrock settings."""
    settings = dict(region=REGION, base_url=url, access_keys=(ACCESS_KEY,), access_key_secrets=(SECRET_KEY,),
                    model=SONNET, small_fast_model=HAIKU)
    settings.update(overrides)
    return ProviderConfig(type="anthropic", name=name, base_url="https://api.anthropic.com",
                          bedrock=BedrockConfig(**settings))


@pytest.fixture(scope="module")
def bedrock():
    """A fake Bedrock shared by the test module (import the fixture into it)."""
    with FakeBedrock() as fake:
        yield fake
