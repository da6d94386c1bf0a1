"""Provider types (anthropic, openai, copilot) and their configured instances."""

from ..config import ProviderConfig
from .anthropic import AnthropicType
from .base import Provider, ProviderType
from .copilot import CopilotType
from .openai import OpenAIType

PROVIDER_TYPES: dict[str, ProviderType] = {
    kind.type: kind for kind in (AnthropicType(), OpenAIType(), CopilotType())
}


def build_provider(config: ProviderConfig) -> Provider:
    return Provider(config, PROVIDER_TYPES[config.type])


__all__ = ["PROVIDER_TYPES", "Provider", "ProviderType", "build_provider"]
